"""Search over the projects, kept current from this process's writes and a refresh loop."""

from __future__ import annotations

import asyncio
import logging
import time

from ..domain.model import Project
from ..domain.repository import ProjectRepository
from ..search.index import SearchProvider, next_refresh_delay
from ..search.rank import Query, SearchDoc
from ..storage import StorageError

log = logging.getLogger("registry_index")


class Search:
    def __init__(self, provider: SearchProvider, repo: ProjectRepository) -> None:
        self.provider = provider
        repo.listeners.append(self._written)

    def _written(self, normalized: str, project: Project | None) -> None:
        """This process wrote a sidecar: search shows it at once, not at the next refresh."""
        if project is None:
            self.provider.remove(normalized)
        else:
            self.provider.update(project)

    def search(self, query: Query | str) -> list[SearchDoc]:
        """Ranked search over the index (refreshed by ``run``)."""
        return self.provider.search(Query(q=query) if isinstance(query, str) else query)

    def documents(self) -> tuple[int, list[SearchDoc]]:
        """Every project's document (its summary), by name, and their generation."""
        return self.provider.documents()

    @property
    def complete(self) -> bool:
        """Whether the first refresh has read every project (until then, lists are partial)."""
        return self.provider.ready

    async def refresh(self) -> None:
        await self.provider.refresh()

    async def run(self, interval: float) -> None:
        """Refresh forever; a store outage only delays the next refresh.

        The pause is ``interval`` or, when listing the store takes long (100,000 projects
        on S3 is 100 LIST requests), ``REFRESH_BUDGET`` times the last refresh, so the
        refresh never takes more than about 1/REFRESH_BUDGET of the process's time.
        """
        while True:
            started = time.monotonic()
            try:
                await self.provider.refresh()
            except StorageError as exc:
                log.warning("search refresh failed: %s", exc)
            await asyncio.sleep(next_refresh_delay(interval, time.monotonic() - started))
