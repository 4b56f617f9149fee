"""Secrets sealed before they reach Redis, and so its replicas and backups.

OAuth mode keeps each Slack workspace's tokens in Redis. They are sealed with Fernet
(AES-128-CBC with HMAC-SHA256, from the `cryptography` package) under a key derived from
``NEWSBOT_SECRET_KEY``, which lives only in the environment: whoever reads Redis or a
backup without it reads nothing useful, and a sealed value that was altered, or sealed
under another key, does not open.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SealError(Exception):
    """A sealed value that does not open: altered, or sealed under another key."""


class Sealer:
    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(b"newsbot sealed values\0" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SealError(
                "a sealed value does not open: NEWSBOT_SECRET_KEY is not the key it was "
                "sealed with, or the value was altered"
            ) from None
