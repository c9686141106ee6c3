"""Secrets: API keys and the pseudonymisation of beneficiaries' file numbers."""

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "pdi_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def pseudonymise(ref: str, *, secret: str) -> str:
    """Keyed hash of a beneficiary's file number: the same person always gets the same value,
    and without the server secret the value cannot be traced back to the number."""
    normalised = ref.strip().upper()
    return hmac.new(secret.encode(), normalised.encode(), hashlib.sha256).hexdigest()
