"""The advisory set in the store: imported whole, replaced atomically, read through a cache.

An import writes the complete new set as one create-only object named by its digest, then
swaps the ``current`` pointer by compare-and-swap, so readers see the old set or the new
one, never a mixture, and a crash mid-import changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..domain.model import utc_now
from ..storage import ObjectConflict, ObjectNotFound, Storage
from ..storage.cached import CachedObjects
from .osv import Advisory, AdvisoryError, affects, parse, pypi_shape

CURRENT = "advisories/current.json"
Progress = Callable[[int, int, str], None]


def set_key(digest: str) -> str:
    return f"advisories/sets/{digest}.json"


_SUFFIXES = (".yaml", ".yml", ".json")


def _record_files(path: Path) -> list[Path]:
    return sorted(f for f in path.rglob("*") if f.is_file() and f.suffix in _SUFFIXES)


def _record_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = (i for i in zf.infolist() if not i.is_dir() and i.filename.endswith(_SUFFIXES))
    return sorted(members, key=lambda i: i.filename)


def _count(path: Path) -> int:
    """How many records ``_sources`` will yield, from names alone (the progress total)."""
    if path.is_dir():
        return len(_record_files(path))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return len(_record_members(zf))
    raise AdvisoryError(f"{path} is neither a folder nor a zip of OSV records")


def _sources(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every .yaml/.yml/.json record in a folder or a zip, one read at a time."""
    if path.is_dir():
        for file in _record_files(path):
            yield str(file.relative_to(path)), file.read_bytes()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in _record_members(zf):
                yield info.filename, zf.read(info)
    else:
        raise AdvisoryError(f"{path} is neither a folder nor a zip of OSV records")


def _decode(name: str, data: bytes) -> Any:
    try:
        if name.endswith(".json"):
            return json.loads(data)
        return yaml.safe_load(data)
    except (ValueError, yaml.YAMLError) as exc:
        raise AdvisoryError(f"{name}: cannot be parsed: {str(exc).splitlines()[0]}") from None


@dataclass
class ImportReport:
    total: int = 0
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "file: reason"
    unchanged: bool = False


def read_records(path: Path, progress: Progress | None = None) -> tuple[dict[str, Any], list[str]]:
    """Valid records by id, and the files skipped with their reason.

    The files are read one at a time (not all their bytes first); the records are kept, as
    the set is stored as one object.
    """
    total = _count(path)
    records: dict[str, Any] = {}
    skipped: list[str] = []
    for n, (name, data) in enumerate(_sources(path), 1):
        try:
            doc = _decode(name, data)
            advisory = parse(doc, name)
            if not advisory.affected:
                raise AdvisoryError(f"{name}: no PyPI package is affected")
            records[advisory.id] = doc
        except AdvisoryError as exc:
            skipped.append(str(exc))
        if progress:
            progress(n, total, name)
    return records, skipped


async def import_advisories(storage: Storage, path: Path, progress: Progress | None = None) -> ImportReport:
    from anyio import to_thread

    records, skipped = await to_thread.run_sync(read_records, path, progress)
    body = json.dumps({"records": records}, sort_keys=True, separators=(",", ":"), default=str).encode()
    digest = hashlib.sha256(body).hexdigest()
    report = ImportReport(total=len(records), skipped=skipped)
    try:
        current = await storage.get(CURRENT)
        pointer, etag = json.loads(current.data), current.etag
        old = json.loads((await storage.get(set_key(pointer["set"]))).data)["records"]
    except ObjectNotFound:
        pointer, etag, old = None, None, {}
    report.added = sorted(set(records) - set(old))
    report.removed = sorted(set(old) - set(records))
    report.changed = sorted(k for k in set(records) & set(old) if records[k] != old[k])
    if pointer is not None and pointer["set"] == digest:
        report.unchanged = True
        return report
    with contextlib.suppress(ObjectConflict):  # the same set was written before
        await storage.put(set_key(digest), body, create_only=True)
    new_pointer = json.dumps({"set": digest, "count": len(records), "imported": utc_now()}).encode()
    if etag is None:
        await storage.put(CURRENT, new_pointer, create_only=True)
    else:
        await storage.put(CURRENT, new_pointer, if_match=etag)
    if pointer is not None and pointer["set"] != digest:
        await storage.delete(set_key(pointer["set"]))
    return report


class AdvisoryDB:
    """The current set, parsed once per version of the pointer and indexed by project."""

    def __init__(self, storage: Storage, freshness: float = 5.0) -> None:
        self.storage = storage
        self._pointer: CachedObjects[dict[str, Any]] = CachedObjects(
            storage,
            json.loads,
            lambda d: json.dumps(d).encode(),
            freshness,
            stale_if_error=3600,
            name="advisories",
        )
        self._loaded: str | None = None
        self._by_project: dict[str, list[Advisory]] = {}

    async def _index(self) -> dict[str, list[Advisory]]:
        pointer, _ = await self._pointer.read(CURRENT)
        digest = pointer["set"] if pointer else None
        if digest != self._loaded:
            by_project: dict[str, list[Advisory]] = {}
            if digest is not None:
                records = json.loads((await self.storage.get(set_key(digest))).data)["records"]
                for doc in records.values():
                    advisory = parse(doc)
                    if advisory.withdrawn:
                        continue
                    for name in advisory.packages():
                        by_project.setdefault(name, []).append(advisory)
            self._by_project, self._loaded = by_project, digest
        return self._by_project

    async def matching(self, project: str, version: str) -> list[Advisory]:
        index = await self._index()
        return [a for a in index.get(project, ()) if affects(a, project, version)]

    async def count(self) -> int:
        return len({a.id for advisories in (await self._index()).values() for a in advisories})


class OsvScanner:
    """The Scanner provider backed by the imported OSV set."""

    def __init__(self, db: AdvisoryDB) -> None:
        self.db = db

    async def vulnerabilities(self, project: str, version: str) -> list[dict[str, Any]]:
        return [pypi_shape(a, project) for a in await self.db.matching(project, version)]

    async def advisories(self, project: str, version: str) -> list[Advisory]:
        return await self.db.matching(project, version)
