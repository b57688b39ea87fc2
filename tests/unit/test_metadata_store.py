"""Compare-and-swap updates under contention, as two importers into one project create it."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from registry_index.storage import Blob, ObjectConflict
from registry_index.storage import cached as store
from registry_index.storage.cached import CachedObjects
from registry_index.storage.local import LocalStorage


def _objects(root: Path) -> CachedObjects[dict[str, int]]:
    # Each CachedObjects stands for one process: its own cache and its own locks.
    return CachedObjects(
        LocalStorage(root),
        lambda raw: json.loads(raw),
        lambda value: json.dumps(value).encode(),
        freshness=1.0,
    )


async def _bump(objects: CachedObjects[dict[str, int]], writer: str) -> None:
    async def apply(current: dict[str, int] | None) -> dict[str, int]:
        await asyncio.sleep(0.001)  # widen the window between read and write
        value = dict(current or {})
        value["count"] = value.get("count", 0) + 1
        value[writer] = value.get(writer, 0) + 1
        return value

    await objects.update("projects/big.json", apply)


async def test_many_writers_in_two_processes_all_land(tmp_path: Path) -> None:
    first, second = _objects(tmp_path), _objects(tmp_path)
    writes = 400
    await asyncio.gather(
        *(_bump(first, "first") for _ in range(writes)),
        *(_bump(second, "second") for _ in range(writes)),
    )
    value, _ = await _objects(tmp_path).read("projects/big.json")
    assert value == {"count": 2 * writes, "first": writes, "second": writes}


async def test_a_write_that_always_loses_gives_up_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = _objects(tmp_path)
    monkeypatch.setattr(store, "UPDATE_DEADLINE", 0.3)

    async def losing_put(key: str, data: bytes, **conditions: object) -> str:
        raise ObjectConflict(key)

    monkeypatch.setattr(objects.storage, "put", losing_put)
    started = time.monotonic()
    with pytest.raises(ObjectConflict):
        await _bump(objects, "first")
    assert 0.3 <= time.monotonic() - started < 5


class _CountingStorage(LocalStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gets = 0

    async def get(self, key: str) -> Blob:
        self.gets += 1
        return await super().get(key)

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        self.gets += 1
        return await super().get_if_changed(key, etag)


async def test_a_write_just_after_a_read_does_not_read_again(tmp_path: Path) -> None:
    storage = _CountingStorage(tmp_path)
    objects: CachedObjects[dict[str, int]] = CachedObjects(
        storage, json.loads, lambda v: json.dumps(v).encode(), freshness=1.0
    )
    assert await objects.read("projects/big.json") == (None, None)
    await _bump(objects, "first")
    await _bump(objects, "first")
    assert storage.gets == 1  # the first read; each write started from the copy it had
    assert (await _objects(tmp_path).read("projects/big.json"))[0] == {"count": 2, "first": 2}


async def test_what_a_cached_copy_decides_is_decided_again_on_a_fresh_read(tmp_path: Path) -> None:
    """Another process wrote after this one read: a lost race, a "no change" and a refusal made
    on the old copy are each re-made on the current one."""
    here, there = _objects(tmp_path), _objects(tmp_path)
    key = "projects/big.json"  # the key _bump writes
    await here.update(key, lambda _c: {"count": 1, "yanked": 0})
    await there.update(key, lambda c: {**(c or {}), "count": 2, "yanked": 1})  # here's copy is behind

    await _bump(here, "here")  # a conditional write on the old copy loses, then lands
    assert (await there.read_fresh(key))[0] == {"count": 3, "yanked": 1, "here": 1}

    await there.update(key, lambda c: {**(c or {}), "yanked": 0, "count": 4})
    unyank = lambda c: {**c, "yanked": 0} if c and c["yanked"] else c  # noqa: E731
    await there.update(key, lambda c: {**(c or {}), "yanked": 1})
    value, _ = await here.update(key, unyank)  # "already not yanked" on here's copy: re-decided
    assert value["yanked"] == 0 and (await there.read_fresh(key))[0]["yanked"] == 0

    await there.update(key, lambda c: {**(c or {}), "owner": 7})

    def needs_owner(current: dict[str, int] | None) -> dict[str, int]:
        if not current or "owner" not in current:
            raise LookupError("no owner")
        return {**current, "count": current["count"] + 1}

    value, _ = await here.update(key, needs_owner)  # refused on the old copy, fine on the new
    assert value["owner"] == 7


async def test_the_cache_keeps_to_its_budget_least_recently_used_first() -> None:
    import gc

    from registry_index.storage.memory import MemoryStorage

    storage = MemoryStorage()
    for n in range(50):
        await storage.put(f"k{n}", b"x" * 1000)
    cache: CachedObjects[bytes] = CachedObjects(storage, bytes, bytes, freshness=60.0, budget=10_000)
    for n in range(50):
        await cache.read(f"k{n}")
        if n >= 1:
            assert cache.peek("k0") is not None  # read again each time: the most recently used
    assert cache._weight <= 10_000
    kept = set(cache._cache)
    assert "k0" in kept and "k49" in kept and "k1" not in kept
    assert len(kept) == 10_000 // 1064
    gc.collect()
    assert len(cache._locks) == 0  # no lock left behind for keys no one waits on
