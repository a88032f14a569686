"""Encryption of personal data at rest and the keyed hashes (blind indexes) that find it.

Fernet is AES-128-CBC with HMAC-SHA256 (authenticated). MultiFernet encrypts with the first key
and decrypts with any, which is what key rotation needs: add a new key in front, run
`hotline keys rotate`, then drop the old key.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class PersonalDataCipher:
    def __init__(self, keys: list[str], blind_index_key: str) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "an encryption key is not a valid Fernet key (32 url-safe base64 bytes); "
                "make one with `hotline keys generate`"
            ) from exc
        self._blind_key = blind_index_key.encode()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise RuntimeError(
                "stored personal data cannot be decrypted with the configured keys"
            ) from exc

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")

    def blind_index(self, *parts: str) -> str:
        """A keyed hash: equal inputs match, but the value reveals nothing without the key."""
        message = "\x1f".join(parts).encode()
        return hmac.new(self._blind_key, message, hashlib.sha256).hexdigest()


_cipher: PersonalDataCipher | None = None


def configure_cipher(cipher: PersonalDataCipher) -> None:
    global _cipher
    _cipher = cipher


def get_cipher() -> PersonalDataCipher:
    if _cipher is None:
        raise RuntimeError("personal-data encryption is not configured")
    return _cipher


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")
