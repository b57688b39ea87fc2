"""Compare-and-swap updates under contention, as two importers into one project create it."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from registry_index.storage import ObjectConflict
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
