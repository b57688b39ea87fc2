"""Re-checking stored files with today's rules (``registry-index verify``).

The walk is one project at a time (its sidecar read through the budgeted cache) and one
file at a time through a scratch file, so its memory does not grow with the index:
``verify_each`` yields each file's result as it is found, and only ``verify`` gathers them.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
from anyio import to_thread

from ..domain.model import FileEntry, Project
from ..names import normalize
from .checks import UploadChecks
from .files import Artifacts
from .projects import ProjectReads

# (done, total, label): files of one project, or projects of the whole index, whose total is
# the root index's count of listed projects (the walk also visits unlisted ones).
Progress = Callable[[int, int, str], None]


class Verification:
    def __init__(self, projects: ProjectReads, artifacts: Artifacts, checks: UploadChecks) -> None:
        self._projects = projects
        self._artifacts = artifacts
        self._checks = checks

    async def verify(
        self, project: str | None = None, progress: Progress | None = None
    ) -> dict[str, list[str]]:
        """Re-validate stored files with today's rules; returns problems by file."""
        return {key: problems async for key, problems in self.verify_each(project, progress)}

    async def verify_each(
        self, project: str | None = None, progress: Progress | None = None
    ) -> AsyncIterator[tuple[str, list[str]]]:
        """("project/filename", problems) for each stored file, as each is checked."""
        with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
            if project is not None:
                found = await self._projects.project(normalize(project))
                for n, entry in enumerate(found.files, 1):
                    yield await self._one(Path(tmp), found, entry)
                    if progress:
                        progress(n, len(found.files), entry.filename)
                return
            index, _ = await self._projects.index()
            total, done = len(index.projects), 0
            async for name in self._projects.names():
                current, _ = await self._projects.project_with_etag(name)
                files = current.files if current is not None else ()  # None: deleted meanwhile
                for entry in files:
                    assert current is not None
                    yield await self._one(Path(tmp), current, entry)
                    if progress:  # the count moves per project; the label shows the file at work
                        progress(done, total, f"{name}/{entry.filename}")
                done += 1
                if progress:
                    progress(done, total, name)

    async def _one(self, tmp: Path, project: Project, entry: FileEntry) -> tuple[str, list[str]]:
        path = tmp / entry.filename
        digest = hashlib.sha256()
        try:
            async with await anyio.open_file(path, "wb") as fh:
                async for chunk in self._artifacts.stream(project.normalized, entry):
                    digest.update(chunk)
                    await fh.write(chunk)
            problems = await to_thread.run_sync(self._checks.validate, path)
        finally:
            path.unlink(missing_ok=True)
        if digest.hexdigest() != entry.sha256:
            problems.insert(0, "stored bytes do not match the listed sha256")
        return f"{project.normalized}/{entry.filename}", problems
