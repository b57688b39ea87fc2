"""The byte format of an encrypted object: a header followed by sealed chunks (docs/encryption.md).

::

    magic        8 bytes   b"\\x89RIENC\\r\\n"
    version      1 byte    1
    key id       1 byte length + 1..64 ASCII bytes: which key of the ring sealed it
    base nonce   12 bytes  random per object
    chunk size   4 bytes   big-endian, plaintext bytes per chunk (64 KiB)
    plain size   8 bytes   big-endian, plaintext bytes in the object
    chunks       ceil(plain size / chunk size) of them, at least one (an empty object has one
                 empty chunk), each its ciphertext followed by its 16-byte GCM tag

Objects without the magic are read as they are, so encryption can be switched on over an
existing store. How chunks are sealed is cipher.py's business; this module only lays out
and parses bytes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..storage import DecryptionError

MAGIC = b"\x89RIENC\r\n"
VERSION = 1
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
NONCE_SIZE = 12
MAX_KEY_ID = 64
MAX_HEADER = len(MAGIC) + 2 + MAX_KEY_ID + NONCE_SIZE + 4 + 8
MAX_CHUNK_SIZE = 16 * 1024 * 1024  # a crafted header must not make a reader buffer gigabytes


@dataclass(frozen=True, slots=True)
class Header:
    key_id: str
    nonce: bytes
    chunk_size: int
    plain_size: int
    raw: bytes = b""

    @classmethod
    def new(cls, key_id: str, plain_size: int, chunk_size: int = CHUNK_SIZE) -> Header:
        nonce = secrets.token_bytes(NONCE_SIZE)
        kid = key_id.encode("ascii")
        raw = b"".join(
            (
                MAGIC,
                bytes((VERSION, len(kid))),
                kid,
                nonce,
                chunk_size.to_bytes(4, "big"),
                plain_size.to_bytes(8, "big"),
            )
        )
        return cls(key_id, nonce, chunk_size, plain_size, raw)

    @property
    def length(self) -> int:
        return len(self.raw)

    @property
    def chunks(self) -> int:
        return max(1, -(-self.plain_size // self.chunk_size))

    @property
    def stored_size(self) -> int:
        return self.length + self.plain_size + self.chunks * TAG_SIZE

    def stored_chunk(self, index: int) -> tuple[int, int]:
        """Where chunk ``index`` (ciphertext and tag) lies in the stored object: [start, end)."""
        start = self.length + index * (self.chunk_size + TAG_SIZE)
        plain = min(self.chunk_size, self.plain_size - index * self.chunk_size)
        return start, start + plain + TAG_SIZE


def near_magic(prefix: bytes) -> bool:
    """Whether bytes start with the magic or all but two of its bytes: meant to be sealed.

    A byte flipped in the magic must not turn a sealed object into "plaintext" that would be
    served as it is; no plaintext the index stores (zip, gzip, JSON, email headers) comes close.
    """
    head = prefix[: len(MAGIC)]
    return len(head) == len(MAGIC) and sum(a == b for a, b in zip(head, MAGIC, strict=True)) >= 6


def parse_header(data: bytes, key: str) -> Header | None:
    """The header at the start of ``data``; None for an object stored in plaintext."""
    if not data.startswith(MAGIC):
        if near_magic(data):
            raise DecryptionError(key, "the header is corrupt (magic)")
        return None
    pos = len(MAGIC)
    if len(data) < pos + 2:
        raise DecryptionError(key, "the header is truncated")
    version, kid_len = data[pos], data[pos + 1]
    if version != VERSION:
        raise DecryptionError(key, f"unknown format version {version} (this release reads {VERSION})")
    if not 1 <= kid_len <= MAX_KEY_ID:
        raise DecryptionError(key, "the header is corrupt (key id length)")
    pos += 2
    end = pos + kid_len + NONCE_SIZE + 12
    if len(data) < end:
        raise DecryptionError(key, "the header is truncated")
    try:
        key_id = data[pos : pos + kid_len].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError(key, "the header is corrupt (key id)") from None
    pos += kid_len
    nonce = data[pos : pos + NONCE_SIZE]
    pos += NONCE_SIZE
    chunk_size = int.from_bytes(data[pos : pos + 4], "big")
    plain_size = int.from_bytes(data[pos + 4 : pos + 12], "big")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise DecryptionError(key, "the header is corrupt (chunk size)")
    return Header(key_id, nonce, chunk_size, plain_size, bytes(data[:end]))
