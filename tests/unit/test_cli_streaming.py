"""fsck and verify walk the store in bounded memory, show progress while they work, and still
find what they found when they held every key; the progress line and the import walk."""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import io
import sys
import tracemalloc
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from registry_index.cli.common import ProgressLine
from registry_index.cli.imports import _walk
from registry_index.domain import keys
from registry_index.domain.model import FileEntry, Project, ProjectIndex, Release, to_json
from registry_index.domain.store_walk import ListingOutOfOrder
from registry_index.fsck import fsck
from registry_index.registry import Registry
from registry_index.storage import Blob, ObjectInfo, Storage
from registry_index.storage.memory import MemoryStorage

N = 200  # projects in the small store; the large one has ten times as many
GROWTH = 96 * 1024  # bytes the walk's peak may differ by between the two sizes
Progress = Callable[[int, int | None, str], None]
Run = Callable[[Progress], Coroutine[Any, Any, object]]


class SortedMemoryStorage(MemoryStorage):
    """A memory store that lists from a sorted key list without copying it, like an S3
    listing page by page: MemoryStorage sorts a copy of every key on each list, which would
    put the backend's O(store) buffer into the walk's measured peak."""

    def __init__(self) -> None:
        super().__init__()
        self._sorted: list[str] = []
        self.gets = 0

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        if key not in self._objects:
            bisect.insort(self._sorted, key)
        return await super().put(key, data, create_only=create_only, if_match=if_match)

    async def get(self, key: str) -> Blob:
        self.gets += 1
        return await super().get(key)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        i = bisect.bisect_left(self._sorted, prefix)
        while i < len(self._sorted) and self._sorted[i].startswith(prefix):
            key = self._sorted[i]
            i += 1
            if key in self._objects:  # deleted keys stay in the list, skipped
                data, etag = self._objects[key]
                yield ObjectInfo(key, len(data), etag, self._modified.get(key, 0.0))


def _entry(filename: str, data: bytes, version: str = "1.0") -> FileEntry:
    return FileEntry(
        filename=filename,
        version=version,
        packagetype="sdist",
        python_version="source",
        sha256=hashlib.sha256(data).hexdigest(),
        blake2b_256="",
        md5="",
        size=len(data),
        upload_time="2024-01-01T00:00:00.000000Z",
        uploader="t",
    )


async def _project(storage: Storage, name: str, files: dict[str, bytes], *, store: bool = True) -> Project:
    """A sidecar listing ``files``, written with the files (unless ``store`` is False)."""
    entries = tuple(_entry(f, data) for f, data in files.items())
    project = Project(
        name, name, "2024-01-01T00:00:00.000000Z", releases={"1.0": Release("1.0")}, files=entries
    )
    await storage.put(keys.sidecar(name), to_json(project))
    for entry, data in zip(entries, files.values(), strict=True):
        if store:
            await storage.put(keys.artifact(name, entry.sha256, entry.filename), data)
    return project


async def _synthetic(projects: int) -> SortedMemoryStorage:
    storage = SortedMemoryStorage()
    listed: dict[str, str] = {}
    for i in range(projects):
        name = f"p{i:06d}"
        files = {f"{name}-1.{j}.tar.gz": f"{name} {j}".encode() * 4 for j in range(3)}
        await _project(storage, name, files)
        listed[name] = name
    # The root index as a store from before the change feed holds it: one object, read once.
    await storage.put(keys.PROJECT_INDEX, ProjectIndex(listed).to_json())
    return storage


async def _walk_peak(run: Run) -> tuple[int, int]:
    """(peak of the whole run, peak above the memory at the first progress call).

    The second leaves out what is loaded before the walk starts: the root index, which
    every instance holds (O(projects), not O(files)), and the registry's fixed parts.
    """
    baseline: list[int] = []

    def progress(done: int, total: int | None, label: str) -> None:
        if not baseline:
            baseline.append(tracemalloc.get_traced_memory()[0])
            whole.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()

    whole: list[int] = []
    tracemalloc.start()
    try:
        await run(progress)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return max(whole[0], peak), peak - baseline[0]


def _fsck_run(storage: Storage) -> Run:
    async def run(progress: Progress) -> object:
        report = await fsck(storage, progress=progress)
        assert report.clean, report.problems[:5]
        return report

    return run


def _verify_run(storage: Storage) -> Run:
    async def run(progress: Progress) -> object:
        # The sidecar cache is bounded by its budget: a small one, so that the walk fills it.
        registry = Registry(storage, freshness=0.0, isolate_inspection=False, cache_size=256 * 1024)
        checked = 0
        async for _name, problems in registry.verification.verify_each(None, progress):
            checked += 1
            assert "stored bytes do not match the listed sha256" not in problems
        await registry.close()
        return checked

    return run


@pytest.mark.parametrize("walk", [_fsck_run, _verify_run], ids=["fsck", "verify"])
def test_walk_memory_does_not_grow_with_the_store(
    walk: Callable[[Storage], Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    # pathlib interns every path part: verify's scratch path per file churns the
    # interpreter's table of interned strings, whose occasional resize (about 2 MB, sized by
    # every identifier the interpreter holds, not by the store) would land in one run's peak.
    monkeypatch.setattr(sys, "intern", lambda text: text)
    small, large = asyncio.run(_synthetic(N)), asyncio.run(_synthetic(10 * N))
    asyncio.run(walk(small)(lambda *_: None))  # warm imports and caches of code, not measured
    whole_small, walk_small = asyncio.run(_walk_peak(walk(small)))
    whole_large, walk_large = asyncio.run(_walk_peak(walk(large)))
    print(f"peak: {whole_small} at {3 * N} files, {whole_large} at {30 * N}")
    print(f"walk above start: {walk_small} at {3 * N} files, {walk_large} at {30 * N}")
    assert walk_large <= walk_small + GROWTH, (walk_small, walk_large)


async def test_fsck_reports_progress_while_it_walks() -> None:
    storage = await _synthetic(40)
    seen: list[tuple[int, int | None, int]] = []
    report = await fsck(
        storage, progress=lambda done, total, _label: seen.append((done, total, storage.gets))
    )
    assert report.clean
    assert [done for done, _, _ in seen] == list(range(1, 41))
    assert {total for _, total, _ in seen} == {40}  # from the root index, before the walk
    first_reads = seen[0][2]
    assert first_reads < 10, "the first progress came only after reading most sidecars"


async def test_verify_reports_progress_while_it_walks() -> None:
    storage = await _synthetic(20)
    registry = Registry(storage, freshness=0.0, isolate_inspection=False)
    seen: list[tuple[int, int]] = []
    results = 0
    async for _ in registry.verification.verify_each(None, lambda d, t, _label: seen.append((d, t))):
        results += 1
        if results == 3:
            assert seen and seen[-1][1] == 20  # progress already, with the index's total
    await registry.close()
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 20
    assert results == 60


async def test_fsck_still_finds_every_kind_of_problem() -> None:
    storage = SortedMemoryStorage()
    # "a-b" and "a": the store lists projects/a-b.json before projects/a.json, and
    # files/a-b/ before files/a/, so the join must pair them by name, not by position.
    await _project(storage, "a-b", {"a_b-1.tar.gz": b"fine"})
    good = await _project(storage, "a", {"a-1.tar.gz": b"good", "a-2.tar.gz": b"gone"})
    await storage.delete(keys.artifact("a", good.files[1].sha256, "a-2.tar.gz"))
    bad = await _project(storage, "c", {"c-1.tar.gz": b"right", "c-2.tar.gz": b"size"})
    await storage.put(keys.artifact("c", bad.files[0].sha256, "c-1.tar.gz"), b"wrong")  # same size
    await storage.put(keys.artifact("c", bad.files[1].sha256, "c-2.tar.gz"), b"longer")
    await storage.put("files/a/0000/left-behind.tar.gz", b"x")  # a killed upload's orphan
    await storage.put("files/zz/1111/nobody.tar.gz", b"y")  # files of a project with no sidecar
    await storage.put("files/stray", b"z")  # no project folder at all
    await storage.put(keys.PROJECT_INDEX, ProjectIndex({"a-b": "a-b", "a": "a", "gone": "gone"}).to_json())

    report = await fsck(storage)

    assert report.checked_files == 5
    assert report.problems == [
        "a/a-2.tar.gz: listed but missing",
        "c/c-1.tar.gz: sha256 mismatch",
        "c/c-2.tar.gz: size 6, listed 4",
        "index: project c has a sidecar but is not listed",
        "index: project gone is listed but has no sidecar",
    ]
    assert report.orphans == ["files/a/0000/left-behind.tar.gz", "files/stray", "files/zz/1111/nobody.tar.gz"]

    repaired = await fsck(storage, repair=True, min_orphan_age=0.0)
    assert repaired.removed == repaired.orphans
    assert repaired.index_fixed == ["c", "gone"]
    after = await fsck(storage)
    assert after.orphans == [] and [p for p in after.problems if p.startswith("index:")] == []


async def test_fsck_refuses_a_listing_out_of_order() -> None:
    class Shuffled(MemoryStorage):
        async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
            infos = [info async for info in super().list(prefix)]
            for info in reversed(infos):
                yield info

    storage = Shuffled()
    for name in ("a", "b"):
        await _project(storage, name, {f"{name}-1.tar.gz": b"1"})
    with pytest.raises(ListingOutOfOrder, match="ascending order"):
        await fsck(storage)


def test_progress_line_shows_counts_percentage_and_rate() -> None:
    now = [100.0]
    out = io.StringIO()
    line = ProgressLine("files", stream=out, clock=lambda: now[0], interval=1.0)
    now[0] = 102.0
    line(1, 4, "first")
    now[0] = 102.5
    line(2, 4, "throttled")  # within the interval: not drawn yet
    assert "throttled" not in out.getvalue()
    now[0] = 104.0
    line(3, 4, "third")
    assert f"\r[{'#' * 22}{'-' * 8}] 3/4  75% 0.8 files/s third" in out.getvalue()
    line(4, 4, "last")  # the end is always drawn, with its newline
    assert out.getvalue().endswith("last" + " " * 46 + "\n")


def test_progress_line_counts_when_the_total_is_unknown() -> None:
    now = [0.0]
    out = io.StringIO()
    with ProgressLine("projects", stream=out, clock=lambda: now[0], interval=10.0) as line:
        now[0] = 2.0
        line(10, None, "p1")
        now[0] = 4.0
        line(30, 20, "past the estimate")  # throttled, drawn on leaving
    text = out.getvalue()
    assert "\r10 projects 5.0 projects/s p1" in text
    assert "\r30 projects 7.5 projects/s past the estimate" in text and text.endswith("\n")


def test_import_walk_is_sorted_like_rglob(tmp_path: Path) -> None:
    for rel in ("b/x-1.whl", "a-b/y-1.tar.gz", "a/z-1.zip", "a/skip.txt", "c-1.whl", "a/deep/er/q-1.whl"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    expected = sorted(
        p for p in tmp_path.rglob("*") if p.is_file() and p.name.endswith((".whl", ".tar.gz", ".zip"))
    )
    assert list(_walk(tmp_path)) == expected
