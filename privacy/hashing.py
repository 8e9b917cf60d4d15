"""Salted hashes of data-subject keys: HMAC-SHA256 with a secret only the server holds, so a
stored hash cannot be reversed by hashing guessed identifiers without the secret."""

import hashlib
import hmac

from django.conf import settings


def subject_hash(key: str) -> str:
    """The stored form of a data-subject key (surrounding whitespace ignored)."""
    secret = settings.STEWARD_SUBJECT_KEY_SECRET.encode()
    return hmac.new(secret, key.strip().encode("utf-8"), hashlib.sha256).hexdigest()
