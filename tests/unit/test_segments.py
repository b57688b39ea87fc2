"""Big projects' sidecars in sealed segments: an upload into a 10,000-file project writes what
one into a 300-file project does, and every reader still sees the whole project."""

from __future__ import annotations

import asyncio
import json

import pytest

from registry_index.domain import keys
from registry_index.domain.model import FileEntry, Project, Release, SidecarError, to_json
from registry_index.domain.repository import ProjectRepository
from registry_index.domain.segments import SEGMENT_FILES, decode_sidecar, encode_sidecar, seal
from registry_index.storage.memory import MemoryStorage

S = SEGMENT_FILES


class CountingStorage(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.written: dict[str, int] = {}
        self.reads: list[str] = []

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        self.written[key] = self.written.get(key, 0) + len(data)
        return await super().put(key, data, create_only=create_only, if_match=if_match)

    async def get(self, key: str):  # type: ignore[no-untyped-def]
        self.reads.append(key)
        return await super().get(key)

    async def get_if_changed(self, key: str, etag: str):  # type: ignore[no-untyped-def]
        self.reads.append(key)
        return await super().get_if_changed(key, etag)

    def project_bytes(self) -> int:
        return sum(n for k, n in self.written.items() if k.startswith((keys.SIDECARS, keys.SEGMENTS)))


def entry(n: int, version: str | None = None) -> FileEntry:
    version = version or f"{n // 2}.0"
    return FileEntry(
        filename=f"big-{version}-{n}-py3-none-any.whl",
        version=version,
        packagetype="bdist_wheel",
        python_version="py3",
        sha256=f"{n:064x}",
        blake2b_256=f"{n:064x}",
        md5=f"{n:032x}",
        size=1000 + n,
        upload_time="2026-12-07T00:00:00.000000Z",
        uploader="alice",
        requires_python=">=3.9",
    )


def release(version: str) -> Release:
    return Release(version, summary=f"release {version}", metadata={"requires_dist": ["numpy>=1"]})


def add(project: Project | None, n: int) -> Project:
    base = project or Project.new("Big", "big", ("alice",))
    e = entry(n)
    return base.with_file("Big", e, release(e.version))


async def grow(repo: ProjectRepository, upto: int, start: int = 0) -> Project:
    project = None
    for n in range(start, upto):
        project, _ = await repo.update_project("big", lambda p, n=n: add(p, n))
    assert project is not None
    return project


async def test_a_small_project_keeps_the_old_sidecar_format() -> None:
    storage = CountingStorage()
    repo = ProjectRepository(storage)
    await grow(repo, S - 1)
    doc = json.loads((await storage.get(keys.sidecar("big"))).data)
    assert doc["schema"] == 1 and len(doc["files"]) == S - 1 and "segments" not in doc
    assert not any(k.startswith(keys.SEGMENTS) for k in storage.written)


async def test_an_upload_into_a_big_project_writes_what_one_into_a_small_project_does() -> None:
    storage = CountingStorage()
    repo = ProjectRepository(storage)

    async def bytes_per_upload_over_one_segment(start: int) -> float:
        # Over S uploads in a row: the sidecar's inline files cycle through 0..S-1 once and
        # one segment is sealed, whatever the project's size.
        before = storage.project_bytes()
        await grow(repo, start + S, start)
        return (storage.project_bytes() - before) / S

    await grow(repo, S)
    small = await bytes_per_upload_over_one_segment(S)  # files S..2S
    await grow(repo, 12 * S, 2 * S)  # now 3,072 files
    big = await bytes_per_upload_over_one_segment(12 * S)  # files 12S..13S
    assert big < small * 1.25, (small, big)
    # A whole-sidecar rewrite would cost ~25x more here: each upload into the big project
    # rewrites far less than the project holds.
    whole = len(to_json((await repo.project("big"))[0]))
    assert big < whole / 10, (big, whole)


async def test_every_reader_sees_the_whole_project_and_reads_each_segment_once() -> None:
    storage = CountingStorage()
    writer = ProjectRepository(storage)
    written = await grow(writer, 3 * S + 7)
    reader = ProjectRepository(storage, freshness=0.0)  # a second instance: its own caches
    seen, _ = await reader.project("big")
    assert seen is not None
    assert seen.files == written.files and seen.releases == written.releases
    assert sum(1 for k in storage.reads if k.startswith(keys.SEGMENTS)) == 3
    head = json.loads((await storage.get(keys.sidecar("big"))).data)
    assert head["schema"] == 2 and len(head["files"]) == 7 and len(head["segments"]) == 3

    await grow(writer, 3 * S + 9, 3 * S + 7)  # two more uploads by the other instance
    storage.reads.clear()
    again, _ = await reader.project("big")
    assert again is not None and len(again.files) == 3 * S + 9
    assert storage.reads == [keys.sidecar("big")]  # the sidecar alone: segments are kept
    loaded, _ = await reader.load("big")  # the uncached read of scans: the same project
    assert loaded is not None and loaded.files == again.files


async def test_a_yank_of_a_sealed_release_reseals_only_its_segment_and_every_reader_sees_it() -> None:
    storage = CountingStorage()
    repo = ProjectRepository(storage)
    project = await grow(repo, 4 * S)
    segments_before = {k for k in storage.written if k.startswith(keys.SEGMENTS)}
    assert len(segments_before) == 4
    version = project.files[S + 10].version  # in the second segment
    key = next(k for k, r in project.releases.items() if r.version == version)
    yanked, _ = await repo.update_project("big", lambda p: p.with_yank(key, True, "broken"))
    new_segments = {k for k in storage.written if k.startswith(keys.SEGMENTS)} - segments_before
    assert len(new_segments) == 1
    reader = ProjectRepository(storage)
    seen, _ = await reader.project("big")
    assert seen is not None and seen.releases[key].yanked and seen.releases[key].yanked_reason == "broken"
    assert seen.files == yanked.files and seen.releases == yanked.releases


async def test_deleting_a_sealed_file_keeps_every_other_file() -> None:
    storage = CountingStorage()
    repo = ProjectRepository(storage)
    project = await grow(repo, 2 * S + 3)
    gone = project.files[5]
    await repo.update_project("big", lambda p: p.without_files([gone], tombstone=True))
    seen, _ = await ProjectRepository(storage).project("big")
    assert seen is not None
    assert [f.filename for f in seen.files] == [f.filename for f in project.files if f is not gone]
    assert gone.filename in seen.tombstones


async def test_racing_instances_lose_no_upload_into_a_big_project() -> None:
    storage = MemoryStorage()
    await grow(ProjectRepository(storage), 2 * S - 5)
    a, b = ProjectRepository(storage), ProjectRepository(storage)

    async def upload(repo: ProjectRepository, n: int) -> None:
        await repo.update_project("big", lambda p: add(p, n))

    await asyncio.gather(*(upload(a if n % 2 else b, n) for n in range(2 * S - 5, 2 * S + 40)))
    seen, _ = await ProjectRepository(storage).project("big")
    assert seen is not None and len(seen.files) == 2 * S + 40
    assert len({f.filename for f in seen.files}) == 2 * S + 40


async def test_a_damaged_or_missing_segment_is_an_error_not_a_shorter_project() -> None:
    storage = MemoryStorage()
    await grow(ProjectRepository(storage), S + 1)
    segment = sorted([i.key async for i in storage.list(keys.SEGMENTS)])[0]
    await storage.put(segment, b'{"schema":2,"files":[],"releases":{}}')
    with pytest.raises(SidecarError, match="does not match its digest"):
        await ProjectRepository(storage).project("big")
    await storage.delete(segment)
    with pytest.raises(SidecarError, match="missing from the store"):
        await ProjectRepository(storage).project("big")


async def test_deleting_a_project_deletes_its_segments() -> None:
    storage = MemoryStorage()
    repo = ProjectRepository(storage)
    await grow(repo, 2 * S)
    await repo.delete_project("big")
    assert [i.key async for i in storage.list(keys.SEGMENTS)] == []
    assert keys.project_of(keys.segment("big", "0" * 64)) == "big"


def test_sealing_is_pure_and_stable() -> None:
    project = None
    for n in range(2 * S + 1):
        project = add(project, n)
    assert project is not None
    sealed, new = seal(project)
    assert len(new) == 2 and len(sealed.sealed) == 2
    again, more = seal(sealed.with_status("archived"))
    assert more == [] and again.sealed == sealed.sealed  # nothing sealed changed: nothing to write
    head = decode_sidecar(encode_sidecar(sealed))
    assert len(head.files) == 1 and [s.digest for s in head.sealed] == [s.digest for s in sealed.sealed]


async def test_fsck_finds_a_replaced_segment_and_repair_removes_it() -> None:
    from registry_index.fsck import fsck

    storage = MemoryStorage()
    repo = ProjectRepository(storage)
    project = await grow(repo, 2 * S)
    before = {i.key async for i in storage.list(keys.SEGMENTS)}
    key = next(iter(project.releases))  # in the first segment: yanking it reseals that one
    await repo.update_project("big", lambda p: p.with_yank(key, True, "broken"))
    after = {i.key async for i in storage.list(keys.SEGMENTS)}
    (old,) = before - await _named(storage)  # the run changed: its old segment is named no more
    assert old in after  # and is still stored: segments are create-only

    report = await fsck(storage, verify_hashes=False)
    assert report.orphans == [old]  # the files themselves are not stored in this test: problems
    assert not any("segment" in p for p in report.problems)
    kept = await fsck(storage, repair=True, verify_hashes=False, min_orphan_age=3600)
    assert kept.removed == []  # too young: it could be an upload's, in flight
    repaired = await fsck(storage, repair=True, verify_hashes=False, min_orphan_age=0)
    assert repaired.removed == [old]
    assert {i.key async for i in storage.list(keys.SEGMENTS)} == after - {old}
    seen, _ = await ProjectRepository(storage).project("big")
    assert seen is not None and len(seen.files) == 2 * S and seen.releases[key].yanked


async def test_fsck_reports_a_missing_segment_as_a_problem() -> None:
    from registry_index.fsck import fsck

    storage = MemoryStorage()
    await grow(ProjectRepository(storage), S + 1)
    (segment,) = [i.key async for i in storage.list(keys.SEGMENTS)]
    await storage.delete(segment)
    report = await fsck(storage, verify_hashes=False)
    assert any("unreadable sidecar" in p and "missing from the store" in p for p in report.problems)


async def _named(storage: MemoryStorage) -> set[str]:
    blob = await storage.get(keys.sidecar("big"))
    return {keys.segment("big", s["digest"]) for s in json.loads(blob.data)["segments"]}
