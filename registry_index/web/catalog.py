"""The projects as the pages that look across them see them: counts, lists, recent uploads.

The home page's counts and recent uploads, the project list sorted by last update and the
user pages need a line per project. They read the search index's documents
(``search/rank.py``'s ``SearchDoc``), which every instance keeps current anyway: its own
writes at once, other instances' from the change feed at each refresh. So these pages read
nothing from the store but the few projects whose recent uploads the home page shows
(through the registry's cache), and no second summary per project is kept. (One was, read
from every sidecar at the first view, with ten file entries each: at 700,000 projects the
largest thing in an instance's memory, and a full read of the store.)
"""

from __future__ import annotations

import functools
import heapq

from ..domain.model import FileEntry, SidecarError
from ..errors import NotFound
from ..registry import Registry
from ..search.rank import SearchDoc

RECENT = 10


class Listing:
    """The projects a page may show, by normalized name: one snapshot.

    A document exists only for a project with a release that has files and that is not in
    quarantine, which is what /simple/ lists too.
    """

    def __init__(self, projects: list[SearchDoc], complete: bool = True) -> None:
        self.projects = projects
        self.complete = complete  # False while the first refresh is still reading the store

    @functools.cached_property
    def files(self) -> int:
        return sum(s.files for s in self.projects)

    @functools.cached_property
    def by_updated(self) -> list[SearchDoc]:
        return sorted(self.projects, key=lambda s: s.updated, reverse=True)

    def latest(self, limit: int) -> list[SearchDoc]:
        """The ``limit`` projects updated last, newest first, without sorting them all."""
        if "by_updated" in self.__dict__:
            return self.by_updated[:limit]
        return heapq.nlargest(limit, self.projects, key=lambda s: s.updated)


class Catalog:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._listing: tuple[int, Listing] | None = None

    def listing(self) -> Listing:
        generation, docs = self.registry.searching.documents()
        if self._listing is None or self._listing[0] != generation:
            self._listing = (generation, Listing(docs, self.registry.searching.complete))
        return self._listing[1]

    async def recent_uploads(
        self, listing: Listing, limit: int = RECENT
    ) -> list[tuple[SearchDoc, FileEntry]]:
        """The newest files of the index: the newest of the ``limit`` projects updated last
        (their sidecars come through the registry's cache)."""
        pairs: list[tuple[SearchDoc, FileEntry]] = []
        for summary in listing.latest(limit):
            try:
                project = await self.registry.project(summary.normalized)
            except (NotFound, SidecarError):
                continue  # deleted or damaged since it was indexed: the index catches up
            newest = heapq.nlargest(limit, project.files, key=lambda f: f.upload_time)
            pairs.extend((summary, f) for f in newest)
        pairs.sort(key=lambda p: p[1].upload_time, reverse=True)
        return pairs[:limit]
