"""Known vulnerabilities: the advisory set, what affects a release, the index-wide scan."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..domain.model import Project
from ..security.advisories import AdvisoryDB, ImportReport, import_advisories
from ..security.scan import ScanReport, scan
from ..security.scanner import Scanner
from .projects import ProjectReads

Progress = Callable[[int, int, str], None]


class Security:
    def __init__(self, advisories: AdvisoryDB, scanner: Scanner, projects: ProjectReads) -> None:
        self.advisories = advisories
        self.scanner = scanner
        self._projects = projects

    async def vulnerabilities(self, project: str, version: str) -> list[dict[str, Any]]:
        """Known advisories for a release, in PyPI's JSON shape."""
        return await self.scanner.vulnerabilities(project, version)

    async def advisory_count(self) -> int:
        return await self.advisories.count()

    async def import_advisories(self, path: Path, progress: Progress | None = None) -> ImportReport:
        """Replace the advisory set with the OSV records under ``path``."""
        return await import_advisories(self.advisories.storage, path, progress)

    async def scan(self, names: Sequence[str] = (), progress: Progress | None = None) -> ScanReport:
        """Every release of ``names`` (all projects when empty) against the advisory set;
        requirements are checked against every project on the index."""
        everything: dict[str, Project] = {}
        async for name in self._projects.names():
            project, _ = await self._projects.project_with_etag(name)
            if project is not None:
                everything[name] = project
        wanted = [everything[n] for n in sorted(everything)]
        if names:
            wanted = [await self._projects.project(p) for p in names]
        return await scan(wanted, self.advisories, everything.get, progress)
