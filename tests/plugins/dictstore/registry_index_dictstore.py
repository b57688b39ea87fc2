"""A third-party storage backend, as a plugin author would write one: objects in a dict.

``dict://NAME`` opens the shelf NAME of this process; opening the same name again sees the
same objects. Registered through its dist-info's entry_points.txt, not imported by tests.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio

from registry_index.storage import Blob, ObjectConflict, ObjectInfo, ObjectNotFound

Entry = tuple[bytes, str, float]  # body, ETag, modified
SHELVES: dict[str, dict[str, Entry]] = {}
_versions = itertools.count(1)
_CHUNK = 64 * 1024


def open_url(url: str, **options: Any) -> DictStore:
    """The entry point's factory: ``dict://NAME``; registry-index's options are not ours."""
    _, sep, name = url.partition("://")
    if not sep or not name:
        raise ValueError(f"--storage {url}: write dict://NAME")
    return DictStore(SHELVES.setdefault(name, {}))


class DictStore:
    def __init__(self, objects: dict[str, Entry]) -> None:
        self.objects = objects

    def _entry(self, key: str) -> Entry:
        try:
            return self.objects[key]
        except KeyError:
            raise ObjectNotFound(key) from None

    async def get(self, key: str) -> Blob:
        data, etag, _ = self._entry(key)
        return Blob(data, etag)

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        blob = await self.get(key)
        return None if blob.etag == etag else blob

    async def head(self, key: str) -> ObjectInfo:
        data, etag, modified = self._entry(key)
        return ObjectInfo(key, len(data), etag, modified)

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        # No await between the check and the write: atomic for the tasks of one process.
        current = self.objects.get(key)
        if create_only and current is not None:
            raise ObjectConflict(key)
        if if_match is not None and (current is None or current[1] != if_match):
            raise ObjectConflict(key)
        etag = f'"{hashlib.sha256(data).hexdigest()[:16]}-{next(_versions)}"'
        self.objects[key] = (bytes(data), etag, time.time())
        return etag

    async def put_file(self, key: str, path: Path, *, create_only: bool = False) -> ObjectInfo:
        data = await anyio.Path(path).read_bytes()
        etag = await self.put(key, data, create_only=create_only)
        return ObjectInfo(key, len(data), etag)

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        data = self._entry(key)[0][start:end]
        for offset in range(0, len(data), _CHUNK):
            yield data[offset : offset + _CHUNK]

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        for key in sorted(k for k in self.objects if k.startswith(prefix)):
            data, etag, modified = self.objects[key]
            yield ObjectInfo(key, len(data), etag, modified)

    async def close(self) -> None:
        return None
