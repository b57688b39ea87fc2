"""The one repository of project data: sidecars, the project index and tombstones.

Read through ``CachedObjects`` (revalidating, so a change made by any instance is seen
everywhere within ``freshness`` seconds) and written by compare-and-swap with retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from ..storage import ObjectNotFound, Storage, StorageError
from ..storage.cached import CachedObjects
from . import keys
from .changes import Change, ChangeFeed, FeedError
from .model import Project, ProjectIndex
from .root_index import SNAPSHOT_EVERY, RootIndex
from .segment_store import SegmentStore
from .segments import decode_sidecar, encode_sidecar, stored_bytes

log = logging.getLogger("registry_index")


class ProjectRepository:
    """Projects' sidecars, the project index and tombstones: every service reads and writes
    project data here, and nothing goes round it to the store's project keys."""

    def __init__(
        self,
        storage: Storage,
        freshness: float = 1.0,
        stale_if_error: float = 0.0,
        *,
        snapshot_every: int = SNAPSHOT_EVERY,
        cache_size: int = 256 * 1024**2,
    ) -> None:
        self.storage = storage
        # A big project's sidecar names segments of its files; they are read and written here.
        self.segments = SegmentStore(storage, budget=cache_size // 4)
        self.sidecars: CachedObjects[Project] = CachedObjects(
            storage,
            decode_sidecar,
            encode_sidecar,
            freshness,
            stale_if_error,
            name="sidecars",
            budget=cache_size,
            resolve=self.segments.resolve,
            prepare=self.segments.prepare,
            weigh=stored_bytes,
        )
        self.listeners: list[Callable[[str, Project | None], None]] = []
        self.feed = ChangeFeed(storage)
        self.root = RootIndex(storage, self.feed, freshness, snapshot_every=snapshot_every)
        # Read only when a project is created, so never cached.
        self._graves: CachedObjects[tuple[str, ...]] = CachedObjects(
            storage, _names_from_json, _names_to_json, 0.0, name="tombstones"
        )

    async def tombstones(self, normalized: str) -> tuple[str, ...]:
        """Filenames deleted with an earlier project of this name (they stay unusable)."""
        names, _ = await self._graves.read_fresh(keys.tombstones(normalized))
        return names or ()

    async def bury(self, normalized: str, filenames: Iterable[str]) -> None:
        """Keep a deleted project's filenames, merged with any kept before."""
        new = set(filenames)
        if new:
            await self._graves.update(
                keys.tombstones(normalized), lambda cur: tuple(sorted(new | set(cur or ())))
            )

    async def project(self, normalized: str) -> tuple[Project | None, str | None]:
        """The sidecar and its ETag, revalidated after ``freshness`` seconds."""
        return await self.sidecars.read(keys.sidecar(normalized))

    async def project_fresh(self, normalized: str) -> tuple[Project | None, str | None]:
        """The sidecar as the store holds it now: for checks a write will rely on."""
        return await self.sidecars.read_fresh(keys.sidecar(normalized))

    async def load(self, normalized: str) -> tuple[Project | None, str | None]:
        """The sidecar read past the cache, and not kept: for scans that visit every project."""
        try:
            blob = await self.storage.get(keys.sidecar(normalized))
        except ObjectNotFound:
            return None, None
        return await self.segments.resolve(decode_sidecar(blob.data)), blob.etag

    async def names(self) -> AsyncIterator[str]:
        """Every project with a sidecar, listed or not (the store's order)."""
        async for info in self.storage.list(keys.SIDECARS):
            if (name := keys.sidecar_of(info.key)) is not None:
                yield name

    async def sidecar_etags(self) -> AsyncIterator[tuple[str, str]]:
        """(project, ETag) of every sidecar, from one listing: what changed since a scan."""
        async for info in self.storage.list(keys.SIDECARS):
            if (name := keys.sidecar_of(info.key)) is not None:
                yield name, info.etag

    def project_if_fresh(self, normalized: str) -> tuple[Project | None, str | None] | None:
        return self.sidecars.peek(keys.sidecar(normalized))

    def index_if_fresh(self) -> tuple[ProjectIndex, str] | None:
        return self.root.peek()

    async def update_project(
        self, normalized: str, apply: Callable[[Project | None], Awaitable[Project] | Project]
    ) -> tuple[Project, str]:
        project, etag = await self.sidecars.update(keys.sidecar(normalized), apply)
        self._notify(normalized, project)
        try:
            await self.record(change_of(project, "update"))
        except (StorageError, FeedError) as exc:
            # The sidecar has landed and its files must stay: the caller's listing step
            # appends again, and ``fsck --repair`` finds a project the feed missed.
            log.warning("change feed: %s not recorded: %s", normalized, exc)
        return project, etag

    async def delete_project(self, normalized: str) -> None:
        await self.storage.delete(keys.sidecar(normalized))
        self.sidecars.forget(keys.sidecar(normalized))
        await self.segments.delete_all(normalized)
        self._notify(normalized, None)
        await self.record(Change(0, normalized, "delete"), supersede=True)

    async def record(self, change: Change, *, supersede: bool = False) -> Change:
        """Append ``change`` to the feed (after the root index has its starting point)."""
        await self.root.ready()
        appended = await self.feed.append(change, supersede=supersede)
        self.root.after_append(appended)
        return appended

    def _notify(self, normalized: str, project: Project | None) -> None:
        """Tell derived views (search) about a write made by this process."""
        for listener in self.listeners:
            listener(normalized, project)

    async def project_index(self) -> tuple[ProjectIndex, str]:
        return await self.root.current()

    async def close(self) -> None:
        await self.root.close()


def change_of(project: Project, action: str) -> Change:
    """A change record for ``project`` as it is now (serial 0: the feed numbers it)."""
    return Change(
        0,
        project.normalized,
        action,
        name=project.name,
        listed=project.listed,
        hidden=project.status == "quarantined",
        created=project.created,
        project_serial=project.serial,
    )


def _names_from_json(data: bytes) -> tuple[str, ...]:
    return tuple(json.loads(data)["filenames"])


def _names_to_json(names: tuple[str, ...]) -> bytes:
    return json.dumps({"schema": 1, "filenames": list(names)}, separators=(",", ":")).encode()
