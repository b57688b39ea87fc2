"""The chunk cipher: AES-256-GCM over an object's chunks, bound to its header and its key.

Every object gets its own AES-256 key, derived from the ring key with HKDF-SHA256 salted with
the base nonce; chunk ``i`` uses the base nonce XOR ``i``. Each chunk's associated data is the
whole header, the object's key in the store, the chunk's index and a last-chunk flag, so a
flipped byte, reordered, dropped or swapped chunks, a truncated object, a changed header, or an
object copied to another key all fail authentication (``DecryptionError``), never plaintext.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from anyio import to_thread
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..storage import DecryptionError
from .format import CHUNK_SIZE, MAX_HEADER, NONCE_SIZE, Header, parse_header
from .keyring import KEY_SIZE, Keyring

_OBJECT_KEY_INFO = b"registry-index encryption v1 object key"
_IN_THREAD = 1024 * 1024  # seal or open bytes above this size off the event loop


class MissingKeyError(DecryptionError):
    """The object was sealed with a key id the ring does not have."""

    def __init__(self, key: str, key_id: str, ring: Sequence[str]) -> None:
        have = ", ".join(ring) if ring else "none: the key ring is empty"
        super().__init__(key, f"it was encrypted with key {key_id!r}, which is not in the key ring ({have})")
        self.key_id = key_id


class ChunkCipher:
    """Seals and opens the chunks of one object (its header, under its key in the store)."""

    def __init__(self, master: bytes, header: Header, object_key: str) -> None:
        subkey = HKDF(hashes.SHA256(), KEY_SIZE, header.nonce, _OBJECT_KEY_INFO).derive(master)
        self._aead = AESGCM(subkey)
        self.header = header
        self.object_key = object_key
        encoded = object_key.encode()
        self._prefix = header.raw + len(encoded).to_bytes(4, "big") + encoded
        self._base = int.from_bytes(header.nonce, "big")

    def _nonce(self, index: int) -> bytes:
        return (self._base ^ index).to_bytes(NONCE_SIZE, "big")

    def _ad(self, index: int) -> bytes:
        last = b"\x01" if index == self.header.chunks - 1 else b"\x00"
        return self._prefix + index.to_bytes(8, "big") + last

    def seal(self, index: int, plaintext: bytes) -> bytes:
        return self._aead.encrypt(self._nonce(index), plaintext, self._ad(index))

    def open(self, index: int, sealed: bytes) -> bytes:
        if index >= self.header.chunks:
            raise DecryptionError(self.object_key, "more chunks than the header declares")
        try:
            return self._aead.decrypt(self._nonce(index), sealed, self._ad(index))
        except InvalidTag:
            raise DecryptionError(
                self.object_key,
                f"chunk {index} failed authentication (tampered, truncated, moved from another key, "
                f"or key {self.header.key_id!r} in the ring is not the key that encrypted it)",
            ) from None


class ChunkSealer:
    """Feed plaintext in any pieces, get sealed bytes out; the total size is declared up front."""

    def __init__(self, master: bytes, key_id: str, object_key: str, plain_size: int, chunk_size: int):
        self.header = Header.new(key_id, plain_size, chunk_size)
        self._cipher = ChunkCipher(master, self.header, object_key)
        self._buf = bytearray()
        self._index = 0
        self._fed = 0

    def start(self) -> bytes:
        return self.header.raw

    def feed(self, data: bytes) -> bytes:
        self._fed += len(data)
        if self._fed > self.header.plain_size:
            raise ValueError("more plaintext than declared (the file changed while being read)")
        self._buf += data
        out = []
        size = self.header.chunk_size
        # Keep the last chunk back until finish(): it carries the last-chunk flag.
        while len(self._buf) > size or (len(self._buf) == size and self._fed < self.header.plain_size):
            out.append(self._cipher.seal(self._index, bytes(self._buf[:size])))
            del self._buf[:size]
            self._index += 1
        return b"".join(out)

    def finish(self) -> bytes:
        if self._fed != self.header.plain_size:
            raise ValueError("less plaintext than declared (the file changed while being read)")
        out = []
        size = self.header.chunk_size
        while self._index < self.header.chunks:
            out.append(self._cipher.seal(self._index, bytes(self._buf[:size])))
            del self._buf[:size]
            self._index += 1
        return b"".join(out)


def seal_bytes(data: bytes, object_key: str, keyring: Keyring, chunk_size: int = CHUNK_SIZE) -> bytes:
    key_id, master = keyring.newest
    sealer = ChunkSealer(master, key_id, object_key, len(data), chunk_size)
    return sealer.start() + sealer.feed(data) + sealer.finish()


def cipher_for(header: Header, object_key: str, keyring: Keyring) -> ChunkCipher:
    master = keyring.get(header.key_id)
    if master is None:
        raise MissingKeyError(object_key, header.key_id, keyring.ids)
    return ChunkCipher(master, header, object_key)


def open_bytes(data: bytes, object_key: str, keyring: Keyring) -> bytes:
    """The plaintext of a stored object: decrypted if it carries the magic, else as it is."""
    header = parse_header(data[:MAX_HEADER], object_key)
    if header is None:
        return data
    cipher = cipher_for(header, object_key, keyring)
    if len(data) < header.stored_size:
        raise DecryptionError(object_key, "the object is truncated")
    if len(data) > header.stored_size:
        raise DecryptionError(object_key, "the object has data after its last chunk")
    view = memoryview(data)
    parts = []
    for index in range(header.chunks):
        start, end = header.stored_chunk(index)
        parts.append(cipher.open(index, bytes(view[start:end])))
    return b"".join(parts)


def seal_file(src: Path, dst: BinaryIO, object_key: str, keyring: Keyring, chunk_size: int) -> int:
    """Seal ``src`` into ``dst`` reading it once, in pieces; returns the plaintext size."""
    key_id, master = keyring.newest
    with open(src, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        sealer = ChunkSealer(master, key_id, object_key, size, chunk_size)
        dst.write(sealer.start())
        while piece := fh.read(chunk_size * 4):
            dst.write(sealer.feed(piece))
        dst.write(sealer.finish())
    dst.flush()
    return size


async def seal_bytes_async(data: bytes, object_key: str, keyring: Keyring, chunk_size: int) -> bytes:
    """``seal_bytes``, off the event loop when the data is large enough to stall it."""
    if len(data) > _IN_THREAD:
        return await to_thread.run_sync(seal_bytes, data, object_key, keyring, chunk_size)
    return seal_bytes(data, object_key, keyring, chunk_size)


async def open_bytes_async(data: bytes, object_key: str, keyring: Keyring) -> bytes:
    """``open_bytes``, off the event loop when the data is sealed and large."""
    if parse_header(data[:MAX_HEADER], object_key) is None:
        return data
    if len(data) > _IN_THREAD:
        return await to_thread.run_sync(open_bytes, data, object_key, keyring)
    return open_bytes(data, object_key, keyring)
