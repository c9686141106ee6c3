"""Where a webhook may be sent: https to public addresses on port 443, unless
PDI_WEBHOOK_ALLOW_PRIVATE.

Checked when an endpoint is created or changed, and again at every connection: the name is
resolved, every address it gives is checked, and the request goes to the address checked (the
name kept for the Host header and TLS), so a name that resolves elsewhere later (DNS rebinding)
cannot reach the internal network. A refusal never says what a name resolved to: the owner of an
endpoint must not learn the internal network's addresses by trying names.
"""

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import idna

from app.core.text import CONTROL_CHARACTERS

# Ports a public receiver listens on; any other could be an internal service's on a public address.
PUBLIC_PORTS = (443, 80)
# Not global whatever Python's `is_global` says: site-local (deprecated, still routed inside some
# networks), 6to4 and Teredo (tunnels that carry an IPv4 address, private ones included).
NON_PUBLIC_NETWORKS = tuple(
    ipaddress.ip_network(network) for network in ("fec0::/10", "2002::/16", "2001::/32", "64:ff9b:1::/48")
)
# Name resolution has no timeout of its own: it runs on these threads, awaited for the attempt's
# remaining time, so that a slow resolver cannot hold a delivery thread past its deadline.
_resolvers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-resolve")


class AddressRefused(Exception):
    """The URL may not be called: its shape, its port, or an address its host resolves to."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # ASCII (an IDN host in punycode)
    port: int
    address: str  # the checked IP the connection goes to


def ascii_host(host: str) -> str:
    """The host as DNS and the Host header carry it: an internationalised name in punycode."""
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AddressRefused("the URL's host is not a valid internationalised domain name") from exc


def normalised(url: str) -> str:
    """The URL with its host in punycode (what is stored is what is requested)."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.hostname.isascii():
        return url
    netloc = ascii_host(parts.hostname) + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def where(url: str) -> str:
    """The scheme and host of a URL, for logs: its path and query may carry a receiver's token."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or '?'}"
    except ValueError:
        return "an unreadable URL"


def check_url_shape(url: str, *, allow_private: bool) -> None:
    """The checks that need no resolution: characters, scheme, host, port, no credentials; a
    literal IP checked."""
    if CONTROL_CHARACTERS.search(url) or any(character.isspace() for character in url):
        raise AddressRefused("the URL contains control characters or spaces")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port out of range
    except ValueError as exc:
        raise AddressRefused("the URL is malformed or its port is not a number between 0 and 65535") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise AddressRefused(f"the URL must use {' or '.join(schemes)}")
    if not parts.hostname:
        raise AddressRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("the URL may not carry credentials")
    if not allow_private and port is not None and port not in PUBLIC_PORTS:
        raise AddressRefused(f"the URL's port must be one of {', '.join(map(str, PUBLIC_PORTS))}")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        ascii_host(parts.hostname)
        return
    if not _allowed(literal, allow_private=allow_private):
        raise AddressRefused(f"{literal} is not an address a webhook can be sent to")


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return False
    if allow_private:
        return True
    return address.is_global and not any(address in network for network in NON_PUBLIC_NETWORKS)


def resolve(url: str, *, allow_private: bool, timeout: float | None = None) -> Target:
    """The URL's host resolved within `timeout` seconds, every address checked; the first one to
    connect to."""
    check_url_shape(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = ascii_host(parts.hostname)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    lookup = _resolvers.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=timeout)
    except FutureTimeout as exc:
        raise AddressRefused(f"{host} did not resolve in time") from exc
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"{host} does not resolve") from exc
    addresses = [ipaddress.ip_address(sockaddr[0].split("%")[0]) for *_rest, sockaddr in infos]
    if not addresses:
        raise AddressRefused(f"{host} does not resolve")
    if not all(_allowed(address, allow_private=allow_private) for address in addresses):
        raise AddressRefused(f"{host} resolves to a private, loopback or otherwise non-public address")
    return Target(scheme=parts.scheme, host=host, port=port, address=str(addresses[0]))
