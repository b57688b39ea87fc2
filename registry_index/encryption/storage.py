"""EncryptedStorage: any Storage, with object bodies sealed at rest (docs/encryption.md).

A storage-level provider: it knows the byte format (format.py), the cipher (cipher.py) and
the key ring, and nothing of the key layout. What to seal, and which objects to sample at
start-up, come from the ``Coverage`` it is given (selector.py's Selector, built in config.py).

Objects without the magic are read as they are, so encryption can be switched on over an
existing store; ``rekey`` (rekey.py) then seals them. What is encrypted on write is the
coverage's choice; reads decrypt whatever carries the magic, whatever it says now.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Protocol

from anyio import to_thread

from ..storage import (
    Blob,
    DecryptionError,
    ObjectInfo,
    ObjectNotFound,
    PresignUnavailable,
    Storage,
    StorageError,
)
from ..storage.capabilities import (
    SupportsConditionalWrites,
    SupportsHealthCheck,
    SupportsPresign,
    SupportsStaleUploadCleanup,
)
from .cipher import ChunkCipher, MissingKeyError, cipher_for, open_bytes_async, seal_bytes_async, seal_file
from .format import CHUNK_SIZE, MAGIC, MAX_CHUNK_SIZE, MAX_HEADER, Header, near_magic, parse_header
from .keyring import Keyring, KeyringError
from .rekey import RekeyReport, rekey_store


class Coverage(Protocol):
    """What the wrapper asks of its selector (selector.Selector is the one in use)."""

    def __bool__(self) -> bool:
        """Whether any new write is sealed at all."""
        ...

    def covers(self, key: str) -> bool:
        """Whether a new write to ``key`` is sealed."""
        ...

    def describe(self) -> str: ...

    def sample_keys(self) -> Sequence[str]:
        """Keys ``key_problem`` reads, when they exist."""
        ...

    def sample_prefixes(self) -> Sequence[str]:
        """Prefixes under which ``key_problem`` reads the first key too."""
        ...


class EncryptedStorage:
    """Any Storage, with object bodies encrypted at rest; ETags and conditions pass through.

    ``head`` and ``put_file`` report plaintext sizes; ``list`` reports stored sizes (reading
    every header to list would cost a request per object).
    """

    def __init__(
        self,
        inner: Storage,
        keyring: Keyring,
        selector: Coverage,
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
        return Blob(await open_bytes_async(blob.data, key, self.keyring), blob.etag)

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        blob = await self.inner.get_if_changed(key, etag)
        return None if blob is None else Blob(await open_bytes_async(blob.data, key, self.keyring), blob.etag)

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
            data = await seal_bytes_async(data, key, self.keyring, self.chunk_size)
        return await self.inner.put(key, data, create_only=create_only, if_match=if_match)

    async def put_file(self, key: str, path: Path, *, create_only: bool = False) -> ObjectInfo:
        prefix = await to_thread.run_sync(_read_prefix, path)
        if not self._must_seal(key, prefix):
            return await self.inner.put_file(key, path, create_only=create_only)
        # Only ciphertext touches the temporary file; the plaintext is read once, in chunks.
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="ri-seal-")
        try:
            with os.fdopen(fd, "wb") as out:
                size = await to_thread.run_sync(seal_file, path, out, key, self.keyring, self.chunk_size)
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

        The sample comes from the selector; with selector.Selector it is the project index,
        the sidecars of the projects named in --encrypt, and the first sidecar and user
        found. A key missing from the ring, or a different key under the same id, is found
        before the app serves anything.
        """
        candidates = list(self.selector.sample_keys())
        for prefix in self.selector.sample_prefixes():
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
        """Seal what should be sealed with the newest key, beside running servers (rekey.py)."""
        return await rekey_store(self, progress, concurrency=concurrency, prefix=prefix)


def _read_prefix(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC))


async def _close(iterator: AsyncIterator[bytes]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
