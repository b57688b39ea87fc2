"""The root index's listing: which projects /simple/ shows, kept in step with their sidecars.

A sidecar write already appends its listing state to the change feed; this is the step that
makes sure of it (after a crash between the two, or when a write's record was lost), and
takes a project off when its sidecar is gone.
"""

from __future__ import annotations

from ..domain.changes import Change
from ..domain.model import Project
from ..domain.repository import ProjectRepository, change_of


class Listing:
    def __init__(self, repo: ProjectRepository) -> None:
        self._repo = repo

    async def ensure(self, project: Project) -> None:
        """List ``project`` under its current name and quarantine state, if it is not yet."""
        index, _ = await self._repo.project_index()
        if not index.lists(project):
            await self._repo.record(change_of(project, "list"))

    async def withdraw(self, normalized: str) -> None:
        """Take a project off the root index, if it is still on it."""
        index, _ = await self._repo.project_index()
        if normalized in index.projects:
            await self._repo.record(Change(0, normalized, "withdraw"), supersede=True)
