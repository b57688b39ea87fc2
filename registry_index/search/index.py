"""The in-memory search index, kept current from the sidecars.

An instance updates it at once for its own writes. The first refresh lists the sidecars;
later ones follow the change feed (``domain/changes.py``) and re-read only the projects it
names, so other instances' uploads appear within the refresh interval, and a refresh costs
one store read when nothing changed, whatever the size of the index.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import logging
from typing import Protocol

from ..domain.model import Project, SidecarError
from ..domain.repository import ProjectRepository
from ..names import normalize
from ..storage import Storage
from .rank import Query, SearchDoc, document, name_words, passes, text_words, words_of
from .trim import release_free_memory

log = logging.getLogger("registry_index")

LOAD_BATCH = 256  # sidecars read at once by a refresh (16 at a time within a batch)
REFRESH_BUDGET = 20


def next_refresh_delay(interval: float, last_refresh: float) -> float:
    return max(interval, REFRESH_BUDGET * last_refresh)


class SearchProvider(Protocol):
    """What the app needs from a search backend; another one (a database) can stand in."""

    ready: bool  # the first refresh is done: every project has been read

    def update(self, project: Project) -> None: ...

    def remove(self, normalized: str) -> None: ...

    async def refresh(self) -> None: ...

    def search(self, query: Query) -> list[SearchDoc]: ...

    def documents(self) -> tuple[int, list[SearchDoc]]:
        """Every document, by normalized name, and a number that changes when they do."""
        ...


class MemorySearchIndex:
    def __init__(self, source: ProjectRepository | Storage, concurrency: int = 16) -> None:
        self._repo = source if isinstance(source, ProjectRepository) else ProjectRepository(source)
        self._docs: dict[str, SearchDoc] = {}
        self._limit = asyncio.Semaphore(concurrency)
        self._dirty: set[str] = set()
        # word of a summary or keywords → the project that has it, or the set of them (most
        # such words are in one project: a set for each was most of the memory at 700k).
        # Words of names have none: the query's scan of the sorted names finds those, and
        # a list for each (nearly every name has a word of its own) cost 80 MB at 700k.
        self._by_word: dict[str, str | set[str]] = {}
        # Every document's name in order (None: to be sorted again, after the first refresh).
        # Ranks come out of it already sorted, so a query sorts nothing.
        self._names: list[str] | None = []
        # Files and bytes of projects with no document (quarantined, or no release), for
        # /metrics; a document carries its project's own.
        self._sizes: dict[str, tuple[int, int]] = {}
        self.files = 0
        self.bytes = 0
        self._repo.feed.listeners.append(lambda change: self._dirty.add(change.project))
        self.ready = False
        self.generation = 0  # changes with every document added, changed or removed

    def __len__(self) -> int:
        return len(self._docs)

    def update(self, project: Project) -> None:
        self.generation += 1
        normalized = project.normalized
        doc = document(project)
        self._unindex(normalized, keep_name=doc is not None)
        old = self._sizes.pop(normalized, (0, 0))
        self.files -= old[0]
        self.bytes -= old[1]
        if doc is None:
            size = (len(project.files), sum(f.size for f in project.files))
            if size != (0, 0):
                self._sizes[normalized] = size
            self.files += size[0]
            self.bytes += size[1]
            return
        self.files += doc.files
        self.bytes += doc.bytes
        if normalized not in self._docs and self._names is not None:
            at = bisect.bisect_left(self._names, normalized)
            if at == len(self._names) or self._names[at] != normalized:
                self._names.insert(at, normalized)
        self._docs[normalized] = doc
        by_word = self._by_word
        for word in text_words(doc):
            held = by_word.get(word)
            if held is None:
                by_word[word] = normalized
            elif isinstance(held, str):
                if held != normalized:
                    by_word[word] = {held, normalized}
            else:
                held.add(normalized)

    def _unindex(self, normalized: str, *, keep_name: bool = False) -> None:
        old = self._docs.get(normalized)
        if old is None:
            return
        if not keep_name:
            del self._docs[normalized]
            if self._names is not None:
                at = bisect.bisect_left(self._names, normalized)
                if at < len(self._names) and self._names[at] == normalized:
                    del self._names[at]
        self.files -= old.files
        self.bytes -= old.bytes
        by_word = self._by_word
        for word in text_words(old):
            held = by_word.get(word)
            if held is None:
                continue
            if isinstance(held, str):
                if held == normalized:
                    del by_word[word]
                continue
            held.discard(normalized)
            if len(held) == 1:
                by_word[word] = next(iter(held))

    def documents(self) -> tuple[int, list[SearchDoc]]:
        docs = self._docs
        names = self._names if self._names is not None else sorted(docs)  # sorted after a first refresh
        return self.generation, [docs[name] for name in names]

    def remove(self, normalized: str) -> None:
        self.generation += 1
        old = self._sizes.pop(normalized, (0, 0))
        self.files -= old[0]
        self.bytes -= old[1]
        self._unindex(normalized)

    async def _load(self, normalized: str) -> None:
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

    async def refresh(self) -> None:
        await self._repo.root.ready()  # the feed's starting point, before the first listing
        if not self.ready:
            self._dirty = set()  # the listing reads them all; what lands meanwhile stays dirty
            await self._full()
            return
        await self._repo.feed.catch_up()
        dirty, self._dirty = self._dirty, set()
        await self._load_all(list(dirty))

    async def _full(self) -> None:
        """The first refresh: every sidecar, read in batches as the listing goes."""
        self._names = None  # sorted once at the end, not kept in order 700,000 times
        seen: set[str] = set()
        batch: list[str] = []
        try:
            async for normalized in self._repo.names():
                seen.add(normalized)
                batch.append(normalized)
                if len(batch) >= LOAD_BATCH:
                    await self._load_all(batch)
                    batch = []
            await self._load_all(batch)
        finally:
            self._names = sorted(self._docs)
        for gone in self._docs.keys() - seen:
            self.remove(gone)
        self.ready = True
        release_free_memory()  # every sidecar went through memory once: hand the pages back

    async def _load_all(self, wanted: list[str]) -> None:
        # A batch at a time: one task per project of 700,000 at once took 1.4 GB and kept
        # the event loop from answering anything else until all of them were scheduled.
        for start in range(0, len(wanted), LOAD_BATCH):
            await asyncio.gather(*(self._load(n) for n in wanted[start : start + LOAD_BATCH]))
            # What the index keeps lives as long as the process: out of the cyclic
            # collector's sight. Each full collection otherwise walked every document again,
            # and the first refresh at 700,000 projects slowed to a crawl as the heap grew.
            # (Objects freed by reference counting are freed as before.)
            gc.freeze()

    def _posting(self, word: str) -> set[str]:
        held = self._by_word.get(word)
        if held is None:
            return set()
        return {held} if isinstance(held, str) else held

    def _with_words(self, terms: list[str], names: list[str], hits: list[str] | None, norm: str) -> set[str]:
        """The projects with every term among the words of their name, summary or keywords.

        ``hits`` (names containing ``norm``) stands in for the scan of all names when a term
        is the query itself: a name has the word only if it contains the text.
        """
        found: set[str] | None = None
        for term in sorted(set(terms), key=lambda t: len(self._posting(t))):
            posting = self._posting(term)
            pool = hits if hits is not None and term == norm else names
            named = [n for n in pool if term in n and term in name_words(n)]
            having = (posting | set(named)) if named else posting
            found = set(having) if found is None else found.intersection(having)
            if not found:
                return set()
        return found if found is not None else set()

    def search(self, query: Query) -> list[SearchDoc]:
        """Ranked results, found without scoring documents one by one.

        The ranks of ``rank.search``: the exact name, names starting with the query, names
        containing it (one scan of the sorted names, which gives both in order), then the
        projects holding every query word (the intersection of the words' posting sets, in
        name order). Filters, when asked for, are checked on those alone.
        """
        docs = self._docs
        names = self._names if self._names is not None else sorted(docs)
        q = query.q.strip()
        if not q:
            ordered: list[str] = names  # filters alone: every document, by name
        else:
            norm = normalize(q)
            exact: list[str] = [norm] if norm in docs else []
            hits = [n for n in names if norm in n] if norm else []
            prefix = [n for n in hits if n.startswith(norm) and n != norm]
            inner = [n for n in hits if not n.startswith(norm)]
            ordered = exact + prefix + inner
            terms = words_of(q)
            if terms:
                found = self._with_words(terms, names, hits if norm in terms else None, norm)
                found.difference_update(hits)
                # Few: sort them; many: the sorted names in one pass, cheaper than sorting.
                ordered += sorted(found) if len(found) * 8 < len(names) else [n for n in names if n in found]
        if not (query.keyword or query.classifier or query.author or query.requires_python):
            return [docs[n] for n in ordered]
        return [doc for n in ordered if passes(doc := docs[n], query)]
