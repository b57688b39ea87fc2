"""Trusted publishing: an OIDC identity token in, a short-lived project-scoped upload token out.

The exchange (``mint``): verify the token (trusted/tokens.py: algorithm, issuer, signature,
audience, times), find the publishers whose claims it matches, spend it (once, across
instances), create the project of a matching pending publisher, mint an upload token
scoped to the matched projects, and audit it with the claims that matched. A refusal
names what did not match; the caller's rate limit counts refusals (api/oidc.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..audit import AuditLog, EventKind, Origin
from ..auth.accounts import Accounts
from ..domain.model import Project, utc_now
from ..domain.repository import ProjectRepository
from ..domain.trusted import PublisherStore, SpentTokens
from ..errors import InvalidRequest, NotFound
from ..names import is_valid_name, normalize
from ..trusted.publishers import Publisher, PublisherError, make_publisher, matched_claims, mismatches
from ..trusted.tokens import IssuerKeys, KeysUnavailable, TokenRefused, Verified, verify
from .listing import Listing

__all__ = ["KeysUnavailable", "Minted", "TokenRefused", "TrustedPublishing"]

log = logging.getLogger("registry_index")

MIN_LIFETIME, MAX_LIFETIME = 15 * 60, 6 * 3600  # PEP 807's bounds for minted credentials
# The claim a publisher is found by: a token for another repository learns nothing of this one.
_PRIMARY = {"github": "repository", "gitlab": "project_path", "google": "email"}


@dataclass(frozen=True, slots=True)
class Minted:
    token: str
    expires: datetime
    projects: tuple[str, ...]
    publishers: tuple[Publisher, ...]


class TrustedPublishing:
    def __init__(
        self,
        repo: ProjectRepository,
        listing: Listing,
        accounts: Accounts,
        audit: AuditLog,
        keys: IssuerKeys,
        *,
        audience: str = "registry-index",
        lifetime: int = MIN_LIFETIME,
    ) -> None:
        if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
            raise ValueError(
                f"The trusted-publishing token lifetime must be {MIN_LIFETIME}-{MAX_LIFETIME} s (PEP 807), not {lifetime}."
            )
        self._repo = repo
        self._listing = listing
        self._accounts = accounts
        self._audit = audit
        self._keys = keys
        self.publishers = PublisherStore(repo.storage)
        self._spent = SpentTokens(repo.storage)
        self.audience = audience
        self.lifetime = lifetime

    # -- the exchange ------------------------------------------------------------------

    async def mint(self, token: str, origin: Origin | None = None) -> Minted:
        try:
            return await self._mint(token, origin)
        except TokenRefused as refused:
            await self._audit.record(
                EventKind.MINT_REFUSED,
                "oidc",
                origin,
                outcome="refused",
                detail=f"{refused.code}: {refused.description}"[:2000],
            )
            raise

    async def _mint(self, token: str, origin: Origin | None) -> Minted:
        publishers = await self.publishers.fresh()
        issuers = {p.issuer for p in publishers}
        verified = await verify(token, self.audience, self._keys, issuers.__contains__)
        claims = verified.claims
        candidates = [p for p in publishers if p.issuer == claims["iss"]]
        matched = [p for p in candidates if not mismatches(p, claims)]
        if not matched:
            raise TokenRefused("invalid-publisher", _no_match(candidates, claims))
        projects: dict[str, Publisher] = {}
        pending: list[Publisher] = []
        for publisher in matched:
            if publisher.pending:
                pending.append(publisher)
                continue
            project, _ = await self._repo.project_fresh(publisher.project)
            if project is not None:
                projects.setdefault(publisher.project, publisher)
        for publisher in pending:
            if publisher.project in projects:
                continue  # a regular publisher of the same project matched as well
            project, _ = await self._repo.project_fresh(publisher.project)
            if project is not None:
                raise TokenRefused(
                    "invalid-pending-publisher",
                    f"The token matches a pending publisher of {publisher.project!r}, but that project "
                    "exists already: a pending publisher only creates a new project. An admin can add "
                    f"this publisher to it with 'registry-index publisher add {publisher.project} ...'.",
                )
        if not projects and not pending:
            raise TokenRefused(
                "invalid-publisher", "The token matches a trusted publisher whose project no longer exists."
            )
        await self._spend(verified)
        for publisher in pending:
            if publisher.project not in projects:
                await self._reify(publisher, origin)
                projects[publisher.project] = publisher.reified()
        names = tuple(sorted(projects))
        used = tuple({p.id: p for p in projects.values()}.values())
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=self.lifetime)
        label = used[0].label()
        secret, record = await self._accounts.mint_token(
            label, names, tuple(p.id for p in used), expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        await self._audit.record(
            EventKind.TOKEN_MINT,
            label,
            origin,
            project=",".join(names),
            detail=f"token {record.id} for {', '.join(names)} (publisher {', '.join(p.id for p in used)}), "
            f"expires {record.expires}",
            extra={"claims": matched_claims(used[0], claims)},
        )
        return Minted(secret, expires, names, used)

    async def _spend(self, verified: Verified) -> None:
        claims = verified.claims
        if not await self._spent.spend(claims["iss"], verified.once, float(claims["exp"])):
            raise TokenRefused(
                "invalid-reuse-token",
                "jti: this OIDC token was exchanged before; each token is good for one exchange. "
                "Request a new one from the CI provider.",
            )

    async def _reify(self, publisher: Publisher, origin: Origin | None) -> None:
        """A pending publisher's first exchange: its project (reserved, owned by the admin's
        choice), and the publisher made an ordinary one of that project."""
        graves = await self._repo.tombstones(publisher.project)

        def apply(project: Project | None) -> Project:
            if project is not None:
                raise TokenRefused(
                    "invalid-pending-publisher",
                    f"The project {publisher.project!r} was created meanwhile by someone else.",
                )
            owners = (publisher.owner,) if is_valid_name(publisher.owner) else ()
            return Project.new(publisher.project, publisher.project, owners, graves).with_reserved(True)

        project, _ = await self._repo.update_project(publisher.project, apply)
        await self._listing.ensure(project)
        await self.publishers.change(
            lambda held: tuple(p.reified() if p.id == publisher.id else p for p in held)
        )
        await self._audit.record(
            EventKind.RESERVE,
            publisher.label(),
            origin,
            project=publisher.project,
            detail=f"created by pending publisher {publisher.id}, owner {publisher.owner}",
        )

    # -- administration -----------------------------------------------------------------

    async def add(
        self,
        kind: str,
        project: str,
        claims: dict[str, str],
        *,
        issuer: str = "",
        pending: bool = False,
        owner: str = "",
        actor: str = "cli",
    ) -> Publisher:
        name = normalize(project)
        if not is_valid_name(project):
            raise InvalidRequest(f"Invalid project name {project!r}.")
        current, _ = await self._repo.project_fresh(name)
        if pending and current is not None:
            raise InvalidRequest(
                f"The project {name!r} exists: add an ordinary publisher (without --pending)."
            )
        if not pending and current is None:
            raise NotFound(
                f"No project {name!r}: upload to it first, or add a pending publisher (--pending --owner USER) "
                "that creates it on its first exchange."
            )
        if pending and await self._accounts.get_user(owner) is None:
            raise NotFound(f"No user {owner!r} to own {name!r}: create it with 'registry-index user add'.")
        try:
            publisher = make_publisher(
                kind,
                name,
                claims,
                issuer=issuer,
                pending=pending,
                owner=owner,
                added_by=actor,
                added=utc_now(),
            )
        except PublisherError as exc:
            raise InvalidRequest(str(exc)) from None
        added = False

        def apply(held: tuple[Publisher, ...]) -> tuple[Publisher, ...]:
            nonlocal added
            if any(p.id == publisher.id for p in held):
                return held
            added = True
            return (*held, publisher)

        await self.publishers.change(apply)
        if added:
            await self._audit.record(
                EventKind.PUBLISHER_ADD,
                actor,
                project=name,
                detail=f"publisher {publisher.id}: {publisher.describe()}",
            )
        return publisher

    async def remove(self, publisher_id: str, *, actor: str = "cli") -> Publisher:
        held = await self.publishers.fresh()
        found = next((p for p in held if p.id == publisher_id), None)
        if found is None:
            raise NotFound(
                f"No trusted publisher {publisher_id!r}; 'registry-index publisher list' shows them."
            )
        await self.publishers.change(lambda now: tuple(p for p in now if p.id != publisher_id))
        await self._audit.record(
            EventKind.PUBLISHER_REMOVE,
            actor,
            project=found.project,
            detail=f"publisher {found.id}: {found.describe()}",
        )
        return found

    async def of_project(self, project: str) -> list[Publisher]:
        name = normalize(project)
        return [p for p in await self.publishers.all() if p.project == name]

    async def all(self) -> tuple[Publisher, ...]:
        return await self.publishers.all()


def _no_match(candidates: list[Publisher], claims: Any) -> str:
    """Why no publisher matched, saying only what the token's own identity may learn."""
    near = [(p, mismatches(p, claims)) for p in candidates]
    # A generic publisher has no claim that says whose token it is: its rules stay unsaid.
    own = [
        (p, found)
        for p, found in near
        if p.kind in _PRIMARY and not any(m.startswith(_PRIMARY[p.kind] + ":") for m in found)
    ]
    if not own:
        kind = candidates[0].kind if candidates else ""
        primary = _PRIMARY.get(kind)
        value = claims.get(primary) if primary else claims.get("sub")
        return (
            f"The token is valid, but no trusted publisher on this index is for "
            f"{primary or 'sub'} {str(value)[:200]!r}. An admin adds one with 'registry-index publisher add'."
        )
    publisher, found = min(own, key=lambda pair: len(pair[1]))
    return (
        f"The token is valid, but it does not match the trusted publisher of {publisher.project!r}: "
        + "; ".join(found)
        + "."
    )
