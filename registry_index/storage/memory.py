"""A dict as an object store, with the same conditional-write rules; for tests."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from anyio import to_thread

from .base import Blob, ObjectConflict, ObjectInfo, ObjectNotFound
from .capabilities import ConditionalReach

_counter = itertools.count()


class MemoryStorage:
    # Check and write run with no await between them, on one event loop: atomic for its tasks.
    conditional_writes: ConditionalReach = "process"

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, str]] = {}
        self._modified: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"MemoryStorage({len(self._objects)} objects)"

    @staticmethod
    def _new_etag(data: bytes) -> str:
        return f"{hashlib.md5(data, usedforsecurity=False).hexdigest()}-{next(_counter)}"

    def _entry(self, key: str) -> tuple[bytes, str]:
        try:
            return self._objects[key]
        except KeyError:
            raise ObjectNotFound(key) from None

    async def get(self, key: str) -> Blob:
        data, etag = self._entry(key)
        return Blob(data, etag)

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        data, current = self._entry(key)
        return None if current == etag else Blob(data, current)

    async def head(self, key: str) -> ObjectInfo:
        data, etag = self._entry(key)
        return ObjectInfo(key, len(data), etag)

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        existing = self._objects.get(key)
        if create_only and existing is not None:
            raise ObjectConflict(key)
        if if_match is not None and (existing is None or existing[1] != if_match):
            raise ObjectConflict(key)
        etag = self._new_etag(data)
        self._objects[key] = (bytes(data), etag)
        self._modified[key] = time.time()
        return etag

    async def put_file(self, key: str, path: Path, *, create_only: bool = False) -> ObjectInfo:
        data = await to_thread.run_sync(path.read_bytes)
        etag = await self.put(key, data, create_only=create_only)
        return ObjectInfo(key, len(data), etag)

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        data, _ = self._entry(key)
        yield data[start:end]

    async def delete(self, key: str) -> None:
        self._objects.pop(key, None)
        self._modified.pop(key, None)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        for key in sorted(k for k in self._objects if k.startswith(prefix)):
            data, etag = self._objects[key]
            yield ObjectInfo(key, len(data), etag, self._modified.get(key, 0.0))

    async def close(self) -> None:
        return None


def open_url(url: str, **options: Any) -> MemoryStorage:
    """The ``memory`` entry point: ``memory:``, a new empty store each time; takes no options."""
    if url.lower() not in ("memory:", "memory://"):
        raise ValueError(f"--storage {url}: write memory: (a throwaway store takes no name)")
    return MemoryStorage()
