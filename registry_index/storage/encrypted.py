"""Encryption at rest: a Storage wrapper that seals object bodies with AES-256-GCM, in chunks.

The format (documented in docs/encryption.md) is a header followed by sealed chunks::

    magic        8 bytes   b"\\x89RIENC\\r\\n"
    version      1 byte    1
    key id       1 byte length + 1..64 ASCII bytes: which key of the ring sealed it
    base nonce   12 bytes  random per object
    chunk size   4 bytes   big-endian, plaintext bytes per chunk (64 KiB)
    plain size   8 bytes   big-endian, plaintext bytes in the object
    chunks       ceil(plain size / chunk size) of them, at least one (an empty object has one
                 empty chunk), each its ciphertext followed by its 16-byte GCM tag

Every object gets its own AES-256 key, derived from the ring key with HKDF-SHA256 salted with
the base nonce; chunk ``i`` uses the base nonce XOR ``i``. Each chunk's associated data is the
whole header, the object's key in the store, the chunk's index and a last-chunk flag, so a
flipped byte, reordered, dropped or swapped chunks, a truncated object, a changed header, or an
object copied to another key all fail authentication (``DecryptionError``), never plaintext.

Objects without the magic are read as they are, so encryption can be switched on over an
existing store; ``rekey`` then seals them. What is encrypted on write is the ``Selector``'s
choice; reads decrypt whatever carries the magic, whatever the selector says now.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import anyio
from anyio import to_thread
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from packaging.utils import canonicalize_name

from .base import (
    Blob,
    DecryptionError,
    ObjectConflict,
    ObjectInfo,
    ObjectNotFound,
    PresignUnavailable,
    Storage,
    StorageError,
)
from .capabilities import (
    SupportsConditionalWrites,
    SupportsHealthCheck,
    SupportsPresign,
    SupportsServerSideEncryption,
    SupportsStaleUploadCleanup,
)

MAGIC = b"\x89RIENC\r\n"
VERSION = 1
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
NONCE_SIZE = 12
KEY_SIZE = 32
MAX_KEY_ID = 64
MAX_HEADER = len(MAGIC) + 2 + MAX_KEY_ID + NONCE_SIZE + 4 + 8
MAX_CHUNK_SIZE = 16 * 1024 * 1024  # a crafted header must not make a reader buffer gigabytes
SMALL_OBJECT = 8 * 1024 * 1024  # rekey rewrites objects up to this size in memory, with If-Match
_IN_THREAD = 1024 * 1024  # seal or open bytes above this size off the event loop
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_OBJECT_KEY_INFO = b"registry-index encryption v1 object key"


class MissingKeyError(DecryptionError):
    """The object was sealed with a key id the ring does not have."""

    def __init__(self, key: str, key_id: str, ring: Sequence[str]) -> None:
        have = ", ".join(ring) if ring else "none: the key ring is empty"
        super().__init__(key, f"it was encrypted with key {key_id!r}, which is not in the key ring ({have})")
        self.key_id = key_id


class KeyringError(ValueError):
    pass


# -- the key ring and the selector -----------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Selector:
    """Which objects new writes encrypt: everything, or some projects' files and sidecars."""

    everything: bool = False
    projects: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Selector:
        """``all``, ``PROJECT,PROJECT...`` (names are normalized), or empty for nothing."""
        names = [part.strip() for part in text.split(",") if part.strip()]
        if names == ["all"]:
            return cls(everything=True)
        if "all" in names:
            raise ValueError("--encrypt: 'all' cannot be combined with project names")
        return cls(projects=frozenset(canonicalize_name(n) for n in names))

    def __bool__(self) -> bool:
        return self.everything or bool(self.projects)

    def covers(self, key: str) -> bool:
        if self.everything:
            return True
        if not self.projects:
            return False
        top, _, rest = key.partition("/")
        if top == "files":
            return rest.partition("/")[0] in self.projects
        if top == "projects" and rest.endswith(".json"):
            return rest.removesuffix(".json") in self.projects
        return False

    def describe(self) -> str:
        return "all" if self.everything else ",".join(sorted(self.projects)) or "nothing"


# -- the format ------------------------------------------------------------------------------


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


def _seal_file(src: Path, dst: BinaryIO, object_key: str, keyring: Keyring, chunk_size: int) -> int:
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


async def _close(iterator: AsyncIterator[bytes]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


# -- the wrapper -----------------------------------------------------------------------------


@dataclass
class RekeyReport:
    examined: int = 0
    rewritten: int = 0
    unchanged: int = 0
    gone: int = 0
    failed: list[str] = field(default_factory=list)
    key_ids: Counter[str] = field(default_factory=Counter)  # after the run; "plain" for plaintext


class EncryptedStorage:
    """Any Storage, with object bodies encrypted at rest; ETags and conditions pass through.

    ``head`` and ``put_file`` report plaintext sizes; ``list`` reports stored sizes (reading
    every header to list would cost a request per object).
    """

    def __init__(
        self,
        inner: Storage,
        keyring: Keyring,
        selector: Selector,
        *,
        chunk_size: int = CHUNK_SIZE,
        tmp_dir: Path | str | None = None,
    ) -> None:
        if selector and not len(keyring):
            raise KeyringError("encryption is switched on (--encrypt) but the key ring is empty")
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk size {chunk_size} out of range")
        self.inner = inner
        self.keyring = keyring
        self.selector = selector
        self.chunk_size = chunk_size
        self.tmp_dir = tmp_dir
        if isinstance(inner, SupportsConditionalWrites):
            # Sealing changes bodies, never conditions: the inner store's guarantee is ours.
            # Declared only then, so isinstance against the capability says the same as inner.
            self.conditional_writes = inner.conditional_writes

    def __repr__(self) -> str:
        return f"EncryptedStorage({self.inner!r}, {self.keyring!r}, encrypt={self.selector.describe()})"

    def encrypts(self, key: str) -> bool:
        """Whether a new write to ``key`` is encrypted."""
        return self.selector.covers(key)

    def _must_seal(self, key: str, prefix: bytes) -> bool:
        if self.selector.covers(key):
            return True
        if near_magic(prefix):
            # Plaintext that looks like our header would be misread later: seal it, whatever
            # the selector says, or refuse when there is no key to seal it with.
            if not len(self.keyring):
                raise StorageError(
                    f"refusing to store {key!r}: its plaintext starts like an encrypted object"
                )
            return True
        return False

    async def _seal(self, key: str, data: bytes) -> bytes:
        if len(data) > _IN_THREAD:
            return await to_thread.run_sync(seal_bytes, data, key, self.keyring, self.chunk_size)
        return seal_bytes(data, key, self.keyring, self.chunk_size)

    async def _open(self, key: str, data: bytes) -> bytes:
        if parse_header(data[:MAX_HEADER], key) is None:
            return data
        if len(data) > _IN_THREAD:
            return await to_thread.run_sync(open_bytes, data, key, self.keyring)
        return open_bytes(data, key, self.keyring)

    async def peek(self, key: str) -> Header | None:
        """The object's header, or None if it is stored in plaintext (one small ranged read)."""
        try:
            data = b"".join([chunk async for chunk in self.inner.stream(key, 0, MAX_HEADER)])
        except ObjectNotFound:
            raise
        except StorageError:
            # S3 refuses any range of an empty object (416); an empty object is no header.
            if (await self.inner.head(key)).size == 0:
                return None
            raise
        return parse_header(data, key)

    # -- reads ---------------------------------------------------------------------------

    async def get(self, key: str) -> Blob:
        blob = await self.inner.get(key)
        return Blob(await self._open(key, blob.data), blob.etag)

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        blob = await self.inner.get_if_changed(key, etag)
        return None if blob is None else Blob(await self._open(key, blob.data), blob.etag)

    async def head(self, key: str) -> ObjectInfo:
        info = await self.inner.head(key)
        if info.size < len(MAGIC):
            return info
        header = await self.peek(key)
        if header is None:
            return info
        return ObjectInfo(key, header.plain_size, info.etag, info.modified)

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        if start == 0 and end is None:
            async for piece in self._stream_whole(key):
                yield piece
            return
        # A range needs the header first, then the chunks: two reads, between which `rekey` may
        # rewrite the object. The mismatch shows at once (the first chunk fails authentication,
        # or a plain object turns out sealed), before anything is yielded: read again then.
        for attempt in range(3):
            last_try = attempt == 2
            header = await self.peek(key)
            if header is None:
                source = self.inner.stream(key, start, end)
                try:
                    first = await anext(source, None)
                    if self.selector.covers(key) and await self.peek(key) is not None:
                        if last_try:  # sealed by a rekey while we read it, again and again
                            raise DecryptionError(key, "the object kept changing while it was read")
                        continue
                    if first is not None:
                        yield first
                        async for chunk in source:
                            yield chunk
                    return
                finally:
                    await _close(source)
            yielded = False
            try:
                async for piece in self._stream_range(key, header, start, end):
                    yielded = True
                    yield piece
                return
            except MissingKeyError:
                raise
            except DecryptionError:
                if yielded or last_try:
                    raise

    async def _stream_whole(self, key: str) -> AsyncIterator[bytes]:
        """One read from the start: the object's bytes come from a single version of it."""
        source = self.inner.stream(key)
        try:
            buf = bytearray()
            async for chunk in source:
                buf += chunk
                if len(buf) >= MAX_HEADER:
                    break
            header = parse_header(bytes(buf[:MAX_HEADER]), key)
            if header is None:
                if buf:
                    yield bytes(buf)
                async for chunk in source:
                    yield chunk
                return
            cipher = cipher_for(header, key, self.keyring)
            del buf[: header.length]
            async for piece in self._open_chunks(cipher, source, buf, 0, header.chunks - 1):
                yield piece
            if buf or await anext(source, None) is not None:
                raise DecryptionError(key, "the object has data after its last chunk")
        finally:
            await _close(source)

    async def _stream_range(
        self, key: str, header: Header, start: int, end: int | None
    ) -> AsyncIterator[bytes]:
        end = header.plain_size if end is None else min(end, header.plain_size)
        if start >= end:
            return
        cipher = cipher_for(header, key, self.keyring)
        first, last = start // header.chunk_size, (end - 1) // header.chunk_size
        lo, _ = header.stored_chunk(first)
        _, hi = header.stored_chunk(last)
        source = self.inner.stream(key, lo, hi)
        try:
            offset = first * header.chunk_size
            async for plain in self._open_chunks(cipher, source, bytearray(), first, last):
                a, b = max(start - offset, 0), min(end - offset, len(plain))
                offset += len(plain)
                yield plain if (a, b) == (0, len(plain)) else plain[a:b]
        finally:
            await _close(source)

    @staticmethod
    async def _open_chunks(
        cipher: ChunkCipher, source: AsyncIterator[bytes], buf: bytearray, first: int, last: int
    ) -> AsyncIterator[bytes]:
        """Decrypt chunks first..last from ``buf`` and then ``source``; memory stays one chunk."""
        for index in range(first, last + 1):
            lo, hi = cipher.header.stored_chunk(index)
            size = hi - lo
            while len(buf) < size:
                chunk = await anext(source, None)
                if chunk is None:
                    raise DecryptionError(cipher.object_key, f"the object is truncated (in chunk {index})")
                buf += chunk
            plain = cipher.open(index, bytes(buf[:size]))
            del buf[:size]
            yield plain

    # -- writes --------------------------------------------------------------------------

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        if self._must_seal(key, data[: len(MAGIC)]):
            data = await self._seal(key, data)
        return await self.inner.put(key, data, create_only=create_only, if_match=if_match)

    async def put_file(self, key: str, path: Path, *, create_only: bool = False) -> ObjectInfo:
        prefix = await to_thread.run_sync(_read_prefix, path)
        if not self._must_seal(key, prefix):
            return await self.inner.put_file(key, path, create_only=create_only)
        # Only ciphertext touches the temporary file; the plaintext is read once, in chunks.
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="ri-seal-")
        try:
            with os.fdopen(fd, "wb") as out:
                size = await to_thread.run_sync(_seal_file, path, out, key, self.keyring, self.chunk_size)
            info = await self.inner.put_file(key, Path(tmp), create_only=create_only)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return ObjectInfo(key, size, info.etag, info.modified)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        return self.inner.list(prefix)

    async def close(self) -> None:
        await self.inner.close()

    # -- what the inner store offers besides the protocol ----------------------------------

    # Always present (storage/capabilities.py): with an inner store that lacks one, check
    # has nothing to add to a round trip and there are no stale uploads to abort.

    async def check(self) -> None:
        if isinstance(self.inner, SupportsHealthCheck):
            await self.inner.check()

    async def abort_stale_uploads(self, older_than: float) -> int:
        if not isinstance(self.inner, SupportsStaleUploadCleanup):
            return 0
        return int(await self.inner.abort_stale_uploads(older_than))

    async def presigned_url(self, key: str, expires: int) -> str:
        """A URL to the stored bytes, only where they are the plaintext; PresignUnavailable else."""
        if not isinstance(self.inner, SupportsPresign):
            raise PresignUnavailable(f"{self.inner!r} has no presigned URLs")
        # Covered keys are refused without a look: a plain one may be sealed by rekey any time.
        if self.selector.covers(key) or await self.peek(key) is not None:
            raise PresignUnavailable(f"{key!r} is encrypted at rest; only the app can decrypt it")
        return str(await self.inner.presigned_url(key, expires))

    # -- start-up check and rekey ----------------------------------------------------------

    async def key_problem(self) -> str | None:
        """Why this process cannot read the store, or None: decrypts a sample of sealed objects.

        The sample: the project index, the sidecars of the projects named in --encrypt, and
        the first sidecar and user record found. A key missing from the ring, or a different
        key under the same id, is found before the app serves anything.
        """
        from ..domain.keys import PROJECT_INDEX, sidecar

        candidates = [PROJECT_INDEX, *(sidecar(p) for p in sorted(self.selector.projects))]
        for prefix in ("projects/", "users/"):
            async for info in self.inner.list(prefix):
                candidates.append(info.key)
                break
        for key in dict.fromkeys(candidates):
            try:
                header = await self.peek(key)
                if header is not None:
                    await self.get(key)
            except DecryptionError as exc:
                return str(exc)
            except StorageError:
                continue  # missing, or the store is down: serving answers 503 until it is back
        return None

    async def rekey(
        self,
        progress: Callable[[int, int, str], None] | None = None,
        *,
        concurrency: int = 8,
        prefix: str = "",
    ) -> RekeyReport:
        """Seal every object that should be sealed with the newest key, beside running servers.

        Sealed objects under an older key are re-sealed; plaintext objects the selector now
        covers are sealed; sealed objects it no longer covers stay sealed (never decrypted
        back). If the inner store can say its own server-side encryption of an object is out
        of date (S3 with --s3-sse), such objects are rewritten too.
        """
        newest_id, _ = self.keyring.newest
        infos = [info async for info in self.inner.list(prefix) if not info.key.startswith("_probe/")]
        report = RekeyReport(examined=len(infos))
        done = 0
        limiter = anyio.Semaphore(concurrency)

        async def one(info: ObjectInfo) -> None:
            nonlocal done
            async with limiter:
                try:
                    outcome, key_id = await self._rekey_one(info, newest_id)
                except StorageError as exc:
                    report.failed.append(f"{info.key}: {exc}")
                    outcome, key_id = "failed", ""
                if outcome == "rewritten":
                    report.rewritten += 1
                elif outcome == "unchanged":
                    report.unchanged += 1
                elif outcome == "gone":
                    report.gone += 1
                if key_id:
                    report.key_ids[key_id] += 1
                done += 1
                if progress is not None:
                    progress(done, len(infos), info.key)

        async with anyio.create_task_group() as tg:
            for info in infos:
                tg.start_soon(one, info)
        if progress is not None and not infos:
            progress(0, 0, "")
        return report

    async def _rekey_one(self, info: ObjectInfo, newest_id: str) -> tuple[str, str]:
        key = info.key
        inner = self.inner
        for _ in range(5):
            try:
                header = await self.peek(key)
                sealed = header is not None
                target = sealed or self.selector.covers(key)
                client_stale = (header is not None and header.key_id != newest_id) or (target and not sealed)
                server_stale = isinstance(inner, SupportsServerSideEncryption) and not (
                    await inner.encryption_is_current(key)
                )
                if not client_stale and not server_stale:
                    return "unchanged", header.key_id if header is not None else "plain"
                if info.size <= SMALL_OBJECT:
                    blob = await self.inner.get(key)
                    data = blob.data
                    if client_stale:
                        plain = await self._open(key, data)
                        data = await self._seal(key, plain) if target else plain
                    # If-Match: a sidecar, the index, a user or a token changed by a running
                    # server since we read it is not overwritten; we look at it again instead.
                    await self.inner.put(key, data, if_match=blob.etag)
                else:
                    await self._rewrite_large(key, client_stale and target)
                return "rewritten", newest_id if target else "plain"
            except ObjectConflict:
                continue
            except ObjectNotFound:
                return "gone", ""
        raise StorageError(f"{key!r} kept changing while rekey rewrote it; run rekey again")

    async def _rewrite_large(self, key: str, reseal: bool) -> None:
        # Only artifacts are this large, and artifacts are write-once: their key holds the
        # sha256 of their content, so no writer ever changes their bytes and rewriting one in
        # place under the same key cannot lose an update (put_file has no If-Match). The one
        # change possible meanwhile is a delete; the ETag is checked again just before the
        # write to keep that window small, and an object resurrected in it is an orphan that
        # fsck reports and removes. Readers in flight are safe: a local rename leaves open
        # files intact, an S3 GET reads one version, and a ranged read that straddles the
        # rewrite fails its first chunk's authentication and reads again.
        before = await self.inner.head(key)
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="ri-rekey-")
        try:
            with os.fdopen(fd, "wb") as out:
                if reseal:
                    plain_size = (await self.head(key)).size
                    key_id, master = self.keyring.newest
                    sealer = ChunkSealer(master, key_id, key, plain_size, self.chunk_size)
                    await to_thread.run_sync(out.write, sealer.start())
                    async for piece in self._stream_whole(key):
                        await to_thread.run_sync(out.write, sealer.feed(piece))
                    await to_thread.run_sync(out.write, sealer.finish())
                else:
                    async for chunk in self.inner.stream(key):
                        await to_thread.run_sync(out.write, chunk)
                await to_thread.run_sync(out.flush)
            if (await self.inner.head(key)).etag != before.etag:
                raise ObjectConflict(key)
            await self.inner.put_file(key, Path(tmp))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _read_prefix(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC))


def describe_key_ids(counts: Counter[str]) -> str:
    return ", ".join(f"{key_id}: {n}" for key_id, n in sorted(counts.items())) or "no objects"


__all__ = [
    "CHUNK_SIZE",
    "MAGIC",
    "ChunkCipher",
    "ChunkSealer",
    "DecryptionError",
    "EncryptedStorage",
    "Header",
    "Keyring",
    "KeyringError",
    "MissingKeyError",
    "PresignUnavailable",
    "RekeyReport",
    "Selector",
    "generate_key_line",
    "open_bytes",
    "parse_header",
    "seal_bytes",
]
