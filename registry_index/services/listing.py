"""The root index's listing: which projects /simple/ shows, kept in step with their sidecars."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from ..domain.model import Project
from ..domain.repository import ProjectRepository


class Listing:
    def __init__(self, repo: ProjectRepository) -> None:
        self._repo = repo
        self._pending: dict[str, Project] | None = None
        self._batch = 1

    async def ensure(self, project: Project) -> None:
        """List ``project`` under its current name and quarantine state, if it is not yet."""
        if self._pending is not None:
            self._pending[project.normalized] = project
            if len(self._pending) >= self._batch:
                await self._flush()
            return
        index, _ = await self._repo.project_index()
        if not index.lists(project):
            await self._list([project])

    async def withdraw(self, normalized: str) -> None:
        """Take a project off the root index (and out of a pending batch)."""
        if self._pending is not None:
            self._pending.pop(normalized, None)
        await self._repo.update_index(lambda idx: idx.without(normalized))

    async def _list(self, projects: list[Project]) -> None:
        await self._repo.update_index(lambda current: current.listing(projects))

    async def _flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, {}
            await self._list(list(batch.values()))

    @contextlib.asynccontextmanager
    async def batched(self, every: int = 1000) -> AsyncIterator[None]:
        """List new projects in the root index once per ``every`` instead of once each.

        The index is one object, so listing a project rewrites all of it: a bulk import of
        100,000 projects would write it 100,000 times. Projects whose files have landed but
        whose listing is still pending are not yet on /simple/ (their own pages are); if the
        process dies before a flush, ``fsck --repair`` or the same import run again lists them.
        """
        self._pending, self._batch = {}, every
        try:
            yield
        finally:
            try:
                await self._flush()
            finally:
                self._pending = None
