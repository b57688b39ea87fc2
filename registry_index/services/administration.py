"""Administration: yank, status, roles, reservations, deletion, accounts; every change audited."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..audit import AuditLog, EventKind, Origin
from ..auth.accounts import Accounts, Token, User
from ..auth.scope import ACCESS, Access
from ..domain.model import STATUSES, FileEntry, Project, Role
from ..domain.repository import ProjectRepository
from ..errors import InvalidRequest, NotFound
from ..names import MAX_NAME_LENGTH, canonical_version, is_valid_name, normalize
from .files import Artifacts
from .listing import Listing
from .projects import ProjectReads

log = logging.getLogger("registry_index")


class Administration:
    def __init__(
        self,
        repo: ProjectRepository,
        projects: ProjectReads,
        listing: Listing,
        artifacts: Artifacts,
        accounts: Accounts,
        audit: AuditLog,
    ) -> None:
        self._repo = repo
        self._projects = projects
        self._listing = listing
        self._artifacts = artifacts
        self.accounts = accounts
        self.audit = audit

    async def _mutate(self, name: str, change: Callable[[Project], Project]) -> Project:
        def apply(project: Project | None) -> Project:
            if project is None:
                raise NotFound(f"No project {name!r} on this index.")
            return change(project)

        project, _ = await self._repo.update_project(normalize(name), apply)
        return project

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
        key = canonical_version(version)

        def change(project: Project) -> Project:
            if key not in project.releases:
                raise NotFound(f"Project {project.name!r} has no version {version!r}.")
            return project.with_yank(key, yanked, reason)

        project = await self._mutate(name, change)
        kind = EventKind.YANK if yanked else EventKind.UNYANK
        await self.audit.record(
            kind, actor, origin, project=project.normalized, version=version, detail=reason
        )
        return project

    async def set_status(
        self, name: str, status: str, reason: str = "", *, actor: str = "cli", origin: Origin | None = None
    ) -> Project:
        if status not in STATUSES:
            raise InvalidRequest(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
        project = await self._mutate(name, lambda p: p.with_status(status, reason))
        await self._listing.ensure(project)
        detail = f"{status}: {reason}" if reason else status
        await self.audit.record(EventKind.STATUS, actor, origin, project=project.normalized, detail=detail)
        return project

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
        if add and await self.accounts.get_user(user) is None:
            raise NotFound(f"No user {user!r}; create it first with 'registry-index user add'.")
        role: Role = "owner" if owner else "maintainer"
        project = await self._mutate(name, lambda p: p.with_role(user, role, add))
        kind = EventKind.ROLE_ADD if add else EventKind.ROLE_REMOVE
        await self.audit.record(kind, actor, origin, project=project.normalized, detail=f"{role} {user}")
        return project

    async def reserve(self, name: str, *, actor: str = "cli", origin: Origin | None = None) -> Project:
        """Mark ``name`` as hosted here, files or not, so that it is never looked up upstream.

        An unknown name gets a sidecar with no files and no owners (its first uploader becomes
        the owner); it inherits a deleted namesake's tombstones, and stays off /simple/ until it
        has files. Reserving a reserved name changes nothing and records nothing.
        """
        normalized = _valid(name)
        graves = await self._repo.tombstones(normalized)
        created = changed = False

        def apply(project: Project | None) -> Project:
            nonlocal created, changed
            created, changed = project is None, project is None or not project.reserved
            if project is None:
                project = Project.new(name, normalized, (), graves)
            return project.with_reserved(True)  # itself when already reserved: no write

        project, _ = await self._repo.update_project(normalized, apply)
        if not changed:
            return project
        await self._listing.ensure(project)
        detail = "new name, no files" if created else f"hosted, {len(project.files)} files"
        await self.audit.record(EventKind.RESERVE, actor, origin, project=normalized, detail=detail)
        return project

    async def unreserve(
        self, name: str, *, actor: str = "cli", origin: Origin | None = None
    ) -> Project | None:
        """Take a reservation back; returns the project, or None when that freed the name.

        A project with files, owners or maintainers stays hosted, with the flag cleared; one with
        none of them (a bare reservation) is deleted, its tombstones kept as ``delete`` keeps them.
        A name that is not reserved changes nothing and records nothing.
        """
        normalized = _valid(name)
        current, _ = await self._repo.project_fresh(normalized)
        if current is None:
            raise NotFound(f"No project {name[:200]!r} on this index.")
        if not current.reserved:
            return current
        project = await self._mutate(normalized, lambda p: p.with_reserved(False))
        freed = project.disposable
        if freed:
            # As ``delete`` does: the graves first, so a crash leaves the project, not a reusable name.
            await self._repo.bury(normalized, project.tombstones)
            await self._repo.delete_project(normalized)
            await self._listing.withdraw(normalized)
        else:
            await self._listing.ensure(project)
        detail = "name freed" if freed else f"still hosted, {len(project.files)} files"
        await self.audit.record(EventKind.UNRESERVE, actor, origin, project=normalized, detail=detail)
        return None if freed else project

    async def delete(
        self,
        name: str,
        version: str | None = None,
        filename: str | None = None,
        *,
        actor: str = "cli",
        origin: Origin | None = None,
    ) -> list[str]:
        """Remove a project, a release or one file; returns the filenames removed."""
        normalized = normalize(name)
        removed: list[FileEntry] = []
        if version is None:
            project = await self._projects.project(name)
            removed = list(project.files)
            # Before the sidecar goes: a crash in between leaves the project, not a reusable name.
            await self._repo.bury(normalized, [*project.tombstones, *(f.filename for f in removed)])
            await self._repo.delete_project(normalized)
            await self._listing.withdraw(normalized)
        else:
            wanted = canonical_version(version)

            def change(project: Project) -> Project:
                nonlocal removed
                removed = [
                    f
                    for f in project.files
                    if canonical_version(f.version) == wanted and (filename is None or f.filename == filename)
                ]
                if not removed:
                    what = filename or f"version {version}"
                    raise NotFound(f"Project {project.name!r} has no {what}.")
                return project.without_files(removed, tombstone=True)

            project = await self._mutate(name, change)
            await self._listing.ensure(project)  # a reservation's last file: off /simple/ again
        # The sidecar no longer lists them, so removing the objects cannot break a page.
        await self._artifacts.remove(normalized, removed)
        names = [f.filename for f in removed]
        await self.audit.record(
            EventKind.DELETE,
            actor,
            origin,
            project=normalized,
            version=version,
            filename=filename,
            detail=f"removed {len(names)} files: {', '.join(names)}"[:2000],
        )
        return names

    async def add_user(self, name: str, password: str, *, admin: bool = False, actor: str = "cli") -> User:
        user = await self.accounts.add_user(name, password, admin=admin)
        await self.audit.record(EventKind.USER_CREATE, actor, detail=f"{name}{' (admin)' if admin else ''}")
        return user

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
        """A new API token; ``access``, ``projects`` and ``expires`` narrow it (auth/scope.py)."""
        if access not in ACCESS:
            raise InvalidRequest(f"Unknown token access {access!r}; use one of {', '.join(ACCESS)}.")
        scoped = tuple(sorted({normalize(p) for p in projects}))
        if access == "read" and scoped:
            raise InvalidRequest("A read-only token reads every project: --project applies to uploads.")
        secret, token = await self.accounts.create_token(
            name, description, access=access, projects=scoped, expires=expires
        )
        scope = token.scope.describe()
        until = f", expires {expires}" if expires else ""
        await self.audit.record(
            EventKind.TOKEN_CREATE, actor, detail=f"token {token.id} for {name} ({scope}{until})"
        )
        return secret, token

    async def revoke_token(self, token_id: str, *, actor: str = "cli") -> Token:
        token = await self.accounts.revoke_token(token_id)
        await self.audit.record(EventKind.TOKEN_REVOKE, actor, detail=f"token {token.id} of {token.user}")
        return token

    async def remove_user(self, name: str, *, actor: str = "cli") -> list[str]:
        """Remove an account, its tokens, and its name from every project's roles."""
        await self.accounts.remove_user(name)
        touched: list[str] = []
        async for normalized in self._repo.names():
            project, _ = await self._repo.project(normalized)
            if project is None or not project.may_write(name):
                continue
            await self._mutate(normalized, lambda p: p.without_member(name))
            touched.append(normalized)
        await self.audit.record(
            EventKind.USER_REMOVE, actor, detail=f"{name}; roles removed on {len(touched)}"
        )
        return touched


def _valid(name: str) -> str:
    """The normalized form of a valid project name, or a clear refusal."""
    if not is_valid_name(name):
        raise InvalidRequest(
            f"{name[:200]!r} is not a valid project name: use letters, digits, '.', '-' and '_',"
            f" starting and ending with a letter or digit, at most {MAX_NAME_LENGTH} characters (PEP 508)."
        )
    return normalize(name)
