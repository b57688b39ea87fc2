"""The key ring: named 256-bit keys, oldest first, as the operator gives them (ID:BASE64KEY)."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .format import MAX_KEY_ID

KEY_SIZE = 32
# The header stores the id as 1..MAX_KEY_ID ASCII bytes; only these characters go in it.
_KEY_ID = re.compile(rf"^[A-Za-z0-9._-]{{1,{MAX_KEY_ID}}}$")


class KeyringError(ValueError):
    pass


class Keyring:
    """Named 256-bit keys, oldest first: the last one seals new writes, any of them opens."""

    def __init__(self, keys: Iterable[tuple[str, bytes]] = ()) -> None:
        self._keys: dict[str, bytes] = {}
        for key_id, key in keys:
            if not _KEY_ID.match(key_id):
                raise KeyringError(f"key id {key_id!r}: use 1-64 letters, digits, '.', '_' or '-'")
            if len(key) != KEY_SIZE:
                raise KeyringError(f"key {key_id!r} has {len(key)} bytes; AES-256 needs {KEY_SIZE}")
            if key_id in self._keys:
                raise KeyringError(f"key id {key_id!r} appears twice in the key ring")
            self._keys[key_id] = bytes(key)

    def __repr__(self) -> str:  # never the keys themselves
        return f"Keyring({self.ids})"

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    @property
    def newest(self) -> tuple[str, bytes]:
        if not self._keys:
            raise KeyringError("the key ring is empty")
        key_id = next(reversed(self._keys))
        return key_id, self._keys[key_id]

    def get(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def derive(self, purpose: bytes) -> list[tuple[str, bytes]]:
        """One independent key per ring key for another use (SSE-C), oldest first.

        The S3 server sees SSE-C keys; deriving them keeps it from ever seeing a ring key.
        """
        return [
            (key_id, HKDF(hashes.SHA256(), KEY_SIZE, None, purpose).derive(key))
            for key_id, key in self._keys.items()
        ]

    @classmethod
    def parse(cls, text: str, source: str = "the key ring") -> Keyring:
        """``ID:BASE64KEY`` entries separated by newlines or commas; ``#`` starts a comment."""
        entries: list[tuple[str, bytes]] = []
        for line in text.splitlines():
            line = line.split("#", 1)[0]
            for item in line.split(","):
                item = item.strip()
                if not item:
                    continue
                key_id, sep, b64 = item.partition(":")
                if not sep:
                    raise KeyringError(f"{source}: expected ID:BASE64KEY, got {_redact(item)!r}")
                try:
                    key = base64.b64decode(b64.strip() + "=" * (-len(b64.strip()) % 4), b"-_", validate=True)
                except (binascii.Error, ValueError):
                    raise KeyringError(f"{source}: key {key_id.strip()!r} is not valid base64") from None
                entries.append((key_id.strip(), key))
        try:
            return cls(entries)
        except KeyringError as exc:
            raise KeyringError(f"{source}: {exc}") from None


def _redact(item: str) -> str:
    return item if len(item) < 12 else item[:6] + "…"


def generate_key_line(key_id: str | None = None) -> str:
    """A new ring entry, ``ID:BASE64KEY``; the id defaults to the date and a random suffix."""
    key_id = key_id or f"k{time.strftime('%Y%m%d', time.gmtime())}-{secrets.token_hex(3)}"
    line = f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_SIZE)).decode()}"
    Keyring.parse(line)  # validates the id
    return line
