"""Known vulnerabilities: the advisory set, what affects a release, the index-wide scan."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from ..domain.model import Project
from ..security.advisories import AdvisoryDB, ImportReport, import_advisories
from ..security.scan import ScanReport, scan
from ..security.scanner import Scanner
from .projects import ProjectReads

Progress = Callable[[int, int, str], None]
LOOKUP_BUDGET = 100_000  # file entries of the projects a scan keeps for its requirement checks


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
        requirements are checked against every project on the index.

        Projects are read one at a time (through the sidecar cache, whose budget bounds
        memory), and so are the projects requirements name, when a requirement is checked.
        """
        lookup = _RecentProjects(self._lookup, LOOKUP_BUDGET)
        if names:
            wanted = [await self._projects.project(p) for p in names]
            return await scan(_each(wanted), self.advisories, lookup, progress, len(wanted))
        index, _ = await self._projects.index()
        report = await scan(self._every(), self.advisories, lookup, progress, len(index.projects))
        # By project name, as a sorted walk gives: the store lists "a-b" before "a". Stable,
        # so each project's findings keep their order.
        report.findings.sort(key=lambda f: f.project)
        return report

    async def _lookup(self, name: str) -> Project | None:
        project, _ = await self._projects.project_with_etag(name)
        return project

    async def _every(self) -> AsyncIterator[Project]:
        async for name in self._projects.names():
            project = await self._lookup(name)
            if project is not None:  # deleted since it was listed
                yield project


async def _each(projects: list[Project]) -> AsyncIterator[Project]:
    for project in projects:
        yield project


class _RecentProjects:
    """The projects requirements named lately, least recently used out past ``budget`` file
    entries: requirements name the same few projects again and again (or names not hosted
    here), and each read of the admin registry goes to the store."""

    def __init__(self, read: Callable[[str], Awaitable[Project | None]], budget: int) -> None:
        self._read = read
        self._budget = budget
        self._kept: OrderedDict[str, Project | None] = OrderedDict()
        self._weight = 0

    async def __call__(self, name: str) -> Project | None:
        if name in self._kept:
            self._kept.move_to_end(name)
            return self._kept[name]
        project = await self._read(name)
        self._kept[name] = project
        self._weight += _weight(project)
        while self._weight > self._budget and len(self._kept) > 1:
            _, old = self._kept.popitem(last=False)
            self._weight -= _weight(old)
        return project


def _weight(project: Project | None) -> int:
    return 1 + (len(project.files) if project is not None else 0)
