"""Resolution over this index: load the projects involved, then resolve off the event loop.

The pure resolver asks a ``Source`` for releases synchronously; here the source is filled
ahead of time with the projects the requirements can reach (markers evaluated for the
target), and anything it still lacks is loaded on demand and the resolution re-run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import anyio
from anyio import to_thread
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..domain.model import Project
from ..errors import InvalidRequest, NotFound
from ..names import canonical_version
from ..resolve.catalog import Catalog
from ..resolve.environment import Environment
from ..resolve.resolver import resolve as _resolve
from ..resolve.source import (
    Artifact,
    BadRequirement,
    MissingProject,
    ReleaseInfo,
    Resolution,
    parse_requirement,
)
from ..resolve.tree import DependencyTree, TreeNode, UnknownRelease
from ..resolve.tree import dependency_tree as _dependency_tree
from ..security.advisories import AdvisoryDB
from ..security.osv import fixed_in
from .projects import ProjectReads

T = TypeVar("T")
_CONCURRENCY = 16


def releases_of(project: Project) -> list[ReleaseInfo]:
    """A sidecar's releases as the resolver sees them; a quarantined project offers none."""
    if project.status == "quarantined":
        return []
    files: dict[str, list[Artifact]] = {}
    for entry in project.files:
        files.setdefault(canonical_version(entry.version), []).append(
            Artifact(entry.filename, entry.requires_python)
        )
    out: list[ReleaseInfo] = []
    for key, release in project.releases.items():
        if not files.get(key):
            continue
        try:
            version = Version(release.version)
        except InvalidVersion:
            continue
        meta = release.metadata
        out.append(
            ReleaseInfo(
                name=canonicalize_name(project.normalized),
                version=version,
                files=tuple(files[key]),
                requires_dist=tuple(meta.get("requires_dist") or ()),
                provides_extra=tuple(meta.get("provides_extra") or ()),
                yanked=release.yanked,
                yanked_reason=release.yanked_reason,
                display_version=release.version,
            )
        )
    return out


class _LoadedSource:
    """The projects loaded so far; asking for another raises ``MissingProject``."""

    def __init__(self) -> None:
        self.projects: dict[NormalizedName, list[ReleaseInfo] | None] = {}

    def releases(self, name: NormalizedName) -> Sequence[ReleaseInfo] | None:
        try:
            return self.projects[name]
        except KeyError:
            raise MissingProject(name) from None


def _may_apply(marker: Marker | None, env: Environment, extras: Iterable[str]) -> bool:
    if marker is None or "extra" in str(marker):
        return True  # which extras get asked for is only known while resolving
    try:
        return any(marker.evaluate({**env.markers, "extra": e}) for e in ("", *extras))
    except Exception:
        return False


def _referenced(release: ReleaseInfo, env: Environment) -> set[NormalizedName]:
    names: set[NormalizedName] = set()
    for text in release.requires_dist:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if _may_apply(req.marker, env, release.provides_extra):
            names.add(canonicalize_name(req.name))
    return names


async def _load(
    projects: ProjectReads, source: _LoadedSource, names: Iterable[str], env: Environment
) -> None:
    """Load ``names`` and, breadth first, every project their releases can reach."""
    frontier = {canonicalize_name(n) for n in names} - source.projects.keys()
    limiter = anyio.CapacityLimiter(_CONCURRENCY)

    async def fetch(name: NormalizedName, found: dict[NormalizedName, list[ReleaseInfo] | None]) -> None:
        async with limiter:
            try:
                found[name] = releases_of(await projects.project(name))
            except NotFound:
                found[name] = None

    while frontier:
        found: dict[NormalizedName, list[ReleaseInfo] | None] = {}
        async with anyio.create_task_group() as tg:
            for name in frontier:
                tg.start_soon(fetch, name, found)
        source.projects.update(found)
        reached: set[NormalizedName] = set()
        for releases in found.values():
            for release in releases or ():
                reached |= _referenced(release, env)
        frontier = reached - source.projects.keys()


async def _run(
    projects: ProjectReads, env: Environment, names: Iterable[str], work: Callable[[_LoadedSource], T]
) -> T:
    source = _LoadedSource()
    await _load(projects, source, names, env)
    while True:  # each round loads at least one more project, and the index is finite
        try:
            return await to_thread.run_sync(work, source)
        except MissingProject as exc:
            await _load(projects, source, [exc.name], env)


def _parse_all(requirements: Sequence[str]) -> list[Requirement]:
    try:
        return [parse_requirement(text) for text in requirements]
    except BadRequirement as exc:
        raise InvalidRequest(str(exc)) from None


async def resolve(
    projects: ProjectReads, requirements: Sequence[str], env: Environment | None = None
) -> Resolution:
    """Pins for ``requirements`` from this index, or what cannot be satisfied and why."""
    target = env or Environment.current()
    parsed = _parse_all(requirements)
    return await _run(
        projects, target, [r.name for r in parsed], lambda source: _resolve(source, parsed, target)
    )


def _default_version(source: _LoadedSource, env: Environment, name: str) -> str:
    """What ``pip install NAME`` would pick here; else the newest release at all."""
    catalog = Catalog(source, env)
    key = canonicalize_name(name)
    releases = catalog.releases(key)
    if not releases:
        raise UnknownRelease(f"No project {name!r} on this index.")
    found = catalog.matches(key, [Requirement(key)])
    best = (
        found[0]
        if found
        else max(releases, key=lambda r: (not r.yanked, not r.version.is_prerelease, r.version))
    )
    return best.label


async def dependency_tree(
    projects: ProjectReads,
    advisories: AdvisoryDB,
    name: str,
    version: str | None,
    env: Environment | None = None,
) -> DependencyTree:
    """The declared requirements of a release and, for ``env``, the version each resolves to.

    ``version`` None means the release ``pip install NAME`` would choose for ``env``.
    """
    target = env or Environment.current()

    def work(source: _LoadedSource) -> DependencyTree:
        chosen = version if version is not None else _default_version(source, target, name)
        return _dependency_tree(source, target, name, chosen)

    try:
        tree = await _run(projects, target, [name], work)
    except UnknownRelease as exc:
        raise NotFound(exc.message) from None
    await _mark_vulnerable(advisories, tree.nodes)
    return tree


async def _mark_vulnerable(advisories: AdvisoryDB, nodes: Sequence[TreeNode]) -> None:
    """Name the advisories that affect each chosen version, and the first version fixing them all."""
    for node in nodes:
        if node.version is not None:
            found = await advisories.matching(node.name, node.version)
            node.advisories = [a.id for a in found]
            chosen = Version(node.version)
            # For each advisory, the lowest fix above the chosen version; all are fixed at their max.
            fixes = []
            for advisory in found:
                later = [Version(v) for v in fixed_in(advisory, node.name) if Version(v) > chosen]
                fixes.append(min(later) if later else None)
            if found and all(f is not None for f in fixes):
                node.first_fixed = str(max(f for f in fixes if f is not None))
        await _mark_vulnerable(advisories, node.dependencies)


class Resolutions:
    """Resolution and dependency trees over this index's projects, with known advisories."""

    def __init__(self, projects: ProjectReads, advisories: AdvisoryDB) -> None:
        self._projects = projects
        self._advisories = advisories

    async def resolve(self, requirements: Sequence[str], env: Environment | None = None) -> Resolution:
        """Pins from this index for ``requirements`` in ``env`` (the server's own by default)."""
        return await resolve(self._projects, requirements, env)

    async def dependency_tree(
        self, name: str, version: str | None = None, env: Environment | None = None
    ) -> DependencyTree:
        """A release's requirements and the versions they resolve to, with known advisories."""
        return await dependency_tree(self._projects, self._advisories, name, version, env)
