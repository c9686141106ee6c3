"""Secrets: API keys and the pseudonymisation of beneficiaries' file numbers."""

import hashlib
import hmac
import secrets
import unicodedata

API_KEY_PREFIX = "pdi_"

# Invisible characters a copy and paste brings along that are not format characters (Cf, removed
# by category: zero-width space and joiners, BOM, soft hyphen, bidirectional marks): the
# combining grapheme joiner, the Hangul fillers, the Khmer inherent vowels.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def normalised_ref(ref: str) -> str:
    """A file number as one person has one: compatibility forms folded (NFKC: full-width digits,
    a decomposed accent), invisible characters removed, case folded and written in capitals,
    surrounding spaces removed (inner ones kept). An ordinary number ("123456a", " Dossier-É ")
    reads as it always did (its capitals, stripped), so its stored hash stays the same."""
    text = unicodedata.normalize("NFKC", ref)
    text = "".join(char for char in text if char not in _INVISIBLE and unicodedata.category(char) != "Cf")
    return unicodedata.normalize("NFKC", text.casefold().upper()).strip()


def pseudonymise(ref: str, *, secret: str) -> str:
    """Keyed hash of a beneficiary's file number (normalised_ref): the same person always gets
    the same value, and without the server secret the value cannot be traced back to the number."""
    return hmac.new(secret.encode(), normalised_ref(ref).encode(), hashlib.sha256).hexdigest()
