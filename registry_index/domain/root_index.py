"""The root index (what /simple/ lists), folded from the change feed over sharded snapshots.

Adding a project appends one record to the feed (``changes.py``): O(1) bytes, and no
instance ever rewrites an object another one is rewriting. Every instance folds the feed into
its in-memory view. So that start-up does not replay the whole feed, the view is saved now and
then as ``SHARDS`` shard objects (a project's shard is a CRC of its name) and one pointer,
``index/root.json``, that names the shard objects and the serial they cover. A snapshot is
taken by the instance that appended a multiple of ``SNAPSHOT_EVERY``, in the background; it
rewrites only the shards that changed since the pointer's serial, and swaps the pointer by
compare-and-swap, so two instances taking one at once cannot lose each other's.

A shard saved while changes were still arriving may already hold some after its serial:
replaying those is harmless, because each change carries a rank (the project's creation time
and its sidecar serial) and a change ranked below what is held is ignored. The same rank
settles two instances that wrote one sidecar in turn but appended their records the other
way round.

A store from before the feed has one ``index/projects.json``: it is read as the state at
serial 0 until the first snapshot replaces it (and is never written again).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple

from ..storage import ObjectConflict, ObjectNotFound, Storage
from . import keys
from .changes import Change, ChangeFeed
from .model import ProjectIndex

log = logging.getLogger("registry_index")

SHARDS = 256
SNAPSHOT_EVERY = 1000
RETIRE_AFTER = 60.0  # seconds old shard objects stay readable for loaders of the old pointer
LOAD_CONCURRENCY = 16


class Entry(NamedTuple):
    name: str
    listed: bool
    hidden: bool
    created: str
    project_serial: int

    @property
    def rank(self) -> tuple[str, int]:
        return (self.created, self.project_serial)


def shard_of(normalized: str) -> int:
    # Stable across processes and releases, unlike hash().
    return zlib.crc32(normalized.encode()) % SHARDS


def shard_to_json(shard: int, serial: int, entries: dict[str, Entry]) -> bytes:
    doc = {
        "schema": 1,
        "shard": shard,
        "serial": serial,
        "projects": {k: list(v) for k, v in entries.items()},
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def shard_from_json(data: bytes) -> dict[str, Entry]:
    doc = json.loads(data)
    if doc.get("schema") != 1:
        raise ValueError(f"root index shard schema {doc.get('schema')!r} is not supported")
    # A display name spelled like the normalized one shares its string: at 700,000
    # projects a second copy of each was tens of megabytes.
    return {
        k: Entry(k if v[0] == k else str(v[0]), bool(v[1]), bool(v[2]), str(v[3]), int(v[4]))
        for k, v in doc["projects"].items()
    }


class Listed(Mapping[str, str]):
    """normalized → display name of the listed projects (hidden ones too), read from the
    shards themselves: a separate dict of 700,000 names cost as much again."""

    __slots__ = ("_shards", "count")

    def __init__(self, shards: list[dict[str, Entry]]) -> None:
        self._shards = shards
        self.count = 0  # kept by RootIndex._put

    def __getitem__(self, normalized: str) -> str:
        entry = self._shards[shard_of(normalized)].get(normalized)
        if entry is None or not entry.listed:
            raise KeyError(normalized)
        return entry.name

    def __contains__(self, normalized: object) -> bool:
        if not isinstance(normalized, str):
            return False
        entry = self._shards[shard_of(normalized)].get(normalized)
        return entry is not None and entry.listed

    def __iter__(self) -> Iterator[str]:
        for shard in self._shards:
            for normalized, entry in shard.items():
                if entry.listed:
                    yield normalized

    def __len__(self) -> int:
        return self.count


def pointer_to_json(serial: int, shard_keys: list[str]) -> bytes:
    return json.dumps({"schema": 1, "serial": serial, "shards": shard_keys}, separators=(",", ":")).encode()


class RootIndex:
    def __init__(
        self,
        storage: Storage,
        feed: ChangeFeed,
        freshness: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        snapshot_every: int | None = None,
    ) -> None:
        self._storage = storage
        self._snapshot_every = snapshot_every
        self._feed = feed
        self._freshness = freshness
        self._clock = clock
        self._shards: list[dict[str, Entry]] = [{} for _ in range(SHARDS)]
        self._projects = Listed(self._shards)  # listed: normalized → display name (hidden ones too)
        self._hidden: set[str] = set()
        self._touched = [0] * SHARDS  # the last serial that changed each shard
        self._shown = [0] * SHARDS  # the last serial that changed what each shard shows
        self._changed = 0  # the last serial that changed what /simple/ shows
        self._view: tuple[int, ProjectIndex] | None = None
        self._loaded = False
        self._checked = -math.inf
        self._load_lock = asyncio.Lock()
        self._snapshot_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        feed.listeners.append(self._apply)
        feed.rank_of = self.rank_of

    # -- reading -------------------------------------------------------------------------

    async def ready(self) -> None:
        """Loaded from the store (once): the snapshot the pointer names, then the feed after it."""
        if self._loaded:
            return
        async with self._load_lock:
            if not self._loaded:
                await self._load()
                self._loaded = True
                self._checked = self._clock()

    async def current(self) -> tuple[ProjectIndex, str]:
        """The root index, caught up with the feed when the last look is over ``freshness`` old."""
        await self.ready()
        if self._clock() - self._checked >= self._freshness:
            self._checked = self._clock()
            await self._feed.catch_up()
        return self._index()

    def peek(self) -> tuple[ProjectIndex, str] | None:
        """The view without any I/O, or None when it is due for a look at the feed."""
        if not self._loaded or self._clock() - self._checked >= self._freshness:
            return None
        return self._index()

    def rank_of(self, normalized: str) -> tuple[str, int]:
        held = self._shards[shard_of(normalized)].get(normalized)
        return ("", 0) if held is None else held.rank

    def entry(self, normalized: str) -> Entry | None:
        return self._shards[shard_of(normalized)].get(normalized)

    def __len__(self) -> int:
        return len(self._projects) - len(self._hidden)

    def _index(self) -> tuple[ProjectIndex, str]:
        # The dict is shared, not copied (700,000 names): readers use it at once, in the loop.
        view = self._view
        if view is None or view[0] != self._changed:
            view = self._view = (
                self._changed,
                ProjectIndex(self._projects, frozenset(self._hidden), self._changed),
            )
        return view[1], f"r{self._changed}"

    async def _load(self) -> None:
        try:
            blob = await self._storage.get(keys.ROOT_INDEX)
        except ObjectNotFound:
            await self._load_legacy()
        else:
            doc = json.loads(blob.data)
            serial, shard_keys = int(doc["serial"]), list(doc["shards"])
            limit = asyncio.Semaphore(LOAD_CONCURRENCY)

            async def one(i: int, key: str) -> None:
                async with limit:
                    data = (await self._storage.get(key)).data
                for name, entry in shard_from_json(data).items():
                    self._put(i, name, entry, serial)

            await asyncio.gather(*(one(i, key) for i, key in enumerate(shard_keys)))
            self._touched = [0] * SHARDS  # as saved: nothing to write again yet
            self._feed.start_at(serial)
            self._changed = serial
        await self._feed.catch_up()

    async def _load_legacy(self) -> None:
        try:
            blob = await self._storage.get(keys.PROJECT_INDEX)
        except ObjectNotFound:
            return
        old = ProjectIndex.from_json(blob.data)
        for name, display in old.projects.items():
            self._put(shard_of(name), name, Entry(display, True, name in old.hidden, "", 0), 1)

    # -- folding the feed ----------------------------------------------------------------

    def _apply(self, change: Change) -> None:
        shard = shard_of(change.project)
        held = self._shards[shard].get(change.project)
        if held is not None and change.rank < held.rank:
            return  # an older sidecar's record, appended late
        entry = Entry(change.name, change.listed, change.hidden, change.created, change.project_serial)
        self._put(shard, change.project, entry, change.serial)

    def _put(self, shard: int, name: str, entry: Entry, serial: int) -> None:
        held = self._shards[shard].get(name)
        self._shards[shard][name] = entry
        self._touched[shard] = serial
        shown = held.name if held is not None and held.listed else None
        if entry.listed:
            if shown is None:
                self._projects.count += 1
            if shown != entry.name or (name in self._hidden) != entry.hidden:
                (self._hidden.add if entry.hidden else self._hidden.discard)(name)
                self._changed = self._shown[shard] = serial
        elif shown is not None:
            self._projects.count -= 1
            self._hidden.discard(name)
            self._changed = self._shown[shard] = serial

    # -- RootSegments: the page is rebuilt shard by shard ----------------------------------

    def versions(self) -> list[int]:
        return self._shown

    def segment(self, shard: int) -> list[tuple[str, str]]:
        return sorted((n, e.name) for n, e in self._shards[shard].items() if e.listed and not e.hidden)

    # -- snapshots -----------------------------------------------------------------------

    def after_append(self, change: Change) -> None:
        """Called for each record this process appends: every SNAPSHOT_EVERY, save the view."""
        every = self._snapshot_every or SNAPSHOT_EVERY
        if change.serial % every == 0:
            task = asyncio.get_running_loop().create_task(self._snapshot_logged())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _snapshot_logged(self) -> None:
        try:
            await self.snapshot()
        except Exception:
            log.exception("root index snapshot failed (the feed still has every change)")

    async def snapshot(self) -> int:
        """Save the view as shards and a pointer; returns the serial saved (0: nothing to do)."""
        async with self._snapshot_lock:
            await self.ready()
            await self._feed.catch_up()
            while True:
                try:
                    blob = await self._storage.get(keys.ROOT_INDEX)
                    doc, etag = json.loads(blob.data), blob.etag
                except ObjectNotFound:
                    doc, etag = None, None
                base = -1 if doc is None else int(doc["serial"])
                serial = self._feed.head
                if serial <= base:
                    return 0
                shard_keys: list[str] = list(doc["shards"]) if doc else [""] * SHARDS
                written: list[str] = []
                for i in range(SHARDS):
                    if doc is None or self._touched[i] > base:
                        key = keys.root_shard(i, serial)
                        with contextlib.suppress(ObjectConflict):  # the same shard, by another instance
                            await self._storage.put(
                                key, shard_to_json(i, serial, self._shards[i]), create_only=True
                            )
                        shard_keys[i] = key
                        written.append(key)
                        await asyncio.sleep(0)  # 700,000 names: let requests in between shards
                pointer = pointer_to_json(serial, shard_keys)
                try:
                    if etag is None:
                        await self._storage.put(keys.ROOT_INDEX, pointer, create_only=True)
                    else:
                        await self._storage.put(keys.ROOT_INDEX, pointer, if_match=etag)
                except ObjectConflict:
                    continue  # another instance moved the pointer: start again from its
                if doc is not None:
                    self._retire(set(doc["shards"]) - set(shard_keys))
                return serial

    def _retire(self, old: Iterable[str]) -> None:
        stale = sorted(k for k in old if k)
        if not stale:
            return

        async def later() -> None:
            await asyncio.sleep(RETIRE_AFTER)
            for key in stale:
                with contextlib.suppress(ObjectNotFound):
                    await self._storage.delete(key)

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
