"""Objects read through a revalidating cache and written by compare-and-swap with retry.

Every instance keeps what it read with the object's ETag. A read younger than
``freshness`` seconds is served from memory; an older one asks the store whether the ETag
still holds (a conditional GET, or a stat on the local store), so a change made anywhere is
seen everywhere within ``freshness`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .. import metrics
from .base import ObjectConflict, ObjectNotFound, Storage, StorageError

T = TypeVar("T")

# Contention is bounded by time, not a count: two importers writing one large project can lose
# many rounds in a row, and giving up after a fixed number of rounds failed real imports.
UPDATE_DEADLINE = 120.0
MAX_BACKOFF = 0.25
log = logging.getLogger("registry_index")


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T | None  # None: known missing
    etag: str | None
    checked: float
    weight: int = 64  # the stored bytes: what the value costs the cache's budget, near enough


DEFAULT_BUDGET = 64 * 1024**2


class CachedObjects(Generic[T]):
    def __init__(
        self,
        storage: Storage,
        decode: Callable[[bytes], T],
        encode: Callable[[T], bytes],
        freshness: float,
        stale_if_error: float = 0.0,
        name: str = "objects",
        budget: int = DEFAULT_BUDGET,
        *,
        resolve: Callable[[T], Awaitable[T]] | None = None,
        prepare: Callable[[T], Awaitable[T]] | None = None,
        weigh: Callable[[T], int] | None = None,
    ) -> None:
        """``resolve`` completes a value decoded from the stored bytes (reading what it
        names); ``prepare`` runs before a new value is encoded (writing what it will name);
        ``weigh`` adds what a value costs the budget beyond its stored bytes."""
        self.storage = storage
        self.name = name  # the cache's label in /metrics
        self.budget = budget  # bytes of stored objects kept; least recently used go first
        self.stale_if_error = stale_if_error
        self._decode = decode
        self._encode = encode
        self._resolve = resolve
        self._prepare = prepare
        self._weigh = weigh
        self.freshness = freshness
        self._cache: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._weight = 0
        # Weak: a key's lock lives while someone holds or waits on it, not for every key ever read.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._write_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _keep(self, key: str, entry: _Entry[T]) -> None:
        old = self._cache.pop(key, None)
        if old is not None:
            self._weight -= old.weight
        self._cache[key] = entry
        self._weight += entry.weight
        while self._weight > self.budget and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            self._weight -= evicted.weight
            metrics.cache(self.name, "evicted")

    def _lock(self, locks: weakref.WeakValueDictionary[str, asyncio.Lock], key: str) -> asyncio.Lock:
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        return lock

    async def read(self, key: str) -> tuple[T | None, str | None]:
        """The value and its ETag, revalidated if older than ``freshness``."""
        if (seen := self.peek(key)) is not None:
            return seen
        # One revalidation per key at a time; concurrent readers share its answer.
        lock = self._lock(self._locks, key)
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
            metrics.cache(self.name, "hit")
            self._cache.move_to_end(key)
            return entry.value, entry.etag
        return None

    async def _fetch(self, key: str, entry: _Entry[T] | None) -> tuple[T | None, str | None]:
        now = time.monotonic()
        try:
            if entry is not None and entry.etag is not None:
                blob = await self.storage.get_if_changed(key, entry.etag)
                if blob is None:
                    metrics.cache(self.name, "revalidated")
                    entry.checked = now
                    return entry.value, entry.etag
            else:
                blob = await self.storage.get(key)
        except ObjectNotFound:
            metrics.cache(self.name, "miss")
            self._keep(key, _Entry(None, None, now))
            return None, None
        metrics.cache(self.name, "miss")
        value = self._decode(blob.data)
        if self._resolve is not None:
            value = await self._resolve(value)
        self._keep(key, _Entry(value, blob.etag, now, self._weight_of(value, len(blob.data))))
        return value, blob.etag

    def _weight_of(self, value: T, stored: int) -> int:
        return stored + 64 + (self._weigh(value) if self._weigh is not None else 0)

    async def read_fresh(self, key: str) -> tuple[T | None, str | None]:
        entry = self._cache.get(key)
        return await self._fetch(key, entry)

    async def update(self, key: str, apply: Callable[[T | None], Awaitable[T] | T]) -> tuple[T, str]:
        """Read, apply, write conditionally; on a lost race re-read and re-apply.

        Writers of one key in this process take turns, so only other processes can make a
        write lose; against those, retry with jittered backoff until ``UPDATE_DEADLINE``.
        """
        lock = self._lock(self._write_locks, key)
        async with lock:
            return await self._update(key, apply)

    async def _update(self, key: str, apply: Callable[[T | None], Awaitable[T] | T]) -> tuple[T, str]:
        delay = 0.005
        deadline = time.monotonic() + UPDATE_DEADLINE
        # The first round may start from a copy read within ``freshness`` (what a reader would
        # be served), saving a store read per write: the conditional write still decides.
        # Whatever that round does not settle by a write (a lost race, no change, a refusal)
        # is decided again on a fresh read, so no outcome rests on a cached copy alone.
        seen = self.peek(key)
        while True:
            current, etag = seen if seen is not None else await self.read_fresh(key)
            optimistic, seen = seen is not None, None
            try:
                result = apply(current)
                new = await result if isinstance(result, Awaitable) else result
            except Exception:
                if optimistic:
                    continue
                raise
            if new is current:
                if optimistic:
                    continue
                assert current is not None and etag is not None
                return current, etag
            if self._prepare is not None:
                new = await self._prepare(new)
            encoded = self._encode(new)
            try:
                if etag is None:
                    new_etag = await self.storage.put(key, encoded, create_only=True)
                else:
                    new_etag = await self.storage.put(key, encoded, if_match=etag)
            except ObjectConflict:
                if optimistic:
                    continue  # the cached copy was behind: no one to back off from yet
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(random.uniform(0, delay))
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            self._keep(key, _Entry(new, new_etag, time.monotonic(), self._weight_of(new, len(encoded))))
            return new, new_etag

    def forget(self, key: str) -> None:
        old = self._cache.pop(key, None)
        if old is not None:
            self._weight -= old.weight
