"""The in-memory search index, kept current from the sidecars.

An instance updates it at once for its own writes, and a background refresh lists
``projects/`` every few seconds and re-reads only the sidecars whose ETag changed, so
other instances' uploads appear within that interval without any extra writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from ..domain.model import Project, SidecarError, from_json
from ..storage import ObjectNotFound, Storage, StorageError
from .rank import Query, SearchDoc, document, search

log = logging.getLogger("registry_index")

YIELD_EVERY = 1000
REFRESH_BUDGET = 20


def next_refresh_delay(interval: float, last_refresh: float) -> float:
    return max(interval, REFRESH_BUDGET * last_refresh)


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
        seen: set[str] = set()
        changed: list[tuple[str, str, str]] = []
        async for info in self.storage.list("projects/"):
            normalized = info.key.removeprefix("projects/").removesuffix(".json")
            seen.add(normalized)
            if self._etags.get(normalized) != info.etag:
                changed.append((normalized, info.key, info.etag))
            if len(seen) % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a listing can be 100,000 keys: let requests through
        await asyncio.gather(*(self._load(n, key, etag) for n, key, etag in changed))
        for gone in self._docs.keys() - seen:
            self.remove(gone)
        self.ready = True

    async def run(self, interval: float) -> None:
        """Refresh forever; a store outage only delays the next refresh.

        The pause is ``interval`` or, when listing the store takes long (100,000 projects
        on S3 is 100 LIST requests), ``REFRESH_BUDGET`` times the last refresh, so the
        refresh never takes more than about 1/REFRESH_BUDGET of the process's time.
        """
        while True:
            started = time.monotonic()
            try:
                await self.refresh()
            except StorageError as exc:
                log.warning("search refresh failed: %s", exc)
            await asyncio.sleep(next_refresh_delay(interval, time.monotonic() - started))

    def search(self, query: Query) -> list[SearchDoc]:
        return search(self._docs.values(), query)
