"""The registry service: the one implementation of every read and mutation.

The HTTP app, the CLI and library users all call this; nothing else writes sidecars.
Publishing and administration live in their own modules; this class joins them with the
read side (descriptions, advisories, search, resolution).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from packaging.metadata import parse_email

from .domain import keys
from .domain.model import FileEntry, Project
from .errors import NotFound
from .jsonapi.build import files_of, latest_version, project_document
from .names import (
    canonical_version,
)
from .search.rank import Query, SearchDoc
from .storage import ObjectNotFound
from .upload.inspect import Upload

if TYPE_CHECKING:
    from .resolve.environment import Environment
    from .resolve.resolver import DependencyTree, Resolution

from .administration import Administration
from .publishing import (
    Publishing,
    PublishResult,
    can_write,
    file_digests,
    form_from_filename,
)

__all__ = ["PublishResult", "Registry", "Upload", "can_write", "file_digests", "form_from_filename"]

log = logging.getLogger("registry_index")


class Registry(Publishing, Administration):
    async def description(self, project: Project, files: Sequence[FileEntry]) -> str:
        """The release's long description, from the stored core-metadata bytes (wheel first)."""
        for entry in sorted(files, key=lambda f: f.packagetype != "bdist_wheel"):
            key = keys.core_metadata(keys.artifact(project.normalized, entry.sha256, entry.filename))
            cached = self._descriptions.get(key)
            if cached is not None:
                return cached
            try:
                raw = (await self.storage.get(key)).data
            except ObjectNotFound:
                continue
            parsed, _ = parse_email(raw)
            text = str(parsed.get("description") or "")
            if len(self._descriptions) > 2048:
                self._descriptions.clear()
            self._descriptions[key] = text  # immutable: the key holds the file's digest
            return text
        return ""

    async def vulnerabilities(self, project: str, version: str) -> list[dict[str, Any]]:
        """Known advisories for a release, in PyPI's JSON shape."""
        return await self.scanner.vulnerabilities(project, version)

    async def resolve(self, requirements: Sequence[str], env: Environment | None = None) -> Resolution:
        """Pins from this index for ``requirements`` in ``env`` (the server's own by default)."""
        from .resolve import service  # the resolver builds on this class

        return await service.resolve(self, requirements, env)

    async def dependency_tree(
        self, name: str, version: str | None = None, env: Environment | None = None
    ) -> DependencyTree:
        """A release's requirements and the versions they resolve to, with known advisories."""
        from .resolve import service

        return await service.dependency_tree(self, name, version, env)

    def search(self, query: Query | str) -> list[SearchDoc]:
        """Ranked search over the in-memory index (refreshed by the app's background task)."""
        return self.search_index.search(Query(q=query) if isinstance(query, str) else query)

    async def check_store(self) -> None:
        """One direct round trip to the store, bypassing every cache (readiness probes)."""
        check = getattr(self.storage, "check", None)
        if check is not None:
            await check()
        with contextlib.suppress(ObjectNotFound):
            await self.storage.head(keys.PROJECT_INDEX)

    async def download(self, project: str, filename: str) -> AsyncIterator[bytes]:
        """The bytes of a listed file, streamed."""
        found = await self.project(project)
        entry = found.file(filename)
        if entry is None:
            raise NotFound(f"Project {found.name!r} has no file {filename!r}.")
        async for chunk in self.storage.stream(keys.artifact(found.normalized, entry.sha256, entry.filename)):
            yield chunk

    async def info(self, project: str, version: str | None = None) -> dict[str, Any]:
        """The PyPI JSON API document for a project (latest release) or one release."""
        found = await self.project(project)
        key = latest_version(found) if version is None else canonical_version(version)
        if key is None or key not in found.releases:
            raise NotFound(f"Project {found.name!r} has no version {version!r}.")
        files = files_of(found, key)
        vulns = await self.vulnerabilities(found.normalized, found.releases[key].version)
        description = await self.description(found, files)
        return project_document(found, key, description, "", vulns, with_releases=version is None)
