"""The in-memory search index, kept current from the sidecars.

An instance updates it at once for its own writes. The first refresh lists the sidecars;
later ones follow the change feed (``domain/changes.py``) and re-read only the projects it
names, so other instances' uploads appear within the refresh interval, and a refresh costs
one store read when nothing changed, whatever the size of the index.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ..domain.model import Project, SidecarError
from ..domain.repository import ProjectRepository
from ..names import normalize
from ..storage import Storage
from .rank import Query, SearchDoc, document, search, words_of

log = logging.getLogger("registry_index")

YIELD_EVERY = 1000
LOAD_BATCH = 256  # sidecars read at once by a refresh (16 at a time within a batch)
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
    def __init__(self, source: ProjectRepository | Storage, concurrency: int = 16) -> None:
        self._repo = source if isinstance(source, ProjectRepository) else ProjectRepository(source)
        self._docs: dict[str, SearchDoc] = {}
        self._etags: dict[str, str] = {}
        self._limit = asyncio.Semaphore(concurrency)
        self._dirty: set[str] = set()
        self._by_word: dict[str, set[str]] = {}  # word → the projects that have it
        self._sizes: dict[str, tuple[int, int]] = {}  # files and bytes per project, for /metrics
        self.files = 0
        self.bytes = 0
        self._repo.feed.listeners.append(lambda change: self._dirty.add(change.project))
        self.ready = False

    def __len__(self) -> int:
        return len(self._docs)

    def update(self, project: Project) -> None:
        self._size(project.normalized, (len(project.files), sum(f.size for f in project.files)))
        doc = document(project)
        self._unindex(project.normalized)
        if doc is not None:
            self._docs[project.normalized] = doc
            for word in doc.words:
                self._by_word.setdefault(word, set()).add(doc.normalized)

    def _unindex(self, normalized: str) -> None:
        old = self._docs.pop(normalized, None)
        if old is not None:
            for word in old.words:
                names = self._by_word.get(word)
                if names is not None:
                    names.discard(normalized)
                    if not names:
                        del self._by_word[word]

    def _size(self, normalized: str, size: tuple[int, int]) -> None:
        old = self._sizes.pop(normalized, (0, 0))
        if size != (0, 0):
            self._sizes[normalized] = size
        self.files += size[0] - old[0]
        self.bytes += size[1] - old[1]

    def remove(self, normalized: str) -> None:
        self._size(normalized, (0, 0))
        self._unindex(normalized)
        self._etags.pop(normalized, None)

    async def _load(self, normalized: str, etag: str) -> None:
        async with self._limit:
            try:
                project, _ = await self._repo.load(normalized)
            except SidecarError as exc:
                log.warning("search skips %s: %s", normalized, exc)
                return
        if project is None:
            self.remove(normalized)
            return
        self.update(project)
        self._etags[normalized] = etag

    async def refresh(self) -> None:
        await self._repo.root.ready()  # the feed's starting point, before the first listing
        if not self.ready:
            self._dirty = set()  # the listing reads them all; what lands meanwhile stays dirty
            await self._full()
            return
        await self._repo.feed.catch_up()
        dirty, self._dirty = self._dirty, set()
        await self._load_all([(n, "") for n in dirty])

    async def _full(self) -> None:
        seen: set[str] = set()
        changed: list[tuple[str, str]] = []
        async for normalized, etag in self._repo.sidecar_etags():
            seen.add(normalized)
            if self._etags.get(normalized) != etag:
                changed.append((normalized, etag))
            if len(seen) % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a listing can be 100,000 keys: let requests through
        await self._load_all(changed)
        for gone in self._docs.keys() - seen:
            self.remove(gone)
        self.ready = True

    async def _load_all(self, wanted: list[tuple[str, str]]) -> None:
        # A batch at a time: one task per project of 700,000 at once took 1.4 GB and kept
        # the event loop from answering anything else until all of them were scheduled.
        for start in range(0, len(wanted), LOAD_BATCH):
            batch = wanted[start : start + LOAD_BATCH]
            await asyncio.gather(*(self._load(n, etag) for n, etag in batch))

    def search(self, query: Query) -> list[SearchDoc]:
        """Ranked results, scoring only the documents that can match.

        A result either has the query's normalized form in its name (ranks 0-2: a scan of
        the names alone) or every query word among its words (rank 3: the intersection of
        the words' posting sets); only those are scored. At 700,000 projects that is tens
        of milliseconds, where scoring every document took most of a second.
        """
        q = query.q.strip()
        if not q:
            return search(self._docs.values(), query)  # filters alone: every document
        norm = normalize(q)
        candidates = {n for n in self._docs if norm in n} if norm else set()
        terms = words_of(q)
        if terms:
            postings = sorted((self._by_word.get(t, set()) for t in terms), key=len)
            candidates |= set.intersection(*postings) if postings[0] else set()
        docs = self._docs
        return search((docs[n] for n in candidates), query)
