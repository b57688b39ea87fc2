"""Relayed files: fetched from the upstream once, verified against its page, kept create-only.

A file the store already holds is streamed from it (any byte range). A missing one is
fetched; up to ``BUFFER_LIMIT`` it is verified whole before its first byte goes out, so a
mismatch is a clean 502, and then sent from the verified copy; up to ``MEMORY_LIMIT`` that
copy is in memory and the store write runs while it is sent (a cold file's first byte waits
for the upstream, not for a durable write and a second read; its last byte waits for the
write, so a client never holds a file the store does not). A larger one is streamed while it is
hashed; on a mismatch the transfer is cut short (the client's own check of the advertised
sha256 fails too) and nothing is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio

from ..domain import keys
from ..errors import BadGateway, UpstreamUnavailable
from ..simple.relayed import core_metadata_sha256
from ..storage import ObjectConflict, ObjectNotFound, Storage
from ..upstream.client import UpstreamError
from ..upstream.config import Upstream
from ..upstream.page import UpstreamFile
from .write_behind import WriteBehind, landed

log = logging.getLogger("registry_index")

BUFFER_LIMIT = 32 * 1024**2  # files up to this size are verified before the first byte goes out
MEMORY_LIMIT = 8 * 1024**2  # ... and those up to this size are kept in memory meanwhile
MAX_UNSIZED = 4 * 1024**3  # the most bytes taken for a file whose page gives no size
MAX_METADATA = 8 * 1024**2  # a METADATA file is a few KiB; PEP 658 files get no more than this

Span = tuple[int, int]  # [start, end) of the file's bytes


class FileSource(Protocol):
    """How an upstream's file is fetched (``upstream.client.HttpUpstreams``)."""

    def file(self, upstream: Upstream, url: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]: ...


Storing = tuple[bytes, "asyncio.Future[object]"]  # verified bytes, and their store write
SingleFlight = Callable[[str, Callable[[], Awaitable[Storing | None]]], Awaitable[Storing | None]]


@dataclass(frozen=True, slots=True)
class RelayedFile:
    upstream: Upstream
    project: str
    entry: UpstreamFile
    metadata: bool  # the PEP 658 metadata of ``entry``, not the file itself

    @property
    def sha256(self) -> str:
        found = core_metadata_sha256(self.entry) if self.metadata else self.entry.hashes["sha256"]
        assert found is not None
        return found

    @property
    def key(self) -> str:
        blob = keys.upstream_blob(self.upstream.name, self.entry.hashes["sha256"], self.entry.filename)
        return keys.core_metadata(blob) if self.metadata else blob

    @property
    def url(self) -> str:
        return self.entry.url + ".metadata" if self.metadata else self.entry.url

    @property
    def filename(self) -> str:
        return self.entry.filename + (".metadata" if self.metadata else "")

    @property
    def size(self) -> int | None:
        """The size the upstream's page promises (a PEP 658 file's is never listed)."""
        return None if self.metadata else self.entry.size


@dataclass(frozen=True, slots=True)
class Opened:
    body: AsyncIterator[bytes]
    span: Span | None  # the range the body holds; None: the whole file


class RelayedFiles:
    def __init__(self, storage: Storage, source: FileSource, single_flight: SingleFlight) -> None:
        self._storage = storage
        self._source = source
        self._single_flight = single_flight
        # Verified files sent while their store write is in flight: this process serves such
        # a file from memory rather than fetch it again meanwhile.
        self._storing: WriteBehind[bytes] = WriteBehind("relayed file")

    async def close(self) -> None:
        """Wait for the store writes of files already sent (a shutdown keeps what it served)."""
        await self._storing.close()

    async def open(self, file: RelayedFile, span: Span | None = None) -> Opened:
        """The verified bytes of ``file`` (``span`` of them where that can be honoured)."""
        if (storing := self._storing.get(file.key)) is not None:
            return _from_memory(storing, span)
        stored = await self._stored(file, span)
        if stored is not None:
            return Opened(stored, span)
        if file.size is not None and file.size > BUFFER_LIMIT:
            return Opened(self._tee(file), None)
        in_memory = await self._single_flight(file.key, lambda: self._fill(file))
        if in_memory is None:  # too big to keep in memory: it is in the store now
            stored = await self._stored(file, span)
            if stored is None:
                raise UpstreamUnavailable(f"{file.filename!r} was stored and is gone; retry shortly.")
            return Opened(stored, span)
        return _from_memory(in_memory, span)

    async def _stored(self, file: RelayedFile, span: Span | None) -> AsyncIterator[bytes] | None:
        """The stored bytes, opened (a missing object is None, not a failed transfer)."""
        start, end = span or (0, None)
        body = self._storage.stream(file.key, start, end)
        try:
            first = await anext(body)
        except StopAsyncIteration:
            first = b""
        except ObjectNotFound:
            return None
        return _chain(first, body)

    def _write_behind(self, key: str, data: bytes) -> Storing:
        """Store verified bytes while they are sent: a durable write costs a cold file
        several ms on a local disk, and need not come before its first byte."""

        async def put() -> None:
            with contextlib.suppress(ObjectConflict):  # another instance stored the same bytes
                await self._storage.put(key, data, create_only=True)

        return data, self._storing.start(key, data, put())

    async def _fill(self, file: RelayedFile) -> Storing | None:
        """Fetch, verify and store; the bytes and their write when they are kept in memory."""
        digest, buffer, size = hashlib.sha256(), bytearray(), 0
        spill: anyio.AsyncFile[bytes] | None = None  # opened once the bytes outgrow memory
        tmp = ""
        try:
            async with self._fetch(file) as chunks:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    _bounded(file, size)
                    if spill is None and size <= MEMORY_LIMIT:
                        buffer += chunk
                        continue
                    if spill is None:
                        tmp = tempfile.mkdtemp(prefix="upstream-")
                        spill = await anyio.open_file(Path(tmp) / "blob", "wb")
                        await spill.write(bytes(buffer))
                        buffer.clear()
                    await spill.write(chunk)
            if spill is not None:
                await spill.aclose()
            _verify(file, digest.hexdigest(), size)
            if spill is None:
                return self._write_behind(file.key, bytes(buffer))
            with contextlib.suppress(ObjectConflict):
                await self._storage.put_file(file.key, Path(tmp) / "blob", create_only=True)
            return None
        finally:
            if spill is not None:
                await spill.aclose()  # closing twice is harmless
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)

    async def _tee(self, file: RelayedFile) -> AsyncIterator[bytes]:
        with tempfile.TemporaryDirectory(prefix="upstream-") as tmp:
            path = Path(tmp) / "blob"
            digest, size = hashlib.sha256(), 0
            async with self._fetch(file) as chunks, await anyio.open_file(path, "wb") as out:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    _bounded(file, size)
                    await out.write(chunk)
                    yield chunk
            _verify(file, digest.hexdigest(), size)  # raises: the transfer is aborted
            with contextlib.suppress(ObjectConflict):
                await self._storage.put_file(file.key, path, create_only=True)

    @contextlib.asynccontextmanager
    async def _fetch(self, file: RelayedFile) -> AsyncIterator[AsyncIterator[bytes]]:
        try:
            async with self._source.file(file.upstream, file.url) as chunks:
                yield chunks
        except FileNotFoundError:
            raise BadGateway(
                f"The upstream {file.upstream.url} lists {file.filename!r} but no longer serves it."
            ) from None
        except UpstreamError as exc:
            log.warning("upstream %s: %s", file.upstream.name, exc)
            raise UpstreamUnavailable(
                f"The upstream {file.upstream.url} cannot send {file.filename!r} now; retry shortly."
            ) from None


def _bounded(file: RelayedFile, size: int) -> None:
    """An upstream that sends more than the page promised is cut off as it happens, not
    after it has filled the disk (decoded bytes count: a gzip bomb is no way round)."""
    limit = MAX_METADATA if file.metadata else (file.entry.size or MAX_UNSIZED)
    if size > limit:
        raise BadGateway(
            f"The upstream {file.upstream.url} sent more than {limit} bytes for {file.filename!r}; "
            "nothing was stored."
        )


def _verify(file: RelayedFile, sha256: str, size: int) -> None:
    if sha256 != file.sha256 or (file.size is not None and size != file.size):
        log.error(
            "upstream %s sent %s with sha256 %s (%d bytes), the page says %s: not stored",
            file.upstream.name,
            file.filename,
            sha256,
            size,
            file.sha256,
        )
        raise BadGateway(
            f"The upstream {file.upstream.url} sent {file.filename!r} with other bytes than its page "
            "lists (sha256 mismatch); nothing was stored."
        )


def _from_memory(storing: Storing, span: Span | None) -> Opened:
    data, write = storing
    start, end = span or (0, len(data))
    return Opened(_then(data[start:end], write), span)


async def _then(data: bytes, write: asyncio.Future[object]) -> AsyncIterator[bytes]:
    """``data``, its last byte once the store holds it: no client has the whole file before
    the store does, so another instance asked next serves the stored copy."""
    if len(data) > 1:
        yield data[:-1]
        data = data[-1:]
    await landed(write)
    yield data


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk
