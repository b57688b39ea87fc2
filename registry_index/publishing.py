"""Publishing: an upload lands whole, with its audit event, or leaves no trace."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
from anyio import BrokenWorkerProcess, to_process, to_thread
from packaging.metadata import Metadata

from .audit import EventKind, Origin
from .auth.accounts import User
from .auth.scope import FULL, Scope
from .domain import keys
from .domain.model import FileEntry, Project, Release, utc_now
from .errors import FileAlreadyExists, Forbidden, InvalidUpload
from .metadata.extract import extract_metadata
from .names import (
    DistFilename,
    InvalidFilename,
    canonical_version,
    identity_of,
    is_valid_name,
    normalize,
    parse_dist_filename,
)
from .registry_base import RegistryBase
from .security.policy import VulnPolicy
from .storage import ObjectConflict, StorageError
from .upload.inspect import Upload, inspect_upload
from .upload.validate import Digests, check_metadata, field

log = logging.getLogger("registry_index")


@dataclass(frozen=True, slots=True)
class PublishResult:
    project: str
    filename: str
    created: bool  # False: the identical file was already there
    version: str = ""
    new_project: bool = False
    warnings: tuple[str, ...] = ()


def _json_metadata(metadata: Metadata) -> dict[str, Any]:
    """The core-metadata fields the pages and APIs need, JSON-safe; no description."""
    out: dict[str, Any] = {}
    for key in (
        "summary",
        "author",
        "author_email",
        "maintainer",
        "maintainer_email",
        "license",
        "license_expression",
        "home_page",
        "download_url",
        "description_content_type",
    ):
        value = getattr(metadata, key, None)
        if value:
            out[key] = str(value)
    for key in ("keywords", "classifiers", "platforms", "provides_extra", "license_files"):
        value = getattr(metadata, key, None)
        if value:
            out[key] = [str(v) for v in value]
    if metadata.requires_dist:
        out["requires_dist"] = [str(r) for r in metadata.requires_dist]
    if metadata.project_urls:
        out["project_urls"] = dict(metadata.project_urls)
    return out


def can_write(project: Project | None, user: User) -> bool:
    if project is None or user.admin:
        return True
    return user.name in project.owners or user.name in project.maintainers


class Publishing(RegistryBase):
    async def _inspect(self, upload: Upload) -> tuple[DistFilename, Metadata, bytes]:
        """Every check that needs no store, all problems together, off the event loop."""
        args = (upload, self.archive_limits, self.validator)
        if self.isolate_inspection:
            try:
                # cancellable: a client that hangs up stops its worker with it.
                found = await to_process.run_sync(inspect_upload, *args, cancellable=True)
            except BrokenWorkerProcess:
                raise InvalidUpload(
                    ["The upload could not be checked: its checker process died (out of memory?)."]
                ) from None
        else:
            found = await to_thread.run_sync(inspect_upload, *args)
        if found.problems:
            raise InvalidUpload(found.problems)
        assert found.dist is not None and found.metadata is not None
        return found.dist, found.metadata, found.raw_metadata

    async def publish(
        self, user: User, upload: Upload, origin: Origin | None = None, *, scope: Scope = FULL
    ) -> PublishResult:
        """Store a file whole, with its audit event, or leave no trace."""
        try:
            result, wrote, sha256 = await self._publish(user, upload, scope)
        except (InvalidUpload, Forbidden, FileAlreadyExists) as exc:
            with contextlib.suppress(StorageError):
                await self.audit.record(
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
            await self.audit.record(
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

    async def _unlist(self, result: PublishResult, sha256: str, wrote: Sequence[str]) -> None:
        """Take back an upload whose audit event could not be written."""
        name, filename = result.project, result.filename

        def apply(project: Project | None) -> Project:
            if project is None or (entry := project.file(filename)) is None or entry.sha256 != sha256:
                raise _NothingToUndo()
            return project.without_files([entry], tombstone=False)

        try:
            project, _ = await self.meta.update_project(name, apply)
            if result.new_project and not project.files:
                await self.meta.delete_project(name)
                if self._pending_listing is not None:
                    self._pending_listing.pop(name, None)
                await self.meta.update_index(lambda idx: idx.without(name))
        except _NothingToUndo:
            pass
        except StorageError:
            log.exception("could not take back %s/%s after its audit event failed", name, filename)
            return
        await self._undo(name, filename, wrote)

    async def _publish(
        self, user: User, upload: Upload, scope: Scope
    ) -> tuple[PublishResult, list[str], str]:
        dist, metadata, raw_metadata = await self._inspect(upload)
        if refusal := scope.upload_problem(dist.project):
            raise Forbidden(refusal)
        digests, path = upload.digests, upload.path
        assert digests is not None and path is not None
        name = dist.project
        current, _ = await self.meta.sidecars.read_fresh(keys.sidecar(name))
        # A project deleted before leaves its files' names behind; a new one inherits them.
        graves = await self.meta.tombstones(name) if current is None else ()
        self._check_may_upload(current, user, dist, digests, graves)
        if current is not None and current.file(dist.filename) is not None:
            await self._ensure_listed(current)
            return PublishResult(name, dist.filename, False, str(dist.version)), [], digests.sha256

        warnings = await self._vulnerability_policy(dist.project, str(metadata.version))

        artifact = keys.artifact(name, digests.sha256, dist.filename)
        wrote: list[str] = []
        created = False

        def apply(project: Project | None) -> Project:
            nonlocal created
            self._check_may_upload(project, user, dist, digests, graves)
            if project is not None and project.file(dist.filename) is not None:
                return project  # a concurrent identical upload won
            created = True
            entry = _file_entry(dist, metadata, raw_metadata, digests, upload, user)
            return _add_file(project, name, metadata, entry, user, graves)

        try:
            # A conflict on these create-only writes means the same bytes are already
            # stored: the digest is part of the key.
            with contextlib.suppress(ObjectConflict):
                await self.storage.put_file(artifact, path, create_only=True)
                wrote.append(artifact)
            with contextlib.suppress(ObjectConflict):
                await self.storage.put(keys.core_metadata(artifact), raw_metadata, create_only=True)
                wrote.append(keys.core_metadata(artifact))
            project, _ = await self.meta.update_project(name, apply)
        except BaseException:
            await self._undo(name, dist.filename, wrote)
            raise
        await self._ensure_listed(project)
        result = PublishResult(
            name, dist.filename, created, str(metadata.version), current is None, tuple(warnings)
        )
        return result, wrote, digests.sha256

    async def _vulnerability_policy(self, project: str, version: str) -> list[str]:
        if not self.vuln_policy.applies(project):
            return []
        found = await self.advisories.matching(project, version)
        if not found:
            return []
        message = VulnPolicy.message(project, version, found)
        if self.vuln_policy.mode == "refuse":
            raise InvalidUpload([f"{message} This index refuses such uploads (--vuln-policy refuse)."])
        return [f"Warning: {message}"]

    def _check_may_upload(
        self,
        project: Project | None,
        user: User,
        dist: DistFilename,
        digests: Digests,
        graves: Sequence[str] = (),
    ) -> None:
        """Refuse what may not be added; ``graves`` are a deleted project's tombstones."""
        if not can_write(project, user):
            raise Forbidden(
                f"The user {user.name!r} isn't allowed to upload to project {dist.project!r}; "
                "an owner can add you with 'registry-index maintainer add'."
            )
        if project is None:
            _check_not_buried(graves, dist)
            return
        existing = project.file(dist.filename)
        if existing is not None and existing.sha256 == digests.sha256:
            return  # an identical re-upload is a no-op, whatever the project's status
        if project.status in ("archived", "quarantined"):
            raise InvalidUpload([f"Project {project.name!r} is {project.status}: it takes no new uploads."])
        if existing is not None:
            raise FileAlreadyExists(
                f"File already exists: {dist.filename!r} was uploaded before with different "
                f"content (sha256 {existing.sha256}). Files are immutable: bump the version."
            )
        twin = next((f for f in project.files if f.sha256 == digests.sha256), None)
        if twin is not None:
            raise FileAlreadyExists(
                f"File already exists: these bytes were uploaded before as {twin.filename!r}; "
                "a file cannot be listed twice under different names."
            )
        _check_not_buried(project.tombstones, dist)
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

    async def _undo(self, name: str, filename: str, wrote: Sequence[str]) -> None:
        if not wrote:
            return
        try:
            project, _ = await self.meta.sidecars.read_fresh(keys.sidecar(name))
            if project is not None and project.file(filename) is not None:
                return  # listed by a concurrent identical upload: the objects are in use
            for key in wrote:
                await self.storage.delete(key)
        except Exception:  # the orphan is harmless and fsck removes it
            log.exception("could not remove %s after a failed upload", list(wrote))

    async def publish_path(self, path: Path, user: User, origin: Origin | None = None) -> PublishResult:
        """Publish a local wheel or sdist as twine would (the form comes from its filename)."""
        dist = parse_dist_filename(path.name)
        digests = await to_thread.run_sync(file_digests, path)
        size = (await anyio.Path(path).stat()).st_size
        form = form_from_filename(dist, digests)
        return await self.publish(user, Upload(path.name, path, size, digests, form), origin)

    def validate(self, path: Path) -> list[str]:
        """Every problem with a local distribution file, as an upload would report them."""
        try:
            dist = parse_dist_filename(path.name)
        except InvalidFilename as exc:
            return [str(exc)]
        extracted, problems = extract_metadata(path, dist, self.archive_limits)
        problems += self.validator.validate(path, dist)
        if extracted is not None and extracted.metadata is not None:
            check_metadata(dist, extracted.metadata, {}, problems)
        return problems

    async def verify(
        self, project: str | None = None, progress: Callable[[int, int, str], None] | None = None
    ) -> dict[str, list[str]]:
        """Re-validate stored files with today's rules; returns problems by file."""
        names: list[str]
        if project is not None:
            names = [normalize(project)]
        else:
            names = [
                i.key.removeprefix("projects/").removesuffix(".json")
                async for i in self.storage.list("projects/")
            ]
        entries: list[tuple[str, FileEntry]] = []
        for wanted in names:
            found = await self.project(wanted)
            entries += [(found.normalized, e) for e in found.files]
        results: dict[str, list[str]] = {}
        with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
            for n, (name, entry) in enumerate(entries, 1):
                path = Path(tmp) / entry.filename
                digest = hashlib.sha256()
                async with await anyio.open_file(path, "wb") as fh:
                    async for chunk in self.storage.stream(keys.artifact(name, entry.sha256, entry.filename)):
                        digest.update(chunk)
                        await fh.write(chunk)
                problems = await to_thread.run_sync(self.validate, path)
                if digest.hexdigest() != entry.sha256:
                    problems.insert(0, "stored bytes do not match the listed sha256")
                results[f"{name}/{entry.filename}"] = problems
                path.unlink()
                if progress:
                    progress(n, len(entries), entry.filename)
        return results


def _check_not_buried(graves: Sequence[str], dist: DistFilename) -> None:
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


class _NothingToUndo(Exception):
    pass


def _project_of(filename: str | None) -> str:
    try:
        return parse_dist_filename(filename or "").project
    except InvalidFilename:
        return ""


def _file_entry(
    dist: DistFilename,
    metadata: Metadata,
    raw_metadata: bytes,
    digests: Digests,
    upload: Upload,
    user: User,
) -> FileEntry:
    return FileEntry(
        filename=dist.filename,
        version=str(metadata.version),
        packagetype=dist.packagetype,
        python_version=field(upload.form, "pyversion") or dist.python_tag,
        sha256=digests.sha256,
        blake2b_256=digests.blake2b_256,
        md5=digests.md5,
        size=upload.size,
        upload_time=utc_now(),
        uploader=user.name,
        requires_python=str(metadata.requires_python) if metadata.requires_python else None,
        # PEP 658 metadata is advertised for wheels only: an sdist's PKG-INFO may be dynamic.
        core_metadata_sha256=(
            hashlib.sha256(raw_metadata).hexdigest() if dist.packagetype == "bdist_wheel" else None
        ),
    )


def _add_file(
    project: Project | None,
    name: str,
    metadata: Metadata,
    entry: FileEntry,
    user: User,
    graves: Sequence[str] = (),
) -> Project:
    if project is None:
        owners = (user.name,) if is_valid_name(user.name) else ()
        project = Project(
            name=metadata.name, normalized=name, created=utc_now(), owners=owners, tombstones=tuple(graves)
        )
    key = canonical_version(metadata.version)
    releases = dict(project.releases)
    release = releases.get(key)
    if release is None:
        releases[key] = Release(
            version=str(metadata.version),
            summary=metadata.summary or "",
            requires_python=str(metadata.requires_python) if metadata.requires_python else None,
            metadata=_json_metadata(metadata),
        )
    elif entry.packagetype == "bdist_wheel" and not release.metadata.get("from_wheel"):
        # A wheel's metadata is static; prefer it over an sdist's possibly dynamic PKG-INFO.
        releases[key] = replace(release, metadata=_json_metadata(metadata) | {"from_wheel": True})
    if key in releases and entry.packagetype == "bdist_wheel" and release is None:
        releases[key] = replace(releases[key], metadata=releases[key].metadata | {"from_wheel": True})
    entry = replace(entry, version=releases[key].version)
    return project.bump(name=metadata.name, releases=releases, files=(*project.files, entry))


def file_digests(path: Path) -> Digests:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    blake = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            sha.update(chunk)
            md5.update(chunk)
            blake.update(chunk)
    return Digests(sha.hexdigest(), md5.hexdigest(), blake.hexdigest())


def form_from_filename(dist: DistFilename, digests: Digests) -> Mapping[str, list[str]]:
    """The form twine would send, for files imported from disk."""
    return {
        "name": [dist.project],
        "version": [str(dist.version)],
        "filetype": [dist.packagetype],
        "pyversion": [dist.python_tag],
        "sha256_digest": [digests.sha256],
        "blake2_256_digest": [digests.blake2b_256],
    }
