"""The registry: one facade over the services, built on one store.

The HTTP app, the CLI and library users all call this. It builds the collaborators once
(the project repository, accounts, audit log, advisories, search provider) and composes
each service from only the ones it uses; every method here is one call to a service.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from .audit import AuditLog, Origin, StorageAuditLog
from .auth.accounts import Accounts, Token, User
from .auth.scope import FULL, Access, Scope
from .domain import keys
from .domain.model import FileEntry, Project, ProjectIndex
from .domain.repository import ProjectRepository
from .domain.root_index import SNAPSHOT_EVERY
from .errors import NotFound
from .jsonapi.build import files_of, latest_version, project_document
from .names import canonical_version, is_valid_name, normalize
from .resolve.environment import Environment
from .resolve.source import Resolution
from .resolve.tree import DependencyTree
from .search.index import MemorySearchIndex, SearchProvider
from .search.rank import Query, SearchDoc
from .security.advisories import AdvisoryDB, OsvScanner
from .security.policy import VulnPolicy
from .security.scanner import Scanner
from .services.administration import Administration
from .services.checks import UploadChecks
from .services.files import Artifacts, Downloads
from .services.listing import Listing
from .services.pins import Pins
from .services.projects import ProjectReads
from .services.proxy import Proxy, Relayed
from .services.publishing import Publishing, PublishResult, UpstreamNames
from .services.relay_files import RelayedFile
from .services.resolution import Resolutions
from .services.search import Search
from .services.security import Security
from .services.trusted_publishing import TrustedPublishing
from .services.upstream_cache import UpstreamCache
from .services.verification import Verification
from .storage import ObjectNotFound, Storage
from .storage.capabilities import SupportsHealthCheck
from .trusted.jwks import DiscoveredKeys
from .trusted.tokens import IssuerKeys
from .upload.inspect import Upload
from .validation import ArchiveLimits, Validator

Progress = Callable[[int, int, str], None]


class Registry:
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
        proxy: Proxy | None = None,
        upstream_names: UpstreamNames | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        cache_size: int = 512 * 1024**2,
        issuer_keys: IssuerKeys | None = None,
        oidc_audience: str = "registry-index",
        oidc_token_lifetime: int = 900,
    ) -> None:
        self.storage = storage
        # the project repository
        self.meta = ProjectRepository(
            storage, freshness, stale_if_error, snapshot_every=snapshot_every, cache_size=cache_size // 2
        )
        self.accounts = Accounts(storage, freshness, cache_size=cache_size // 16)
        self.audit: AuditLog = audit or StorageAuditLog(storage)
        self.advisories = AdvisoryDB(storage)
        self.search_index: SearchProvider = search or MemorySearchIndex(self.meta)
        artifacts = Artifacts(storage)
        listing = Listing(self.meta)
        checks = UploadChecks(validator, archive_limits, isolate=isolate_inspection)
        self.projects = ProjectReads(self.meta, artifacts)
        self.downloads = Downloads(self.meta, artifacts)
        self.publishing = Publishing(
            self.meta,
            listing,
            artifacts,
            checks,
            self.audit,
            self.advisories,
            vuln_policy or VulnPolicy(),
            upstream_names or proxy,  # the upload guard asks the proxy unless told otherwise
        )
        self.administration = Administration(
            self.meta, self.projects, listing, artifacts, self.accounts, self.audit
        )
        self.verification = Verification(self.projects, artifacts, checks)
        self.security = Security(self.advisories, scanner or OsvScanner(self.advisories), self.projects)
        self.resolutions = Resolutions(self.projects, self.advisories)
        self.searching = Search(self.search_index, self.meta)
        self.trusted = TrustedPublishing(
            self.meta,
            listing,
            self.accounts,
            self.audit,
            issuer_keys or DiscoveredKeys(),
            audience=oidc_audience,
            lifetime=oidc_token_lifetime,
        )
        self._listing = listing
        self.proxy = proxy  # None: no --upstream, and no name is ever asked elsewhere
        self.pins = Pins(storage, self.audit)
        self.upstream_cache = UpstreamCache(storage)
        self._checks = checks

    @property
    def scanner(self) -> Scanner:
        return self.security.scanner

    @scanner.setter
    def scanner(self, scanner: Scanner) -> None:
        self.security.scanner = scanner

    async def close(self) -> None:
        await self.meta.close()
        if self.proxy is not None:
            await self.proxy.close()
        await self.storage.close()

    async def check_store(self) -> None:
        """One direct round trip to the store, bypassing every cache (readiness probes)."""
        if isinstance(self.storage, SupportsHealthCheck):
            await self.storage.check()
        with contextlib.suppress(ObjectNotFound):
            await self.storage.head(keys.ROOT_INDEX)

    # -- reads ----------------------------------------------------------------------------

    def index_size(self) -> tuple[int, int, int]:
        """Projects on the root index, and the files and bytes the sidecars list (as far as
        this process has read them: the search index loads every sidecar at start-up)."""
        files = getattr(self.search_index, "files", 0)
        size = getattr(self.search_index, "bytes", 0)
        return len(self.meta.root), int(files), int(size)

    def last_serial(self) -> int:
        """The last change-feed serial this process has seen."""
        return self.meta.feed.head

    async def project(self, name: str) -> Project:
        return await self.projects.project(name)

    async def project_with_etag(self, name: str) -> tuple[Project | None, str | None]:
        return await self.projects.project_with_etag(name)

    async def index(self) -> tuple[ProjectIndex, str]:
        return await self.projects.index()

    def project_names(self) -> AsyncIterator[str]:
        return self.projects.names()

    async def description(self, project: Project, files: Sequence[FileEntry]) -> str:
        return await self.projects.description(project, files)

    async def vulnerabilities(self, project: str, version: str) -> list[dict[str, Any]]:
        return await self.security.vulnerabilities(project, version)

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

    async def relayed_page(self, normalized: str) -> Relayed | None:
        """An upstream's page for a name not hosted here (no sidecar: no files, reservation
        or owner); None without upstreams, for a hosted name, or where no upstream has it."""
        if self.proxy is None or (await self.projects.project_with_etag(normalized))[0] is not None:
            return None
        return await self.proxy.page(normalized)

    async def relayed_file(
        self, upstream: str, project: str, filename: str
    ) -> tuple[Proxy, RelayedFile] | None:
        """The relayed file a URL names, with the proxy that serves it; None as above."""
        if self.proxy is None or not is_valid_name(project) or project != normalize(project):
            return None
        if (await self.projects.project_with_etag(project))[0] is not None:
            return None  # hosted now: never relayed, never asked upstream
        return self.proxy, await self.proxy.find_file(upstream, project, filename)

    def download(self, project: str, filename: str) -> AsyncIterator[bytes]:
        """The bytes of a listed file, streamed."""
        return self.downloads.stream(project, filename)

    def search(self, query: Query | str) -> list[SearchDoc]:
        return self.searching.search(query)

    async def resolve(self, requirements: Sequence[str], env: Environment | None = None) -> Resolution:
        return await self.resolutions.resolve(requirements, env)

    async def dependency_tree(
        self, name: str, version: str | None = None, env: Environment | None = None
    ) -> DependencyTree:
        return await self.resolutions.dependency_tree(name, version, env)

    # -- publishing -----------------------------------------------------------------------

    async def publish(
        self, user: User, upload: Upload, origin: Origin | None = None, *, scope: Scope = FULL
    ) -> PublishResult:
        return await self.publishing.publish(user, upload, origin, scope=scope)

    async def publish_path(self, path: Path, user: User, origin: Origin | None = None) -> PublishResult:
        return await self.publishing.publish_path(path, user, origin)

    def validate(self, path: Path) -> list[str]:
        return self._checks.validate(path)

    async def verify(
        self, project: str | None = None, progress: Progress | None = None
    ) -> dict[str, list[str]]:
        return await self.verification.verify(project, progress)

    # -- administration -------------------------------------------------------------------

    async def set_yank(
        self,
        name: str,
        version: str,
        yanked: bool,
        reason: str = "",
        *,
        actor: str = "cli",
        origin: Origin | None = None,
    ) -> Project:
        return await self.administration.set_yank(name, version, yanked, reason, actor=actor, origin=origin)

    async def set_status(
        self, name: str, status: str, reason: str = "", *, actor: str = "cli", origin: Origin | None = None
    ) -> Project:
        return await self.administration.set_status(name, status, reason, actor=actor, origin=origin)

    async def set_maintainer(
        self,
        name: str,
        user: str,
        add: bool,
        *,
        owner: bool = False,
        actor: str = "cli",
        origin: Origin | None = None,
    ) -> Project:
        return await self.administration.set_maintainer(
            name, user, add, owner=owner, actor=actor, origin=origin
        )

    async def reserve(self, name: str, *, actor: str = "cli", origin: Origin | None = None) -> Project:
        return await self.administration.reserve(name, actor=actor, origin=origin)

    async def unreserve(
        self, name: str, *, actor: str = "cli", origin: Origin | None = None
    ) -> Project | None:
        return await self.administration.unreserve(name, actor=actor, origin=origin)

    async def delete(
        self,
        name: str,
        version: str | None = None,
        filename: str | None = None,
        *,
        actor: str = "cli",
        origin: Origin | None = None,
    ) -> list[str]:
        return await self.administration.delete(name, version, filename, actor=actor, origin=origin)

    async def add_user(self, name: str, password: str, *, admin: bool = False, actor: str = "cli") -> User:
        return await self.administration.add_user(name, password, admin=admin, actor=actor)

    async def remove_user(self, name: str, *, actor: str = "cli") -> list[str]:
        return await self.administration.remove_user(name, actor=actor)

    async def create_token(
        self,
        name: str,
        description: str = "",
        *,
        access: Access = "all",
        projects: Sequence[str] = (),
        expires: str = "",
        actor: str = "cli",
    ) -> tuple[str, Token]:
        return await self.administration.create_token(
            name, description, access=access, projects=projects, expires=expires, actor=actor
        )

    async def revoke_token(self, token_id: str, *, actor: str = "cli") -> Token:
        return await self.administration.revoke_token(token_id, actor=actor)

    # -- the upstream proxy -------------------------------------------------------------

    async def pin(self, name: str, upstream: str, *, actor: str = "cli") -> str:
        return await self.pins.pin(name, upstream, actor=actor)

    async def unpin(self, name: str, *, actor: str = "cli") -> str:
        return await self.pins.unpin(name, actor=actor)
