"""Webhook secrets: generated in the Standard Webhooks format, stored encrypted.

The worker signs every delivery with the endpoint's secret, so the service must be able to read
it again: a hash (as for API keys) would not do. It is stored as a Fernet token (AES-128-CBC and
HMAC-SHA256, from `cryptography`) under a key derived from PDI_SECRET_KEY by HKDF-SHA256 with
its own `info`, so that the pseudonymisation key is never used as is for a second purpose, and a
copy of the database alone reveals no secret.
"""

import base64
import secrets as random
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks: between 24 and 64 bytes
_INFO = b"catalogue-pdi webhook secrets v1"


def new_secret() -> str:
    return PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode()


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str, *, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def decrypt(token: str, *, secret_key: str) -> str:
    return _fernet(secret_key).decrypt(token.encode()).decode()
