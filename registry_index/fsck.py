"""Check every listed file against its object, and find objects nothing lists.

A listed file must exist with the listed size and sha256; that is the promise uploads
keep. Orphans (objects no sidecar lists) are what a killed upload leaves behind: harmless,
reported, and removed with --repair once older than ``min_orphan_age`` so an upload in
flight on another instance is never touched.

The walk holds one project at a time (``domain/store_walk.py`` merge-joins the sorted
listings of sidecars and files), so at 10 million files its memory is that of the largest
project, plus the reports' problems and orphans, plus the root index every instance holds.

A big project's sidecar names segments (runs of its files, ``domain/segments.py``). A
segment it names that is missing or damaged makes the sidecar unreadable (a problem). A
segment no sidecar names (one replaced when its run changed, or written by an upload that
then lost its race) is an orphan, removed with --repair once as old as any other: the
digests named are kept for the walk (big projects only: one per 256 files), then
``segments/`` is listed once and compared.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .domain import keys
from .domain.changes import Change
from .domain.model import FileEntry, Project, ProjectIndex, SidecarError
from .domain.repository import ProjectRepository, change_of
from .domain.segments import decode_sidecar
from .domain.store_walk import ProjectKeys, projects
from .storage import DecryptionError, ObjectInfo, ObjectNotFound, Storage
from .storage.capabilities import SupportsStaleUploadCleanup

# (projects done, projects the root index lists or None, label); done may pass the total,
# which counts listed projects only.
Progress = Callable[[int, int | None, str], None]


@dataclass
class FsckReport:
    checked_files: int = 0
    problems: list[str] = field(default_factory=list)  # listed but missing or wrong
    orphans: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    index_fixed: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems and not self.orphans


async def _sha256(storage: Storage, key: str) -> str:
    digest = hashlib.sha256()
    async for chunk in storage.stream(key):
        digest.update(chunk)
    return digest.hexdigest()


async def fsck(
    storage: Storage,
    *,
    repair: bool = False,
    verify_hashes: bool = True,
    min_orphan_age: float = 3600.0,
    progress: Progress | None = None,
) -> FsckReport:
    report = FsckReport()
    repo = ProjectRepository(storage, freshness=0.0)
    try:
        index = _IndexCheck(repo)
        total = await index.start()
        now = time.time()
        done = 0
        named: set[str] = set()  # the segment keys the sidecars name
        async for found in projects(storage):
            project = await _check_sidecar(repo, found, verify_hashes, report) if found.sidecar else None
            index.see(found, project)
            if project is not None:
                named.update(keys.segment(project.normalized, s.digest) for s in project.sealed)
            listed = _listed_keys(project) if project is not None else set()
            for info in found.files:
                if info.key not in listed:
                    await _orphan(storage, info, repair and now - info.modified >= min_orphan_age, report)
            done += 1
            if progress:
                progress(done, total, f"{found.name} ({report.checked_files} files)")
        async for info in storage.list(keys.SEGMENTS):
            if info.key not in named:
                await _orphan(storage, info, repair and now - info.modified >= min_orphan_age, report)
        await index.finish(repair, report)
    finally:
        await repo.close()
    if repair and isinstance(storage, SupportsStaleUploadCleanup):
        await storage.abort_stale_uploads(min_orphan_age)
    return report


async def _orphan(storage: Storage, info: ObjectInfo, remove: bool, report: FsckReport) -> None:
    """Report an object nothing names; remove it when asked and old enough."""
    report.orphans.append(info.key)
    if remove:
        await storage.delete(info.key)
        report.removed.append(info.key)


def _listed_keys(project: Project) -> set[str]:
    """The keys a sidecar accounts for: each file, and its core metadata (listed or not,
    since sdists keep PKG-INFO beside them)."""
    out: set[str] = set()
    for entry in project.files:
        artifact = keys.artifact(project.normalized, entry.sha256, entry.filename)
        out.update((artifact, keys.core_metadata(artifact)))
    return out


async def _read_sidecar(repo: ProjectRepository, name: str, key: str) -> Project:
    if key != keys.sidecar(name):  # a stray key under projects/: read as the sidecar it claims to be
        return await repo.segments.resolve(decode_sidecar((await repo.storage.get(key)).data))
    project, _ = await repo.load(name)  # past the cache, which a walk would only churn
    if project is None:
        raise ObjectNotFound(key)  # deleted since it was listed
    return project


async def _check_sidecar(
    repo: ProjectRepository, found: ProjectKeys, verify_hashes: bool, report: FsckReport
) -> Project | None:
    storage = repo.storage
    key = found.sidecar
    assert key is not None
    try:
        project = await _read_sidecar(repo, found.name, key)
    except (SidecarError, ObjectNotFound, DecryptionError) as exc:
        report.problems.append(f"{key}: unreadable sidecar: {exc}")
        return None
    for entry in project.files:
        report.checked_files += 1
        await _check_file(storage, project.normalized, entry, verify_hashes, report)
    return project


async def _check_file(
    storage: Storage, name: str, entry: FileEntry, verify_hashes: bool, report: FsckReport
) -> None:
    artifact = keys.artifact(name, entry.sha256, entry.filename)
    try:
        info = await storage.head(artifact)
    except ObjectNotFound:
        report.problems.append(f"{name}/{entry.filename}: listed but missing")
        return
    except DecryptionError as exc:
        report.problems.append(f"{name}/{entry.filename}: {exc}")
        return
    if info.size != entry.size:
        report.problems.append(f"{name}/{entry.filename}: size {info.size}, listed {entry.size}")
    else:
        try:
            if verify_hashes and await _sha256(storage, artifact) != entry.sha256:
                report.problems.append(f"{name}/{entry.filename}: sha256 mismatch")
        except DecryptionError as exc:  # tampered with, or sealed with a key not in the ring
            report.problems.append(f"{name}/{entry.filename}: {exc}")
    if entry.core_metadata_sha256:
        try:
            ok = await _sha256(storage, keys.core_metadata(artifact)) == entry.core_metadata_sha256
        except (ObjectNotFound, DecryptionError):
            ok = False
        if not ok:
            report.problems.append(f"{name}/{entry.filename}.metadata: missing or wrong")


class _IndexCheck:
    """The root index (folded from the feed) against the sidecars, one project at a time.

    Instead of a map of every project, the walk keeps what is wrong (bounded by the
    problems) and a count of the projects it found listed. A project listed with no
    sidecar is the count's shortfall; only then is the sidecar listing read into a set of
    names, to say which.
    """

    def __init__(self, repo: ProjectRepository) -> None:
        self._repo = repo
        self._index: ProjectIndex | None = None
        self._error = ""
        self._matched = 0  # sidecars that should be listed, and are
        self._missing: list[Change] = []  # should be listed, and are not (yet)
        self._stale: list[Change] = []  # listed under an old display name or quarantine flag
        self._unwanted: list[str] = []  # listed, with a sidecar that should not be

    async def start(self) -> int | None:
        """Read the root index; returns how many projects it lists (the walk's total)."""
        try:
            self._index, _ = await self._repo.project_index()
        except DecryptionError as exc:
            self._error = f"root index: {exc}"  # not repaired: look first
            return None
        return len(self._index.projects)

    def see(self, found: ProjectKeys, project: Project | None) -> None:
        index = self._index
        if index is None or (project is None and found.sidecar is None):
            return
        if project is None or not project.listed:  # unreadable, or a reservation with no files
            name = project.normalized if project is not None else found.name
            if name in index.projects:
                self._unwanted.append(name)
            return
        change = change_of(project, "list")
        if project.normalized not in index.projects:
            self._missing.append(change)
            return
        self._matched += 1
        if _is_stale(index, change):
            self._stale.append(change)

    async def finish(self, repair: bool, report: FsckReport) -> None:
        if self._index is None:
            if self._error:
                report.problems.append(self._error)
            return
        try:  # caught up with the feed: projects added while the walk went on are no problem
            index, _ = await self._repo.project_index()
        except DecryptionError as exc:
            report.problems.append(f"root index: {exc}")
            return
        # Sorted by name, as before: the walk's order is the store's, where "a-b" precedes "a".
        missing = sorted((c for c in self._missing if c.project not in index.projects), key=_project)
        late = [c for c in self._missing if c.project in index.projects]
        stale = sorted((c for c in [*self._stale, *late] if _is_stale(index, c)), key=_project)
        unwanted = {n for n in self._unwanted if n in index.projects}
        extra = sorted(unwanted | await self._unbacked(index, self._matched + len(late) + len(unwanted)))
        for change in missing:
            report.problems.append(f"index: project {change.project} has a sidecar but is not listed")
        for name in extra:
            report.problems.append(f"index: project {name} is listed but has no sidecar")
        if stale:
            report.problems.append("index: display names or quarantine flags are out of date")
        if repair:
            for change in [*missing, *stale]:
                await self._repo.record(change)
            for name in extra:
                await self._repo.record(Change(0, name, "withdraw"), supersede=True)
            report.index_fixed = [c.project for c in missing] + extra

    async def _unbacked(self, index: ProjectIndex, accounted: int) -> set[str]:
        """Listed projects with no sidecar at all: none when the count adds up."""
        if accounted >= len(index.projects):
            return set()
        names = {name async for name in self._repo.names()}  # O(projects), on this error path only
        return {name for name in index.projects if name not in names}


def _project(change: Change) -> str:
    return change.project


def _is_stale(index: ProjectIndex, change: Change) -> bool:
    return (
        index.projects.get(change.project) != change.name or (change.project in index.hidden) != change.hidden
    )
