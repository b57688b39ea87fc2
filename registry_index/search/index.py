"""The in-memory search index, kept current from the sidecars.

An instance updates it at once for its own writes, and a background refresh lists
``projects/`` every few seconds and re-reads only the sidecars whose ETag changed, so
other instances' uploads appear within that interval without any extra writes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ..metadata.sidecar import Project, SidecarError, from_json
from ..storage import ObjectNotFound, Storage, StorageError
from .rank import Query, SearchDoc, document, search

log = logging.getLogger("registry_index")


class SearchProvider(Protocol):
    """What the app needs from a search backend; another one (a database) can stand in."""

    def update(self, project: Project) -> None: ...

    def remove(self, normalized: str) -> None: ...

    async def refresh(self) -> None: ...

    def search(self, query: Query) -> list[SearchDoc]: ...


class MemorySearchIndex:
    def __init__(self, storage: Storage, concurrency: int = 16) -> None:
        self.storage = storage
        self._docs: dict[str, SearchDoc] = {}
        self._etags: dict[str, str] = {}
        self._limit = asyncio.Semaphore(concurrency)
        self.ready = False

    def __len__(self) -> int:
        return len(self._docs)

    def update(self, project: Project) -> None:
        doc = document(project)
        if doc is None:
            self._docs.pop(project.normalized, None)
        else:
            self._docs[project.normalized] = doc

    def remove(self, normalized: str) -> None:
        self._docs.pop(normalized, None)
        self._etags.pop(normalized, None)

    async def _load(self, normalized: str, key: str, etag: str) -> None:
        async with self._limit:
            try:
                blob = await self.storage.get(key)
                project = from_json(blob.data)
            except ObjectNotFound:
                self.remove(normalized)
                return
            except SidecarError as exc:
                log.warning("search skips %s: %s", key, exc)
                return
        self.update(project)
        self._etags[normalized] = etag

    async def refresh(self) -> None:
        seen: dict[str, tuple[str, str]] = {}
        async for info in self.storage.list("projects/"):
            normalized = info.key.removeprefix("projects/").removesuffix(".json")
            seen[normalized] = (info.key, info.etag)
        changed = [(n, key, etag) for n, (key, etag) in seen.items() if self._etags.get(n) != etag]
        await asyncio.gather(*(self._load(n, key, etag) for n, key, etag in changed))
        for gone in set(self._docs) - set(seen):
            self.remove(gone)
        self.ready = True

    async def run(self, interval: float) -> None:
        """Refresh forever; a store outage only delays the next refresh."""
        while True:
            try:
                await self.refresh()
            except StorageError as exc:
                log.warning("search refresh failed: %s", exc)
            await asyncio.sleep(interval)

    def search(self, query: Query) -> list[SearchDoc]:
        return search(self._docs.values(), query)
