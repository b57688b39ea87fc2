"""Sidecars read through a revalidating cache and written by compare-and-swap with retry.

Every instance keeps what it read with the object's ETag. A read younger than
``freshness`` seconds is served from memory; an older one asks the store whether the ETag
still holds (a conditional GET, or a stat on the local store), so a change made anywhere is
seen everywhere within ``freshness`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..storage import ObjectConflict, ObjectNotFound, Storage, StorageError, keys
from .sidecar import Project, ProjectIndex, from_json, to_json

T = TypeVar("T")

# Contention is bounded by time, not a count: two importers writing one large project can lose
# many rounds in a row, and giving up after a fixed number of rounds failed real imports.
UPDATE_DEADLINE = 120.0
MAX_BACKOFF = 0.25
log = logging.getLogger("registry_index")


class Retry(Exception):
    """Raised by an update function to give up the write without error."""


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T | None  # None: known missing
    etag: str | None
    checked: float


class CachedObjects(Generic[T]):
    def __init__(
        self,
        storage: Storage,
        decode: Callable[[bytes], T],
        encode: Callable[[T], bytes],
        freshness: float,
        stale_if_error: float = 0.0,
    ) -> None:
        self.storage = storage
        self.stale_if_error = stale_if_error
        self._decode = decode
        self._encode = encode
        self.freshness = freshness
        self._cache: dict[str, _Entry[T]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._write_locks: dict[str, asyncio.Lock] = {}

    async def read(self, key: str) -> tuple[T | None, str | None]:
        """The value and its ETag, revalidated if older than ``freshness``."""
        if (seen := self.peek(key)) is not None:
            return seen
        # One revalidation per key at a time; concurrent readers share its answer.
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._cache.get(key)
            if entry is not None and time.monotonic() - entry.checked < self.freshness:
                return entry.value, entry.etag
            try:
                return await self._fetch(key, entry)
            except StorageError:
                # The store is down: a recently confirmed copy beats a 503 for readers.
                if entry is not None and time.monotonic() - entry.checked < self.stale_if_error:
                    log.warning("store unreachable; serving %s as last seen", key)
                    return entry.value, entry.etag
                raise

    def peek(self, key: str) -> tuple[T | None, str | None] | None:
        """The cached value and ETag if still fresh, else None; never touches the store."""
        entry = self._cache.get(key)
        if entry is not None and time.monotonic() - entry.checked < self.freshness:
            return entry.value, entry.etag
        return None

    async def _fetch(self, key: str, entry: _Entry[T] | None) -> tuple[T | None, str | None]:
        now = time.monotonic()
        try:
            if entry is not None and entry.etag is not None:
                blob = await self.storage.get_if_changed(key, entry.etag)
                if blob is None:
                    entry.checked = now
                    return entry.value, entry.etag
            else:
                blob = await self.storage.get(key)
        except ObjectNotFound:
            self._cache[key] = _Entry(None, None, now)
            return None, None
        value = self._decode(blob.data)
        self._cache[key] = _Entry(value, blob.etag, now)
        return value, blob.etag

    async def read_fresh(self, key: str) -> tuple[T | None, str | None]:
        entry = self._cache.get(key)
        return await self._fetch(key, entry)

    async def update(self, key: str, apply: Callable[[T | None], Awaitable[T] | T]) -> tuple[T, str]:
        """Read, apply, write conditionally; on a lost race re-read and re-apply.

        Writers of one key in this process take turns, so only other processes can make a
        write lose; against those, retry with jittered backoff until ``UPDATE_DEADLINE``.
        """
        lock = self._write_locks.setdefault(key, asyncio.Lock())
        async with lock:
            return await self._update(key, apply)

    async def _update(self, key: str, apply: Callable[[T | None], Awaitable[T] | T]) -> tuple[T, str]:
        delay = 0.005
        deadline = time.monotonic() + UPDATE_DEADLINE
        while True:
            current, etag = await self.read_fresh(key)
            result = apply(current)
            new = await result if isinstance(result, Awaitable) else result
            if new is current:
                assert current is not None and etag is not None
                return current, etag
            try:
                if etag is None:
                    new_etag = await self.storage.put(key, self._encode(new), create_only=True)
                else:
                    new_etag = await self.storage.put(key, self._encode(new), if_match=etag)
            except ObjectConflict:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(random.uniform(0, delay))
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            self._cache[key] = _Entry(new, new_etag, time.monotonic())
            return new, new_etag

    def forget(self, key: str) -> None:
        self._cache.pop(key, None)


class MetadataStore:
    """Projects' sidecars and the project index, cached and conditionally written."""

    def __init__(self, storage: Storage, freshness: float = 1.0, stale_if_error: float = 0.0) -> None:
        self.storage = storage
        self.sidecars: CachedObjects[Project] = CachedObjects(
            storage, from_json, to_json, freshness, stale_if_error
        )
        self.listeners: list[Callable[[str, Project | None], None]] = []
        self.index: CachedObjects[ProjectIndex] = CachedObjects(
            storage, ProjectIndex.from_json, ProjectIndex.to_json, freshness, stale_if_error
        )
        # Read only when a project is created, so never cached.
        self._graves: CachedObjects[tuple[str, ...]] = CachedObjects(
            storage, _names_from_json, _names_to_json, 0.0
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
        return await self.sidecars.read(keys.sidecar(normalized))

    def project_if_fresh(self, normalized: str) -> tuple[Project | None, str | None] | None:
        return self.sidecars.peek(keys.sidecar(normalized))

    def index_if_fresh(self) -> tuple[ProjectIndex, str] | None:
        seen = self.index.peek(keys.PROJECT_INDEX)
        return None if seen is None else _index_or_empty(*seen)

    async def update_project(
        self, normalized: str, apply: Callable[[Project | None], Awaitable[Project] | Project]
    ) -> tuple[Project, str]:
        project, etag = await self.sidecars.update(keys.sidecar(normalized), apply)
        self._notify(normalized, project)
        return project, etag

    async def delete_project(self, normalized: str) -> None:
        await self.storage.delete(keys.sidecar(normalized))
        self.sidecars.forget(keys.sidecar(normalized))
        self._notify(normalized, None)

    def _notify(self, normalized: str, project: Project | None) -> None:
        """Tell derived views (search) about a write made by this process."""
        for listener in self.listeners:
            listener(normalized, project)

    async def project_index(self) -> tuple[ProjectIndex, str]:
        return _index_or_empty(*await self.index.read(keys.PROJECT_INDEX))

    async def update_index(self, apply: Callable[[ProjectIndex], ProjectIndex]) -> tuple[ProjectIndex, str]:
        return await self.index.update(keys.PROJECT_INDEX, lambda cur: apply(cur or ProjectIndex()))


def _names_from_json(data: bytes) -> tuple[str, ...]:
    return tuple(json.loads(data)["filenames"])


def _names_to_json(names: tuple[str, ...]) -> bytes:
    return json.dumps({"schema": 1, "filenames": list(names)}, separators=(",", ":")).encode()


def _index_or_empty(value: ProjectIndex | None, etag: str | None) -> tuple[ProjectIndex, str]:
    """A store with no index object yet reads as an empty index with a fixed ETag."""
    return (value or ProjectIndex()), (etag or "empty")
