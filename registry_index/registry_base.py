"""What every part of the registry service shares: the stores it is built on and the
project reads and conditional writes that publishing and administration both use."""

from __future__ import annotations

import contextlib
import logging
import pickle
from collections.abc import AsyncIterator
from typing import Any

from .audit import AuditLog, StorageAuditLog
from .auth.accounts import Accounts
from .domain.model import Project, ProjectIndex
from .domain.repository import MetadataStore
from .errors import NotFound
from .names import is_valid_name, normalize
from .search.index import MemorySearchIndex, SearchProvider
from .security.advisories import AdvisoryDB, OsvScanner
from .security.policy import VulnPolicy
from .security.scanner import Scanner
from .storage import Storage
from .validation import ArchiveLimits, StrictValidator, Validator

log = logging.getLogger("registry_index")


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


class RegistryBase:
    def __init__(
        self,
        storage: Storage,
        *,
        freshness: float = 1.0,
        stale_if_error: float = 0.0,
        validator: Validator | None = None,
        audit: AuditLog | None = None,
        scanner: Scanner | None = None,
        search: SearchProvider | None = None,
        vuln_policy: VulnPolicy | None = None,
        archive_limits: ArchiveLimits | None = None,
        isolate_inspection: bool = True,
    ) -> None:
        self.storage = storage
        self.archive_limits = archive_limits or ArchiveLimits()
        self.validator: Validator = validator or StrictValidator(self.archive_limits)
        # Upload checks run in worker processes when the validator can be sent to one.
        self.isolate_inspection = isolate_inspection and _picklable(self.validator)
        self.meta = MetadataStore(storage, freshness, stale_if_error)
        self.accounts = Accounts(storage, freshness)
        self.audit: AuditLog = audit or StorageAuditLog(storage)
        self.advisories = AdvisoryDB(storage)
        self.scanner: Scanner = scanner or OsvScanner(self.advisories)
        self.vuln_policy = vuln_policy or VulnPolicy()
        self._descriptions: dict[str, str] = {}
        self.search_index: SearchProvider = search or MemorySearchIndex(storage)
        self.meta.listeners.append(self._reindex)
        self._pending_listing: dict[str, Project] | None = None
        self._listing_batch = 1

    async def close(self) -> None:
        await self.storage.close()

    async def project(self, name: str) -> Project:
        project, _ = await self.project_with_etag(name)
        if project is None:
            raise NotFound(f"No project {name[:200]!r} on this index.")
        return project

    async def project_with_etag(self, name: str) -> tuple[Project | None, str | None]:
        if not is_valid_name(name):
            return None, None  # no such project can exist; never a storage key from it
        return await self.meta.project(normalize(name))

    async def index(self) -> tuple[ProjectIndex, str]:
        return await self.meta.project_index()

    async def _ensure_listed(self, project: Project) -> None:
        if self._pending_listing is not None:
            self._pending_listing[project.normalized] = project
            if len(self._pending_listing) >= self._listing_batch:
                await self._flush_listing()
            return
        index, _ = await self.meta.project_index()
        if not index.lists(project):
            await self._list([project])

    async def _list(self, projects: list[Project]) -> None:
        await self.meta.update_index(lambda current: current.listing(projects))

    async def _flush_listing(self) -> None:
        if self._pending_listing:
            batch, self._pending_listing = self._pending_listing, {}
            await self._list(list(batch.values()))

    @contextlib.asynccontextmanager
    async def batched_listing(self, every: int = 1000) -> AsyncIterator[None]:
        """List new projects in the root index once per ``every`` instead of once each.

        The index is one object, so listing a project rewrites all of it: a bulk import of
        100,000 projects would write it 100,000 times. Projects whose files have landed but
        whose listing is still pending are not yet on /simple/ (their own pages are); if the
        process dies before a flush, ``fsck --repair`` or the same import run again lists them.
        """
        self._pending_listing, self._listing_batch = {}, every
        try:
            yield
        finally:
            try:
                await self._flush_listing()
            finally:
                self._pending_listing = None

    async def _mutate(self, name: str, change: Any) -> Project:
        normalized = normalize(name)

        def apply(project: Project | None) -> Project:
            if project is None:
                raise NotFound(f"No project {name!r} on this index.")
            return change(project)  # type: ignore[no-any-return]

        project, _ = await self.meta.update_project(normalized, apply)
        return project

    def _reindex(self, normalized: str, project: Project | None) -> None:
        if project is None:
            self.search_index.remove(normalized)
        else:
            self.search_index.update(project)
