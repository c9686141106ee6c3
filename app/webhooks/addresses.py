"""Where a webhook may be sent: https to public addresses only, unless PDI_WEBHOOK_ALLOW_PRIVATE.

Checked when an endpoint is created or changed, and again at every connection: the name is
resolved, every address it gives is checked, and the request goes to the address checked (the
name kept for the Host header and TLS), so a name that resolves elsewhere later (DNS rebinding)
cannot reach the internal network.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


class AddressRefused(Exception):
    """The URL may not be called: its scheme, or an address its host resolves to."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str  # the checked IP the connection goes to


def check_url_shape(url: str, *, allow_private: bool) -> None:
    """The checks that need no resolution: scheme, host, no credentials; a literal IP checked."""
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise AddressRefused(f"the URL must use {' or '.join(schemes)}")
    if not parts.hostname:
        raise AddressRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("the URL may not carry credentials")
    try:
        _ = parts.port  # raises on a port out of range
    except ValueError as exc:
        raise AddressRefused("the URL's port is not a number between 0 and 65535") from exc
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    _check_address(literal, allow_private=allow_private)


def _check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        raise AddressRefused(f"{address} is not an address a webhook can be sent to")
    if not allow_private and not address.is_global:
        raise AddressRefused(f"{address} is a private, loopback or otherwise non-public address")


def resolve(url: str, *, allow_private: bool) -> Target:
    """The URL's host resolved, every address checked; the first one to connect to."""
    check_url_shape(url, allow_private=allow_private)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"{parts.hostname} does not resolve") from exc
    addresses = []
    for *_rest, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        _check_address(address, allow_private=allow_private)
        addresses.append(address)
    if not addresses:
        raise AddressRefused(f"{parts.hostname} does not resolve")
    return Target(scheme=parts.scheme, host=parts.hostname, port=port, address=str(addresses[0]))
