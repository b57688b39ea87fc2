"""The project model: a project's sidecar as immutable values, and its pure transitions.

Every change to a project is one of the transitions below, applied inside the repository's
compare-and-swap, so it may run more than once and must not do I/O. The JSON encoding is
documented in docs/storage.md; bump SCHEMA and keep ``from_json`` reading the older shapes
when it changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from ..names import canonical_version

SCHEMA = 1

Status = Literal["active", "archived", "quarantined", "deprecated"]
STATUSES: tuple[Status, ...] = ("active", "archived", "quarantined", "deprecated")
Role = Literal["owner", "maintainer"]


class SidecarError(ValueError):
    """A sidecar object that this version cannot read."""


def utc_now() -> str:
    """UTC with microseconds and a literal Z, as PEP 700 wants (never +00:00)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class FileEntry:
    filename: str
    version: str  # the display version of the release this file belongs to
    packagetype: str  # "sdist" | "bdist_wheel"
    python_version: str
    sha256: str
    blake2b_256: str
    md5: str
    size: int
    upload_time: str
    uploader: str
    requires_python: str | None = None
    core_metadata_sha256: str | None = None  # wheels only (PEP 658)


@dataclass(frozen=True, slots=True)
class Release:
    version: str  # display string from the first upload
    summary: str = ""
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)  # core-metadata fields, JSON-safe


@dataclass(frozen=True, slots=True)
class Sealed:
    """One segment of a big project's files (``domain/segments.py``): its digest and, once
    read, its files and their releases."""

    digest: str
    count: int  # files in it
    files: tuple[FileEntry, ...] = ()
    releases: Mapping[str, Release] | None = None  # None: named by a sidecar, not yet read
    size: int = 0  # stored bytes

    @property
    def loaded(self) -> bool:
        return self.releases is not None


@dataclass(frozen=True, slots=True)
class Project:
    name: str  # display name, updated to the spelling of the latest upload
    normalized: str
    created: str
    owners: tuple[str, ...] = ()
    maintainers: tuple[str, ...] = ()
    status: Status = "active"
    status_reason: str = ""
    serial: int = 0
    releases: dict[str, Release] = field(default_factory=dict)  # canonical version → Release
    files: tuple[FileEntry, ...] = ()
    # Filenames of deleted files: a file with the same identity can never be uploaded again.
    tombstones: tuple[str, ...] = ()
    # Hosted here whether or not it has files: never looked up upstream (issue 14).
    reserved: bool = False
    # A big project's files in sealed segments (domain/segments.py); the first runs of files.
    sealed: tuple[Sealed, ...] = field(default=(), compare=False, repr=False)
    _by_filename: dict[str, FileEntry] | None = field(default=None, init=False, repr=False, compare=False)

    def file(self, filename: str) -> FileEntry | None:
        """O(1) after the first call on this (immutable) value: downloads look files up by name."""
        by_filename = self._by_filename
        if by_filename is None:
            by_filename = {entry.filename: entry for entry in self.files}
            object.__setattr__(self, "_by_filename", by_filename)
        return by_filename.get(filename)

    @classmethod
    def new(
        cls, name: str, normalized: str, owners: tuple[str, ...], tombstones: Iterable[str] = ()
    ) -> Project:
        """A project before its first file; it inherits a deleted namesake's tombstones."""
        return cls(
            name=name, normalized=normalized, created=utc_now(), owners=owners, tombstones=tuple(tombstones)
        )

    def bump(self, **changes: Any) -> Project:
        """The next version of this project: every change raises the serial (PEP 700)."""
        return replace(self, serial=self.serial + 1, **changes)

    def may_write(self, user: str) -> bool:
        return user in self.owners or user in self.maintainers

    @property
    def listed(self) -> bool:
        """Whether the root index lists it: a reserved name with no files is not there yet."""
        return bool(self.files) or not self.reserved

    @property
    def claimable(self) -> bool:
        """A reserved name nobody has uploaded to yet: its first uploader becomes its owner,
        as for a new project (an admin reserved it so that it could be published here)."""
        return self.reserved and not self.files and not self.owners and not self.maintainers

    @property
    def disposable(self) -> bool:
        """Nothing here but the reservation: unreserving it frees the name."""
        return not self.files and not self.owners and not self.maintainers

    def with_reserved(self, reserved: bool) -> Project:
        """The project reserved (hosted here only, files or not) or not; itself if unchanged."""
        return self if self.reserved == reserved else self.bump(reserved=reserved)

    def with_file(self, display_name: str, entry: FileEntry, release: Release) -> Project:
        """The project with one more file, of the release ``release`` describes.

        A new version takes ``release`` whole. For a known one, a wheel's metadata (static)
        replaces what an sdist's PKG-INFO (possibly dynamic) gave; yanks and the display
        version stay. The file takes the release's display version, and the project
        ``display_name``, the spelling of the latest upload.
        """
        key = canonical_version(release.version)
        releases = dict(self.releases)
        current = releases.get(key)
        if current is None:
            releases[key] = release
        elif release.metadata.get("from_wheel") and not current.metadata.get("from_wheel"):
            releases[key] = replace(current, metadata=release.metadata)
        entry = replace(entry, version=releases[key].version)
        return self.bump(name=display_name, releases=releases, files=(*self.files, entry))

    def with_yank(self, version_key: str, yanked: bool, reason: str = "") -> Project:
        """The project with one release yanked or restored; KeyError for an unknown version."""
        release = self.releases[version_key]
        releases = {
            **self.releases,
            version_key: replace(release, yanked=yanked, yanked_reason=reason if yanked else ""),
        }
        return self.bump(releases=releases)

    def with_status(self, status: Status, reason: str = "") -> Project:
        return self.bump(status=status, status_reason=reason)

    def with_role(self, user: str, role: Role, present: bool) -> Project:
        """The project with ``user`` added to or removed from its owners or maintainers."""
        field_name = "owners" if role == "owner" else "maintainers"
        members = list(getattr(self, field_name))
        if present and user not in members:
            members.append(user)
        elif not present and user in members:
            members.remove(user)
        return self.bump(**{field_name: tuple(members)})

    def without_member(self, user: str) -> Project:
        """The project with ``user`` in none of its roles (an account removed)."""
        return self.bump(
            owners=tuple(u for u in self.owners if u != user),
            maintainers=tuple(u for u in self.maintainers if u != user),
        )

    def without_files(self, removed: Iterable[FileEntry], *, tombstone: bool) -> Project:
        """The project without these files (and releases left empty).

        ``tombstone`` keeps their names so that no file of the same identity is uploaded
        again; a failed upload taken back leaves none.
        """
        gone = set(removed)
        keep = tuple(f for f in self.files if f not in gone)
        versions = {canonical_version(f.version) for f in keep}
        releases = {k: v for k, v in self.releases.items() if k in versions}
        graves = self.tombstones
        if tombstone:
            graves = tuple(sorted({*graves, *(f.filename for f in gone)}))
        return self.bump(files=keep, releases=releases, tombstones=graves)


_FILE_FIELDS = tuple(f.name for f in fields(FileEntry))
_RELEASE_FIELDS = tuple(f.name for f in fields(Release))
_PROJECT_FIELDS = tuple(
    f.name for f in fields(Project) if f.init and f.name not in ("releases", "files", "sealed")
)


def to_json(project: Project) -> bytes:
    """A sidecar without segments (schema 1)."""
    doc = project_doc(project)
    doc["schema"] = SCHEMA
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def project_doc(project: Project) -> dict[str, Any]:
    """The sidecar's fields as JSON-ready values, with the files and releases it holds."""
    # Every publish rewrites the sidecar: walk the fields directly, as asdict() deep-copies
    # everything (it was most of the time spent importing into a 1,000-file project).
    doc: dict[str, Any] = {name: getattr(project, name) for name in _PROJECT_FIELDS}
    if not project.reserved:
        # Written only when set: a build from before reservations still reads every sidecar
        # that is not reserved (several versions may share a store during an upgrade).
        del doc["reserved"]
    doc["releases"] = {
        key: {name: getattr(r, name) for name in _RELEASE_FIELDS} for key, r in project.releases.items()
    }
    doc["files"] = [{name: getattr(f, name) for name in _FILE_FIELDS} for f in project.files]
    return doc


def from_json(data: bytes) -> Project:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise SidecarError(f"sidecar is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise SidecarError("sidecar is not a JSON object")
    schema = doc.pop("schema", None)
    if schema != SCHEMA:
        raise SidecarError(f"sidecar schema {schema!r} is not supported here (read it with domain.segments)")
    return from_doc(doc)


def from_doc(doc: dict[str, Any]) -> Project:
    """A project from a sidecar's fields (its schema already checked and removed)."""
    try:
        releases = {k: Release(**v) for k, v in doc.pop("releases").items()}
        files = tuple(FileEntry(**f) for f in doc.pop("files"))
        doc["owners"] = tuple(doc["owners"])
        doc["maintainers"] = tuple(doc["maintainers"])
        doc["tombstones"] = tuple(doc.get("tombstones", ()))
        doc["reserved"] = bool(doc.get("reserved", False))
        return Project(releases=releases, files=files, **doc)
    except (KeyError, TypeError) as exc:
        raise SidecarError(f"sidecar is malformed: {exc}") from exc


class RootSegments(Protocol):
    """The root listing split into shards, for a page rebuilt only where it changed."""

    def versions(self) -> Sequence[int]:
        """Per shard, the serial of the last change to what it shows."""
        ...

    def segment(self, shard: int) -> list[tuple[str, str]]:
        """(normalized, display name) of the shard's shown projects, in normalized order."""
        ...


@dataclass(frozen=True, slots=True)
class ProjectIndex:
    """The root listing: normalized name → display name, for projects that may be listed."""

    projects: Mapping[str, str] = field(default_factory=dict)  # a view over the root index's shards
    hidden: frozenset[str] = frozenset()  # quarantined projects stay out of /simple/
    serial: int = 0  # the change-feed serial of the last change to the listing
    # The same listing in shards, each with a version, so /simple/ is rebuilt shard by shard.
    segments: RootSegments | None = field(default=None, compare=False, repr=False)

    def lists(self, project: Project) -> bool:
        """Whether the index shows the project as it is now: under its current name and
        quarantine state, or not at all while it is a reservation with no files."""
        if not project.listed:
            return project.normalized not in self.projects and project.normalized not in self.hidden
        return self.projects.get(project.normalized) == project.name and (
            (project.normalized in self.hidden) == (project.status == "quarantined")
        )

    def listing(self, projects: Iterable[Project]) -> ProjectIndex:
        """This index with the projects listed as they are now; itself when nothing changes."""
        stale = [p for p in projects if not self.lists(p)]
        if not stale:
            return self
        listed, hide = dict(self.projects), set(self.hidden)
        for project in stale:
            if not project.listed:
                listed.pop(project.normalized, None)
                hide.discard(project.normalized)
                continue
            listed[project.normalized] = project.name
            (hide.add if project.status == "quarantined" else hide.discard)(project.normalized)
        return ProjectIndex(listed, frozenset(hide))

    def without(self, normalized: str) -> ProjectIndex:
        projects = {k: v for k, v in self.projects.items() if k != normalized}
        return ProjectIndex(projects, self.hidden - {normalized})

    def to_json(self) -> bytes:
        doc = {"schema": SCHEMA, "projects": dict(self.projects), "hidden": sorted(self.hidden)}
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ProjectIndex:
        doc = json.loads(data)
        if doc.get("schema") != SCHEMA:
            raise SidecarError(f"project index schema {doc.get('schema')!r} is not supported")
        return cls(dict(doc["projects"]), frozenset(doc.get("hidden", ())))
