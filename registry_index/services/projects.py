"""Reading projects: sidecars by any spelling of a name, the root index, descriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from packaging.metadata import parse_email

from ..domain.changes import Change
from ..domain.model import FileEntry, Project, ProjectIndex
from ..domain.repository import ProjectRepository
from ..errors import NotFound
from ..names import is_valid_name, normalize
from .files import Artifacts

_DESCRIPTIONS = 2048  # parsed descriptions kept; each key holds a digest, so never stale


class ProjectReads:
    def __init__(self, repo: ProjectRepository, artifacts: Artifacts) -> None:
        self._repo = repo
        self._artifacts = artifacts
        self._descriptions: dict[tuple[str, str], str] = {}

    async def project(self, name: str) -> Project:
        project, _ = await self.project_with_etag(name)
        if project is None:
            raise NotFound(f"No project {name[:200]!r} on this index.")
        return project

    async def project_with_etag(self, name: str) -> tuple[Project | None, str | None]:
        if not is_valid_name(name):
            return None, None  # no such project can exist; never a storage key from it
        return await self._repo.project(normalize(name))

    async def index(self) -> tuple[ProjectIndex, str]:
        return await self._repo.project_index()

    def project_if_fresh(self, name: str) -> tuple[Project | None, str | None] | None:
        """The cached sidecar of a normalized name while fresh; never touches the store."""
        return self._repo.project_if_fresh(name)

    def index_if_fresh(self) -> tuple[ProjectIndex, str] | None:
        return self._repo.index_if_fresh()

    async def changes(self, since: int, limit: int) -> tuple[list[Change], int]:
        """Up to ``limit`` changes after serial ``since``, oldest first, and the last serial."""
        await self._repo.root.ready()  # the feed's starting point
        found = await self._repo.feed.since(since, limit)
        return found, self._repo.feed.head

    def names(self) -> AsyncIterator[str]:
        """Every project with a sidecar, listed or not."""
        return self._repo.names()

    def sidecar_etags(self) -> AsyncIterator[tuple[str, str]]:
        """(project, ETag) of every sidecar: what changed since the last look."""
        return self._repo.sidecar_etags()

    def watch(self, listener: Callable[[str, Project | None], None]) -> None:
        """Call ``listener`` with each sidecar this process writes (None: deleted)."""
        self._repo.listeners.append(listener)

    async def description(self, project: Project, files: Sequence[FileEntry]) -> str:
        """The release's long description, from the stored core-metadata bytes (wheel first)."""
        for entry in sorted(files, key=lambda f: f.packagetype != "bdist_wheel"):
            cache_key = (project.normalized, entry.sha256)
            cached = self._descriptions.get(cache_key)
            if cached is not None:
                return cached
            raw = await self._artifacts.core_metadata(project.normalized, entry)
            if raw is None:
                continue
            parsed, _ = parse_email(raw)
            text = str(parsed.get("description") or "")
            if len(self._descriptions) > _DESCRIPTIONS:
                self._descriptions.clear()
            self._descriptions[cache_key] = text
            return text
        return ""
