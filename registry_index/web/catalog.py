"""A small summary of every project, for the pages that look across projects.

The home page's counts and recent uploads, the project list sorted by last update and the
user pages need a line per project. Rebuilding that from every sidecar per request would
read the whole store, so each instance keeps one summary per project:

* its own writes update the summary at once (a listener on the metadata store);
* at most every ``ttl`` seconds, when a page asks, one listing of ``projects/`` finds the
  sidecars whose ETag changed (other instances' writes) and only those are re-read, through
  the registry's cache.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from dataclasses import dataclass

from ..domain.model import FileEntry, Project, SidecarError
from ..registry import Registry
from ..storage import StorageError
from .view import project_view

log = logging.getLogger("registry_index")

RECENT = 10


@dataclass(frozen=True, slots=True)
class Summary:
    name: str
    normalized: str
    version: str  # the latest release, "" when none has files
    summary: str
    updated: str  # the last upload's time
    files: int
    releases: int
    owners: tuple[str, ...]
    maintainers: tuple[str, ...]
    status: str
    status_reason: str
    recent: tuple[FileEntry, ...]  # its newest files, newest first


def summarize(project: Project) -> Summary:
    view = project_view(project)
    latest = view.by_key[view.latest].release if view.latest else None
    recent = sorted(project.files, key=lambda f: f.upload_time, reverse=True)[:RECENT]
    return Summary(
        name=project.name,
        normalized=project.normalized,
        version=latest.version if latest else "",
        summary=latest.summary if latest else "",
        updated=view.updated,
        files=view.files,
        releases=len(view.releases),
        owners=project.owners,
        maintainers=project.maintainers,
        status=project.status,
        status_reason=project.status_reason,
        recent=tuple(recent),
    )


class Listing:
    """The projects a page may show: listed in the index and not quarantined (one snapshot)."""

    def __init__(self, projects: tuple[Summary, ...]) -> None:
        self.projects = projects  # by normalized name

    @functools.cached_property
    def files(self) -> int:
        return sum(s.files for s in self.projects)

    @functools.cached_property
    def by_updated(self) -> list[Summary]:
        return sorted(self.projects, key=lambda s: s.updated, reverse=True)

    def recent_uploads(self, limit: int = RECENT) -> list[tuple[Summary, FileEntry]]:
        pairs = [(s, f) for s in self.by_updated[:limit] for f in s.recent]
        pairs.sort(key=lambda p: p[1].upload_time, reverse=True)
        return pairs[:limit]


class Catalog:
    def __init__(self, registry: Registry, ttl: float, concurrency: int = 16) -> None:
        self.registry = registry
        self.ttl = ttl
        self._summaries: dict[str, Summary] = {}
        self._etags: dict[str, str] = {}
        self._checked = -math.inf
        self._lock = asyncio.Lock()
        self._concurrency = concurrency
        self._generation = 0
        self._listing: tuple[tuple[str, int], Listing] | None = None
        registry.projects.watch(self._written)

    def _written(self, normalized: str, project: Project | None) -> None:
        """This instance wrote a sidecar: the page shows it at once."""
        self._generation += 1
        self._etags.pop(normalized, None)  # re-read once at the next refresh, for its ETag
        if project is None:
            self._summaries.pop(normalized, None)
        else:
            self._summaries[normalized] = summarize(project)

    async def listing(self) -> Listing:
        if time.monotonic() - self._checked >= self.ttl and not (
            self._lock.locked() and self._checked > -math.inf  # a refresh is running: use what we have
        ):
            async with self._lock:
                if time.monotonic() - self._checked >= self.ttl:
                    try:
                        await self._refresh()
                    except StorageError as exc:
                        if self._checked == -math.inf:
                            raise
                        log.warning("project summaries not refreshed: %s", exc)
        index, etag = await self.registry.index()
        stamp = (etag, self._generation)
        if self._listing is not None and self._listing[0] == stamp:
            return self._listing[1]
        shown = tuple(
            summary
            for name, summary in sorted(self._summaries.items())
            if name in index.projects and name not in index.hidden and summary.status != "quarantined"
        )
        listing = Listing(shown)
        self._listing = (stamp, listing)
        return listing

    async def _refresh(self) -> None:
        seen: dict[str, str] = {}
        async for name, etag in self.registry.projects.sidecar_etags():
            seen[name] = etag
        changed = [name for name, etag in seen.items() if self._etags.get(name) != etag]
        limit = asyncio.Semaphore(self._concurrency)

        async def load(name: str) -> None:
            async with limit:
                try:
                    project, etag = await self.registry.project_with_etag(name)
                except SidecarError as exc:
                    log.warning("project summaries skip %s: %s", name, exc)
                    return
            if project is None:
                self._summaries.pop(name, None)
                self._etags.pop(name, None)
            else:
                self._summaries[name] = summarize(project)
                self._etags[name] = etag or ""

        await asyncio.gather(*(load(name) for name in changed))
        for gone in set(self._summaries) - set(seen):
            self._summaries.pop(gone, None)
            self._etags.pop(gone, None)
        if changed:
            self._generation += 1
        self._checked = time.monotonic()
