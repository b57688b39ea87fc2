"""Re-checking stored files with today's rules (``registry-index verify``)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path

import anyio
from anyio import to_thread

from ..domain.model import FileEntry
from ..names import normalize
from .checks import UploadChecks
from .files import Artifacts
from .projects import ProjectReads


class Verification:
    def __init__(self, projects: ProjectReads, artifacts: Artifacts, checks: UploadChecks) -> None:
        self._projects = projects
        self._artifacts = artifacts
        self._checks = checks

    async def verify(
        self, project: str | None = None, progress: Callable[[int, int, str], None] | None = None
    ) -> dict[str, list[str]]:
        """Re-validate stored files with today's rules; returns problems by file."""
        names = [normalize(project)] if project is not None else [n async for n in self._projects.names()]
        entries: list[tuple[str, FileEntry]] = []
        for wanted in names:
            found = await self._projects.project(wanted)
            entries += [(found.normalized, e) for e in found.files]
        results: dict[str, list[str]] = {}
        with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
            for n, (name, entry) in enumerate(entries, 1):
                path = Path(tmp) / entry.filename
                digest = hashlib.sha256()
                async with await anyio.open_file(path, "wb") as fh:
                    async for chunk in self._artifacts.stream(name, entry):
                        digest.update(chunk)
                        await fh.write(chunk)
                problems = await to_thread.run_sync(self._checks.validate, path)
                if digest.hexdigest() != entry.sha256:
                    problems.insert(0, "stored bytes do not match the listed sha256")
                results[f"{name}/{entry.filename}"] = problems
                path.unlink()
                if progress:
                    progress(n, len(entries), entry.filename)
        return results
