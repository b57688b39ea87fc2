"""What may be added to a project: roles, status, immutability, tombstones (pure).

Checked before the store is touched and again inside the sidecar's compare-and-swap, so a
concurrent writer can't slip a second file of the same identity in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..errors import FileAlreadyExists, Forbidden, InvalidUpload
from ..names import DistFilename, canonical_version, identity_of
from .model import Project


class User(Protocol):
    """Who wants to add a file: the account, whatever credential it came with."""

    @property
    def name(self) -> str: ...

    @property
    def admin(self) -> bool: ...


def can_write(project: Project | None, user: User) -> bool:
    """A new project, or a reserved one nobody has uploaded to, takes its first uploader."""
    if project is None or user.admin or project.claimable:
        return True
    return project.may_write(user.name)


def may_add(
    project: Project | None, user: User, dist: DistFilename, sha256: str, graves: Sequence[str] = ()
) -> None:
    """Refuse what may not be added; ``graves`` are a deleted project's tombstones."""
    if not can_write(project, user):
        raise Forbidden(
            f"The user {user.name!r} isn't allowed to upload to project {dist.project!r}; "
            "an owner can add you with 'registry-index maintainer add'."
        )
    if project is None:
        _not_buried(graves, dist)
        return
    existing = project.file(dist.filename)
    if existing is not None and existing.sha256 == sha256:
        return  # an identical re-upload is a no-op, whatever the project's status
    if project.status in ("archived", "quarantined"):
        raise InvalidUpload([f"Project {project.name!r} is {project.status}: it takes no new uploads."])
    if existing is not None:
        raise FileAlreadyExists(
            f"File already exists: {dist.filename!r} was uploaded before with different "
            f"content (sha256 {existing.sha256}). Files are immutable: bump the version."
        )
    twin = next((f for f in project.files if f.sha256 == sha256), None)
    if twin is not None:
        raise FileAlreadyExists(
            f"File already exists: these bytes were uploaded before as {twin.filename!r}; "
            "a file cannot be listed twice under different names."
        )
    _not_buried(project.tombstones, dist)
    version = canonical_version(dist.version)
    for f in project.files:
        if canonical_version(f.version) != version:
            continue
        if dist.packagetype == "sdist" and f.packagetype == "sdist":
            raise InvalidUpload([f"Only one sdist may be uploaded per release: {f.filename!r} exists."])
        if identity_of(f.filename) == dist.identity:
            raise FileAlreadyExists(
                f"File already exists: {dist.filename!r} is the same distribution as "
                f"{f.filename!r} (same project, version, build tag and tags), uploaded before "
                "with other content. Files are immutable: bump the version."
            )


def _not_buried(graves: Sequence[str], dist: DistFilename) -> None:
    """A deleted file's name, or any spelling of the same distribution, is never reused."""
    for filename in graves:
        if filename == dist.filename or identity_of(filename) == dist.identity:
            raise InvalidUpload(
                [
                    f"This filename has already been used: {filename!r} was deleted from this "
                    "index, and a deleted file's name is never reused (as on PyPI). "
                    "Use a different version."
                ]
            )
