"""Stored files: the artifacts and core metadata of projects, and downloads of them.

``Artifacts`` is the only service code that touches file objects in the store; ``Downloads``
answers the download route: which listed file a URL names, and its bytes, metadata or a
presigned URL. Failures are the domain's errors (NotFound) or a ``StorageError`` (503).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..domain import keys
from ..domain.model import FileEntry, Project
from ..domain.repository import ProjectRepository
from ..errors import NotFound
from ..names import is_valid_name, normalize
from ..storage import (
    DecryptionError,
    ObjectConflict,
    ObjectNotFound,
    PresignUnavailable,
    Storage,
    StorageError,
)
from ..storage.capabilities import SupportsPresign

log = logging.getLogger("registry_index")


class Artifacts:
    """The file objects of projects: written create-only, read, streamed and removed."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @staticmethod
    def key(project: str, entry: FileEntry) -> str:
        return keys.artifact(project, entry.sha256, entry.filename)

    async def store(
        self, project: str, sha256: str, filename: str, path: Path, core_metadata: bytes, wrote: list[str]
    ) -> None:
        """Write a file and its core metadata, adding to ``wrote`` each key this call created
        (as it goes, so a failure half-way can be undone).

        A conflict on these create-only writes means the same bytes are already stored:
        the digest is part of the key.
        """
        artifact = keys.artifact(project, sha256, filename)
        with contextlib.suppress(ObjectConflict):
            await self._storage.put_file(artifact, path, create_only=True)
            wrote.append(artifact)
        with contextlib.suppress(ObjectConflict):
            await self._storage.put(keys.core_metadata(artifact), core_metadata, create_only=True)
            wrote.append(keys.core_metadata(artifact))

    async def forget(self, wrote: Sequence[str]) -> None:
        """Remove objects an upload wrote and then did not list (an orphan is harmless)."""
        for key in wrote:
            await self._storage.delete(key)

    async def remove(self, project: str, entries: Iterable[FileEntry]) -> None:
        """Remove delisted files and their metadata; what fails is left to ``fsck --repair``."""
        for entry in entries:
            artifact = self.key(project, entry)
            for key in (keys.core_metadata(artifact), artifact):
                try:
                    await self._storage.delete(key)
                except StorageError:
                    log.warning("could not delete %s; fsck --repair will", key)

    def stream(
        self, project: str, entry: FileEntry, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        return self._storage.stream(self.key(project, entry), start, end)

    async def core_metadata(self, project: str, entry: FileEntry) -> bytes | None:
        """The stored core-metadata bytes, None when there are none."""
        try:
            return (await self._storage.get(keys.core_metadata(self.key(project, entry)))).data
        except ObjectNotFound:
            return None

    async def presigned_url(self, project: str, entry: FileEntry, expires: int) -> str | None:
        """A short-lived URL to the bytes, or None where the store cannot give one (or they
        are encrypted at rest, so only this app can decrypt them)."""
        if not isinstance(self._storage, SupportsPresign):
            return None
        try:
            return await self._storage.presigned_url(self.key(project, entry), expires)
        except PresignUnavailable:
            return None


@dataclass(frozen=True, slots=True)
class Listed:
    """A file a download URL names, as the project lists it."""

    project: Project
    entry: FileEntry
    metadata: bool  # the URL names the file's PEP 658 metadata, not the file
    key: str  # the object it names, for the operator's log


class Downloads:
    def __init__(self, repo: ProjectRepository, artifacts: Artifacts) -> None:
        self._repo = repo
        self._artifacts = artifacts

    async def _project(self, name: str) -> Project | None:
        return (await self._repo.project(normalize(name)))[0] if is_valid_name(name) else None

    async def find(self, project: str, sha256: str, filename: str) -> Listed:
        """The listed file (or its ``.metadata``) this URL names; NotFound for anything else."""
        is_metadata = filename.endswith(".metadata")
        dist_name = filename.removesuffix(".metadata") if is_metadata else filename
        found = await self._project(project)
        entry = found.file(dist_name) if found is not None else None
        if (
            found is None
            or entry is None
            or entry.sha256 != sha256
            or found.status == "quarantined"
            or (is_metadata and entry.core_metadata_sha256 is None)
        ):
            raise NotFound(f"No file {filename!r} here.")
        key = keys.artifact(found.normalized, entry.sha256, entry.filename)
        return Listed(found, entry, is_metadata, keys.core_metadata(key) if is_metadata else key)

    async def metadata(self, listed: Listed) -> bytes:
        try:
            data = await self._artifacts.core_metadata(listed.project.normalized, listed.entry)
        except DecryptionError as exc:
            log.error("refusing to serve %s: %s", listed.key, exc)
            raise  # a StorageError: 503, never the stored bytes
        if data is None:
            log.error("listed metadata %s has no object; run registry-index fsck", listed.key)
            raise NotFound(f"No file {listed.entry.filename + '.metadata'!r} here.")
        return data

    async def presigned_url(self, listed: Listed, expires: int) -> str | None:
        return await self._artifacts.presigned_url(listed.project.normalized, listed.entry, expires)

    async def open(self, listed: Listed, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes in [start, end), opened before returning so a missing object is a 404
        while the status line can still say so."""
        body = self._artifacts.stream(listed.project.normalized, listed.entry, start, end)
        try:
            first = await anext(body)
        except StopAsyncIteration:
            first = b""
        except ObjectNotFound:
            log.error("listed file %s has no object; run registry-index fsck", listed.key)
            raise NotFound(f"No file {listed.entry.filename!r} here.") from None
        except DecryptionError as exc:
            log.error("refusing to serve %s: %s", listed.key, exc)
            raise  # a StorageError: 503, never the stored bytes
        return _chain(first, body, listed.key)

    async def stream(self, project: str, filename: str) -> AsyncIterator[bytes]:
        """The bytes of a listed file by name (library users)."""
        found = await self._project(project)
        if found is None:
            raise NotFound(f"No project {project[:200]!r} on this index.")
        entry = found.file(filename)
        if entry is None:
            raise NotFound(f"Project {found.name!r} has no file {filename!r}.")
        async for chunk in self._artifacts.stream(found.normalized, entry):
            yield chunk


async def _chain(first: bytes, rest: AsyncIterator[bytes], key: str) -> AsyncIterator[bytes]:
    yield first
    try:
        async for chunk in rest:
            yield chunk
    except DecryptionError as exc:
        # The status line is out: the connection is cut short, so the client sees a failed
        # download; no byte of the chunk that failed authentication was sent.
        log.error("stopped serving %s: %s", key, exc)
        raise
