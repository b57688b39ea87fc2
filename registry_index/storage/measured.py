"""A store that times each operation for /metrics, and passes everything else through.

Optional capabilities (presigned URLs, health checks, conditional-write declarations, ...)
are the inner store's: attribute lookups it does not define go to the inner store, so a
``runtime_checkable`` capability check answers as it would for the inner store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .. import metrics
from .base import Blob, ObjectInfo, Storage


class MeasuredStorage:
    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return repr(self.inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, key: str) -> Blob:
        with metrics.Timer("get"):
            return await self.inner.get(key)

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        with metrics.Timer("get_if_changed"):
            return await self.inner.get_if_changed(key, etag)

    async def head(self, key: str) -> ObjectInfo:
        with metrics.Timer("head"):
            return await self.inner.head(key)

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        with metrics.Timer("put"):
            return await self.inner.put(key, data, create_only=create_only, if_match=if_match)

    async def put_file(self, key: str, path: Path, *, create_only: bool = False) -> ObjectInfo:
        with metrics.Timer("put_file"):
            return await self.inner.put_file(key, path, create_only=create_only)

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        # Timed to the first chunk: the rest is the client's pace, not the store's.
        source = self.inner.stream(key, start, end)
        with metrics.Timer("stream"):
            try:
                first = await anext(source)
            except StopAsyncIteration:
                return
        yield first
        async for chunk in source:
            yield chunk

    async def delete(self, key: str) -> None:
        with metrics.Timer("delete"):
            await self.inner.delete(key)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        with metrics.Timer("list"):
            async for info in self.inner.list(prefix):
                yield info

    async def close(self) -> None:
        await self.inner.close()
