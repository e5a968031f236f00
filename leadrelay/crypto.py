"""Secrets at rest (platform tokens, destination credentials): Fernet, keyed by LEADRELAY_SECRET_KEY."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("LEADRELAY_SECRET_KEY is empty: generate one with `leadrelay keys secret`")
        try:
            self._fernet = Fernet(key.encode())
        except ValueError:
            raise ValueError("LEADRELAY_SECRET_KEY is not a Fernet key (32 url-safe base64 bytes)") from None

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise ValueError("a stored secret cannot be decrypted: LEADRELAY_SECRET_KEY changed?") from None


def generate_key() -> str:
    return Fernet.generate_key().decode()
