"""Check every listed file against its object, and find objects nothing lists.

A listed file must exist with the listed size and sha256; that is the promise uploads
keep. Orphans (objects no sidecar lists) are what a killed upload leaves behind: harmless,
reported, and removed with --repair once older than ``min_orphan_age`` so an upload in
flight on another instance is never touched.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .domain import keys
from .domain.changes import Change
from .domain.model import SidecarError, from_json
from .domain.repository import ProjectRepository, change_of
from .storage import DecryptionError, ObjectNotFound, Storage
from .storage.capabilities import SupportsStaleUploadCleanup

Progress = Callable[[int, int, str], None]


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
    sidecar_keys = [info.key async for info in storage.list(keys.SIDECARS)]
    listed: set[str] = set()
    wanted: dict[str, Change] = {}  # what the root index should hold for each listed project
    for n, key in enumerate(sidecar_keys, 1):
        try:
            project = from_json((await storage.get(key)).data)
        except (SidecarError, ObjectNotFound, DecryptionError) as exc:
            report.problems.append(f"{key}: unreadable sidecar: {exc}")
            continue
        if project.listed:  # a reservation with no files stays off the root index
            wanted[project.normalized] = change_of(project, "list")
        for entry in project.files:
            report.checked_files += 1
            artifact = keys.artifact(project.normalized, entry.sha256, entry.filename)
            listed.add(artifact)
            try:
                info = await storage.head(artifact)
            except ObjectNotFound:
                report.problems.append(f"{project.normalized}/{entry.filename}: listed but missing")
                continue
            except DecryptionError as exc:
                report.problems.append(f"{project.normalized}/{entry.filename}: {exc}")
                continue
            if info.size != entry.size:
                report.problems.append(
                    f"{project.normalized}/{entry.filename}: size {info.size}, listed {entry.size}"
                )
            else:
                try:
                    if verify_hashes and await _sha256(storage, artifact) != entry.sha256:
                        report.problems.append(f"{project.normalized}/{entry.filename}: sha256 mismatch")
                except DecryptionError as exc:  # tampered with, or sealed with a key not in the ring
                    report.problems.append(f"{project.normalized}/{entry.filename}: {exc}")
            if entry.core_metadata_sha256:
                meta_key = keys.core_metadata(artifact)
                listed.add(meta_key)
                try:
                    ok = await _sha256(storage, meta_key) == entry.core_metadata_sha256
                except (ObjectNotFound, DecryptionError):
                    ok = False
                if not ok:
                    report.problems.append(
                        f"{project.normalized}/{entry.filename}.metadata: missing or wrong"
                    )
            else:
                listed.add(keys.core_metadata(artifact))  # sdists keep PKG-INFO beside them
        if progress:
            progress(n, len(sidecar_keys), project.normalized)

    now = time.time()
    async for info in storage.list(keys.FILES):
        if info.key in listed:
            continue
        report.orphans.append(info.key)
        if repair and now - info.modified >= min_orphan_age:
            await storage.delete(info.key)
            report.removed.append(info.key)

    await _check_index(storage, wanted, repair, report)
    if repair and isinstance(storage, SupportsStaleUploadCleanup):
        await storage.abort_stale_uploads(min_orphan_age)
    return report


async def _check_index(storage: Storage, wanted: dict[str, Change], repair: bool, report: FsckReport) -> None:
    """The root index (folded from the feed) against the sidecars; repaired by feed records."""
    repo = ProjectRepository(storage, freshness=0.0)
    try:
        index, _ = await repo.project_index()
    except DecryptionError as exc:
        report.problems.append(f"root index: {exc}")  # not repaired: look first
        return
    missing = sorted(set(wanted) - set(index.projects))
    extra = sorted(set(index.projects) - set(wanted))
    stale = sorted(
        name
        for name, change in wanted.items()
        if name in index.projects
        and (index.projects[name] != change.name or (name in index.hidden) != change.hidden)
    )
    for name in missing:
        report.problems.append(f"index: project {name} has a sidecar but is not listed")
    for name in extra:
        report.problems.append(f"index: project {name} is listed but has no sidecar")
    if stale:
        report.problems.append("index: display names or quarantine flags are out of date")
    if repair:
        for name in [*missing, *stale]:
            await repo.record(wanted[name])
        for name in extra:
            await repo.record(Change(0, name, "withdraw"), supersede=True)
        report.index_fixed = missing + extra
    await repo.close()
