"""The change feed and the root index folded from it: gap-free across instances, O(1) per
change, snapshots that a fresh instance starts from, and ranks that settle racing writers."""

from __future__ import annotations

import asyncio
import json

import pytest

from registry_index.domain import keys, root_index
from registry_index.domain.changes import Change, ChangeFeed
from registry_index.domain.model import ProjectIndex
from registry_index.domain.root_index import RootIndex
from registry_index.storage.memory import MemoryStorage


def listed(name: str, serial: int = 1, created: str = "2026-01-01T00:00:00Z", hidden: bool = False) -> Change:
    return Change(
        0,
        name,
        "update",
        name=name.title(),
        listed=True,
        hidden=hidden,
        created=created,
        project_serial=serial,
    )


def instance(storage: MemoryStorage) -> tuple[ChangeFeed, RootIndex]:
    feed = ChangeFeed(storage)
    return feed, RootIndex(storage, feed, freshness=0.0)


async def append(feed: ChangeFeed, root: RootIndex, change: Change, supersede: bool = False) -> Change:
    await root.ready()
    done = await feed.append(change, supersede=supersede)
    root.after_append(done)
    return done


async def test_two_instances_appending_at_once_leave_one_gap_free_sequence() -> None:
    storage = MemoryStorage()
    (feed_a, root_a), (feed_b, root_b) = instance(storage), instance(storage)

    async def writer(feed: ChangeFeed, root: RootIndex, prefix: str) -> list[int]:
        serials = []
        for n in range(150):
            serials.append((await append(feed, root, listed(f"{prefix}-{n}"))).serial)
            if n % 7 == 0:
                await asyncio.sleep(0)
        return serials

    got_a, got_b = await asyncio.gather(writer(feed_a, root_a, "a"), writer(feed_b, root_b, "b"))
    assert sorted(got_a + got_b) == list(range(1, 301))  # nothing lost, nothing numbered twice
    stored = sorted(k for k in storage._objects if k.startswith(keys.CHANGES))
    assert stored == [keys.change(n) for n in range(1, 301)]
    for feed, root in ((feed_a, root_a), (feed_b, root_b)):
        index, etag = await root.current()
        assert feed.head == 300
        assert len(index.projects) == 300
        assert etag == "r300"


async def test_an_older_sidecar_appended_late_does_not_undo_a_newer_one() -> None:
    storage = MemoryStorage()
    feed, root = instance(storage)
    await append(feed, root, listed("pkg", serial=6))
    renamed = Change(
        0, "pkg", "update", name="PKG", listed=True, created="2026-01-01T00:00:00Z", project_serial=5
    )
    await append(feed, root, renamed)  # serial 5 of the sidecar, recorded after serial 6
    index, _ = await root.current()
    assert index.projects == {"pkg": "Pkg"}


async def test_a_deletion_outranks_what_came_before_and_a_new_project_outranks_it() -> None:
    storage = MemoryStorage()
    feed, root = instance(storage)
    await append(feed, root, listed("pkg", serial=3))
    gone = await append(feed, root, Change(0, "pkg", "delete"), supersede=True)
    assert gone.rank == ("2026-01-01T00:00:00Z", 4)
    assert "pkg" not in (await root.current())[0].projects
    await append(feed, root, listed("pkg", serial=3))  # a late record of the deleted one: ignored
    assert "pkg" not in (await root.current())[0].projects
    await append(feed, root, listed("pkg", serial=0, created="2026-02-01T00:00:00Z"))  # created again
    assert "pkg" in (await root.current())[0].projects


async def test_quarantine_hides_a_listed_project() -> None:
    storage = MemoryStorage()
    feed, root = instance(storage)
    await append(feed, root, listed("pkg"))
    await append(feed, root, listed("pkg", serial=2, hidden=True))
    index, _ = await root.current()
    assert "pkg" in index.projects and "pkg" in index.hidden


async def test_a_fresh_instance_starts_from_the_snapshot_and_the_feed_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(root_index, "SNAPSHOT_EVERY", 10)
    storage = MemoryStorage()
    feed, root = instance(storage)
    for n in range(25):
        await append(feed, root, listed(f"p{n}"))
    await asyncio.sleep(0.05)  # the snapshots at 10 and 20 run in the background
    pointer = json.loads(storage._objects[keys.ROOT_INDEX][0])
    assert pointer["serial"] in (20, 21, 22, 23, 24, 25)
    assert len(pointer["shards"]) == root_index.SHARDS

    reads: list[str] = []
    original = storage.get

    async def counting_get(key: str):  # type: ignore[no-untyped-def]
        reads.append(key)
        return await original(key)

    monkeypatch.setattr(storage, "get", counting_get)
    fresh_feed, fresh = instance(storage)
    index, _ = await fresh.current()
    assert sorted(index.projects) == sorted(f"p{n}" for n in range(25))
    change_reads = [k for k in reads if k.startswith(keys.CHANGES)]
    # Only the records after the pointer's serial are read (and the one probe that finds none).
    assert len(change_reads) <= 25 - pointer["serial"] + 2
    assert fresh_feed.head == 25


async def test_a_second_snapshot_rewrites_only_the_shards_that_changed() -> None:
    storage = MemoryStorage()
    feed, root = instance(storage)
    for n in range(5):
        await append(feed, root, listed(f"p{n}"))
    assert await root.snapshot() == 5
    first = json.loads(storage._objects[keys.ROOT_INDEX][0])["shards"]
    await append(feed, root, listed("newcomer"))
    assert await root.snapshot() == 6
    second = json.loads(storage._objects[keys.ROOT_INDEX][0])["shards"]
    changed = [i for i in range(root_index.SHARDS) if first[i] != second[i]]
    assert changed == [root_index.shard_of("newcomer")]
    assert await root.snapshot() == 0  # nothing new: nothing written


async def test_racing_snapshots_of_two_instances_keep_the_newer_pointer() -> None:
    storage = MemoryStorage()
    (feed_a, root_a), (feed_b, root_b) = instance(storage), instance(storage)
    for n in range(8):
        await append(feed_a, root_a, listed(f"p{n}"))
    await feed_b.catch_up()
    await root_b.ready()
    results = await asyncio.gather(root_a.snapshot(), root_b.snapshot())
    assert 8 in results
    assert json.loads(storage._objects[keys.ROOT_INDEX][0])["serial"] == 8


async def test_a_store_from_before_the_feed_is_read_then_left_alone() -> None:
    storage = MemoryStorage()
    legacy = ProjectIndex({"old": "Old", "hid": "Hid"}, frozenset({"hid"}))
    await storage.put(keys.PROJECT_INDEX, legacy.to_json())
    feed, root = instance(storage)
    index, _ = await root.current()
    assert index.projects == {"old": "Old", "hid": "Hid"} and index.hidden == {"hid"}
    await append(feed, root, listed("new"))
    await root.snapshot()
    before = storage._objects[keys.PROJECT_INDEX]
    _, fresh = instance(storage)
    index, _ = await fresh.current()
    assert sorted(index.projects) == ["hid", "new", "old"]
    assert storage._objects[keys.PROJECT_INDEX] == before


async def test_since_serves_recent_records_and_reads_older_ones_from_the_store() -> None:
    storage = MemoryStorage()
    feed, root = instance(storage)
    for n in range(12):
        await append(feed, root, listed(f"p{n}"))
    assert [c.serial for c in await feed.since(9, 100)] == [10, 11, 12]
    other = ChangeFeed(storage)
    other.start_at(12)  # knows nothing before 12 in memory: reads them
    assert [c.project for c in await other.since(2, 3)] == ["p2", "p3", "p4"]  # serials 3-5
