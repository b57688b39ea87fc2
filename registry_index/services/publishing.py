"""Publishing: an upload lands whole, with its audit event, or leaves no trace.

The path of an upload: ``UploadChecks.inspect`` (no store), the caller's scope, the
project's rules (``may_add``), for a new project the upstream guard (``UpstreamNames``),
``Artifacts.store`` (create-only writes), one
compare-and-swap of the sidecar through the repository (``Project.with_file``), the root
listing, the audit event.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio
from anyio import to_thread

from ..audit import AuditLog, EventKind, Origin
from ..auth.accounts import User
from ..auth.scope import FULL, Scope
from ..domain.model import Project
from ..domain.repository import ProjectRepository
from ..domain.rules import User as RuleUser
from ..domain.rules import may_add
from ..errors import Conflict, FileAlreadyExists, Forbidden, InvalidUpload
from ..names import InvalidFilename, is_valid_name, parse_dist_filename
from ..security.advisories import AdvisoryDB
from ..security.policy import VulnPolicy
from ..storage import StorageError
from ..upload.entries import file_entry, release_of
from ..upload.inspect import Upload
from ..upload.local import file_digests, form_from_filename
from ..upstream.routing import upload_guard
from .checks import UploadChecks
from .files import Artifacts
from .listing import Listing

log = logging.getLogger("registry_index")


@dataclass(frozen=True, slots=True)
class _Publisher:
    """The uploader of a trusted-publishing token, for the project rules: the project's own
    publisher allows the write (``admin`` in ``may_add``'s sense), and the token's scope,
    checked before, confines it to the projects the publisher is for."""

    name: str
    admin: bool = True


class UpstreamNames(Protocol):
    """Which names an upstream index already serves: the proxy's answer to the upload guard."""

    async def serves(self, name: str) -> bool:
        """Whether an upstream serves the normalized ``name`` (only asked for a name not hosted here)."""
        ...


@dataclass(frozen=True, slots=True)
class PublishResult:
    project: str
    filename: str
    created: bool  # False: the identical file was already there
    version: str = ""
    new_project: bool = False
    warnings: tuple[str, ...] = ()


class Publishing:
    def __init__(
        self,
        repo: ProjectRepository,
        listing: Listing,
        artifacts: Artifacts,
        checks: UploadChecks,
        audit: AuditLog,
        advisories: AdvisoryDB,
        vuln_policy: VulnPolicy,
        upstream: UpstreamNames | None = None,
    ) -> None:
        self._repo = repo
        self._listing = listing
        self._artifacts = artifacts
        self._checks = checks
        self._audit = audit
        self._advisories = advisories
        self._vuln_policy = vuln_policy
        self._upstream = upstream

    async def publish(
        self, user: User, upload: Upload, origin: Origin | None = None, *, scope: Scope = FULL
    ) -> PublishResult:
        """Store a file whole, with its audit event, or leave no trace."""
        try:
            result, wrote, sha256 = await self._publish(user, upload, scope)
        except (InvalidUpload, Forbidden, FileAlreadyExists, Conflict) as exc:
            with contextlib.suppress(StorageError):
                await self._audit.record(
                    EventKind.UPLOAD_REFUSED,
                    user.name,
                    origin,
                    outcome="refused",
                    filename=upload.filename or "",
                    detail=exc.message[:2000],
                    project=_project_of(upload.filename),
                )
            raise
        if not result.created:
            return result
        try:
            await self._audit.record(
                EventKind.UPLOAD,
                user.name,
                origin,
                project=result.project,
                version=result.version,
                filename=result.filename,
                sha256=sha256,
            )
        except StorageError:
            await self._unlist(result, sha256, wrote)
            raise
        return result

    async def publish_path(self, path: Path, user: User, origin: Origin | None = None) -> PublishResult:
        """Publish a local wheel or sdist as twine would (the form comes from its filename)."""
        dist = parse_dist_filename(path.name)
        digests = await to_thread.run_sync(file_digests, path)
        size = (await anyio.Path(path).stat()).st_size
        form = form_from_filename(dist, digests)
        return await self.publish(user, Upload(path.name, path, size, digests, form), origin)

    async def _publish(
        self, user: User, upload: Upload, scope: Scope
    ) -> tuple[PublishResult, list[str], str]:
        dist, metadata, raw_metadata = await self._checks.inspect(upload)
        if refusal := scope.upload_problem(dist.project):
            raise Forbidden(refusal)
        digests, path = upload.digests, upload.path
        assert digests is not None and path is not None
        name = dist.project
        current, _ = await self._repo.project_fresh(name)
        if scope.trusted:
            if current is None:
                raise Forbidden(
                    f"The project {name!r} no longer exists: the trusted publisher token was minted "
                    "for it, and it cannot create it again. An admin can add a pending publisher."
                )
            uploader: RuleUser = _Publisher(user.name)
        else:
            uploader = user
        # A project deleted before leaves its files' names behind; a new one inherits them.
        graves = await self._repo.tombstones(name) if current is None else ()
        may_add(current, uploader, dist, digests.sha256, graves)
        if current is None:
            await self._guard(name)
        if current is not None and current.file(dist.filename) is not None:
            await self._listing.ensure(current)
            return PublishResult(name, dist.filename, False, str(dist.version)), [], digests.sha256

        warnings = await self._vulnerability_policy(dist.project, str(metadata.version))
        entry = file_entry(dist, metadata, raw_metadata, upload, user.name)
        release = release_of(metadata, dist)
        created = False

        def apply(project: Project | None) -> Project:
            nonlocal created
            may_add(project, uploader, dist, digests.sha256, graves)
            if project is not None and project.file(dist.filename) is not None:
                return project  # a concurrent identical upload won
            created = True
            if project is None:
                owners = (user.name,) if is_valid_name(user.name) else ()
                project = Project.new(metadata.name, name, owners, graves)
            elif project.claimable and is_valid_name(user.name):
                project = project.with_role(user.name, "owner", True)  # a reservation's first upload
            return project.with_file(metadata.name, entry, release)

        wrote: list[str] = []
        try:
            await self._artifacts.store(name, digests.sha256, dist.filename, path, raw_metadata, wrote)
            project, _ = await self._repo.update_project(name, apply)
        except BaseException:
            await self._undo(name, dist.filename, wrote)
            raise
        await self._listing.ensure(project)
        result = PublishResult(
            name, dist.filename, created, str(metadata.version), current is None, tuple(warnings)
        )
        return result, wrote, digests.sha256

    async def _guard(self, name: str) -> None:
        """Refuse a new project that an upstream already serves (dependency confusion).

        Only a name with no sidecar is new: a reserved one has a sidecar, so it never gets here.
        """
        if self._upstream is None or not await self._upstream.serves(name):
            return
        message = upload_guard(name, served_upstream=True, reserved=False)
        if message is not None:
            raise Conflict(message)

    async def _vulnerability_policy(self, project: str, version: str) -> list[str]:
        if not self._vuln_policy.applies(project):
            return []
        found = await self._advisories.matching(project, version)
        if not found:
            return []
        message = VulnPolicy.message(project, version, found)
        if self._vuln_policy.mode == "refuse":
            raise InvalidUpload([f"{message} This index refuses such uploads (--vuln-policy refuse)."])
        return [f"Warning: {message}"]

    async def _unlist(self, result: PublishResult, sha256: str, wrote: Sequence[str]) -> None:
        """Take back an upload whose audit event could not be written."""
        name, filename = result.project, result.filename

        def apply(project: Project | None) -> Project:
            if project is None or (entry := project.file(filename)) is None or entry.sha256 != sha256:
                raise _NothingToUndo()
            return project.without_files([entry], tombstone=False)

        try:
            project, _ = await self._repo.update_project(name, apply)
            if result.new_project and not project.files:
                await self._repo.delete_project(name)
                await self._listing.withdraw(name)
        except _NothingToUndo:
            pass
        except StorageError:
            log.exception("could not take back %s/%s after its audit event failed", name, filename)
            return
        await self._undo(name, filename, wrote)

    async def _undo(self, name: str, filename: str, wrote: Sequence[str]) -> None:
        if not wrote:
            return
        try:
            project, _ = await self._repo.project_fresh(name)
            if project is not None and project.file(filename) is not None:
                return  # listed by a concurrent identical upload: the objects are in use
            await self._artifacts.forget(wrote)
        except Exception:  # the orphan is harmless and fsck removes it
            log.exception("could not remove %s after a failed upload", list(wrote))


class _NothingToUndo(Exception):
    pass


def _project_of(filename: str | None) -> str:
    try:
        return parse_dist_filename(filename or "").project
    except InvalidFilename:
        return ""
