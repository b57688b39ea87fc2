"""Dependency resolution over an abstract source of releases, with resolvelib (pip's resolver).

Pure: no I/O. A ``Source`` says which releases of a project exist; the rules for which of them
a target ``Environment`` may install are pip's:

* a release is a candidate when one of its files is a compatible wheel or an sdist whose
  requires-python admits the target Python;
* yanked releases are skipped unless the requirements pin the version with ``==``/``===`` and
  nothing but yanked releases matches (PEP 592);
* pre-releases only when a specifier names one, or when nothing else matches;
* dependencies come from the release's Requires-Dist, markers evaluated for the target with
  ``extra``; ``name[extra]`` is a candidate of its own that depends on ``name`` at the same
  version (the resolvelib way), and extras the release does not provide are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver
from resolvelib.structs import RequirementInformation

from .environment import Environment

MAX_ROUNDS = 20_000


# -- what exists ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    filename: str
    requires_python: str | None = None


@dataclass(frozen=True, eq=False)  # identity: one object per release in a source
class ReleaseInfo:
    name: NormalizedName
    version: Version
    files: tuple[Artifact, ...]
    requires_dist: tuple[str, ...] = ()
    provides_extra: tuple[str, ...] = ()
    yanked: bool = False
    yanked_reason: str = ""
    display_version: str = ""  # the spelling the index shows; str(version) when empty

    @property
    def label(self) -> str:
        return self.display_version or str(self.version)


class Source(Protocol):
    def releases(self, name: NormalizedName) -> Sequence[ReleaseInfo] | None:
        """Every release of a project (any order), or None when there is no such project.

        A lazy source may raise ``MissingProject`` to ask its caller to load the project and
        run again.
        """
        ...


class MissingProject(Exception):
    """Raised by a lazy source for a project it has not loaded yet."""

    def __init__(self, name: NormalizedName) -> None:
        super().__init__(name)
        self.name = name


class StaticSource:
    """A source over releases held in memory."""

    def __init__(self, releases: Iterable[ReleaseInfo]) -> None:
        self._by_name: dict[NormalizedName, list[ReleaseInfo]] = {}
        for release in releases:
            self._by_name.setdefault(release.name, []).append(release)

    def releases(self, name: NormalizedName) -> Sequence[ReleaseInfo] | None:
        return self._by_name.get(name)


class BadRequirement(ValueError):
    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(f"Invalid requirement {requirement!r}: {message}")
        self.requirement = requirement


def parse_requirement(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise BadRequirement(text, str(exc).splitlines()[0]) from None


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unsatisfiable:
    """A project whose requirements no release on the index meets, and why."""

    project: str
    requirements: tuple[tuple[str, str | None], ...]  # (requirement, required by; None: requested)
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "requirements": [{"requirement": r, "required_by": p} for r, p in self.requirements],
            "reason": self.reason,
        }

    def __str__(self) -> str:
        wanted = ", ".join(f"{r} ({f'from {p}' if p else 'requested'})" for r, p in self.requirements)
        return f"{wanted}: {self.reason}" if wanted else self.reason


@dataclass
class Resolution:
    environment: Environment
    pins: dict[str, str] = field(default_factory=dict)  # normalized name → version
    extras: dict[str, list[str]] = field(default_factory=dict)  # extras chosen per project
    unsatisfiable: list[Unsatisfiable] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unsatisfiable

    def message(self) -> str:
        if self.ok:
            return "Resolved."
        lines = [f"The requirements cannot be satisfied for {self.environment.describe()}:"]
        lines += [f"  {u}" for u in self.unsatisfiable]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "pins": dict(sorted(self.pins.items())),
            "environment": self.environment.to_json(),
        }
        if self.extras:
            doc["extras"] = self.extras
        if self.warnings:
            doc["warnings"] = self.warnings
        if self.unsatisfiable:
            doc["unsatisfiable"] = [u.to_json() for u in self.unsatisfiable]
        return doc


# -- the rules -----------------------------------------------------------------------------


def identifier(name: str, extras: Iterable[str] = ()) -> str:
    names = sorted({canonicalize_name(e) for e in extras})
    return f"{canonicalize_name(name)}[{','.join(names)}]" if names else canonicalize_name(name)


def _is_pinned(specifier: SpecifierSet) -> bool:
    """pip's PEP 592 test: an exact ``==`` (no wildcard) or ``===``."""
    return any(
        s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*")) for s in specifier
    )


def _evaluate(marker: Marker, env: Environment, extra: str) -> bool:
    try:
        return marker.evaluate({**env.markers, "extra": extra})
    except Exception:  # an undefined comparison: pip would stop; the index treats it as false
        return False


@dataclass(frozen=True)
class Dependency:
    declared: str  # the Requires-Dist string as the release declares it
    requirement: Requirement  # without its marker, already evaluated


class Catalog:
    """A source seen from one environment, with the per-release work cached."""

    def __init__(self, source: Source, env: Environment) -> None:
        self.source = source
        self.env = env
        self._exclusion: dict[int, str | None] = {}
        self._requirements: dict[int, list[tuple[str, Requirement]] | str] = {}
        self._wheel_tags: dict[str, frozenset[Any] | None] = {}

    def releases(self, name: NormalizedName) -> Sequence[ReleaseInfo] | None:
        return self.source.releases(name)

    def release(self, name: NormalizedName, version: str | Version) -> ReleaseInfo | None:
        wanted = Version(str(version))
        return next((r for r in self.releases(name) or () if r.version == wanted), None)

    def requirements(self, release: ReleaseInfo) -> list[tuple[str, Requirement]] | str:
        """The parsed Requires-Dist, or why it cannot be read."""
        key = id(release)
        if key not in self._requirements:
            try:
                self._requirements[key] = [(text, Requirement(text)) for text in release.requires_dist]
            except InvalidRequirement as exc:
                self._requirements[key] = f"invalid Requires-Dist in its metadata ({exc})"
        return self._requirements[key]

    def _file_problem(self, artifact: Artifact) -> str | None:
        if artifact.requires_python:
            try:
                if not SpecifierSet(artifact.requires_python).contains(self.env.python, prereleases=True):
                    return f"requires Python {artifact.requires_python}"
            except InvalidSpecifier:
                pass  # pip ignores an unreadable Requires-Python
        if artifact.filename.endswith(".whl"):
            if artifact.filename not in self._wheel_tags:
                try:
                    tags: frozenset[Any] | None = parse_wheel_filename(artifact.filename)[3]
                except InvalidWheelFilename:
                    tags = None
                self._wheel_tags[artifact.filename] = tags
            found = self._wheel_tags[artifact.filename]
            if found is None or found.isdisjoint(self.env.tags):
                return "no wheel for the target platform and no sdist"
        return None

    def exclusion(self, release: ReleaseInfo) -> str | None:
        """Why the target cannot install this release (yanks aside), or None if it can."""
        key = id(release)
        if key not in self._exclusion:
            problems = [self._file_problem(f) for f in release.files]
            reason: str | None
            if not release.files:
                reason = "no files"
            elif None in problems:
                reason = None
            else:
                reason = "; ".join(dict.fromkeys(p for p in problems if p))
            if reason is None and isinstance(self.requirements(release), str):
                reason = str(self.requirements(release))
            self._exclusion[key] = reason
        return self._exclusion[key]

    def matches(
        self, name: NormalizedName, requirements: Sequence[Requirement], excluded: Iterable[ReleaseInfo] = ()
    ) -> list[ReleaseInfo]:
        """The releases that may satisfy every requirement, newest first (pip's candidate rules)."""
        releases = self.releases(name) or ()
        if any(r.url for r in requirements):
            return []  # direct references: the index has nothing to offer for them
        specifier = SpecifierSet()
        for req in requirements:
            specifier &= req.specifier
        viable = [r for r in releases if self.exclusion(r) is None]
        allowed = set(specifier.filter([r.version for r in viable]))  # pre-releases as pip
        applicable = [r for r in viable if r.version in allowed]
        all_yanked = all(r.yanked for r in applicable)
        pinned = _is_pinned(specifier)
        skip = {id(r) for r in excluded}
        found = [r for r in applicable if (not r.yanked or (all_yanked and pinned)) and id(r) not in skip]
        return sorted(found, key=lambda r: r.version, reverse=True)

    def valid_extras(self, release: ReleaseInfo, extras: frozenset[str]) -> tuple[frozenset[str], list[str]]:
        provided = {canonicalize_name(e) for e in release.provides_extra}
        unknown = sorted(extras - provided)
        warnings = [f"{release.name} {release.label} does not provide the extra {e!r}" for e in unknown]
        return extras & provided, warnings

    def dependencies(self, release: ReleaseInfo, extras: frozenset[str] = frozenset()) -> list[Dependency]:
        """The requirements that apply to the target: markers evaluated, with ``extra``."""
        parsed = self.requirements(release)
        if isinstance(parsed, str):
            return []
        contexts = sorted(extras) if extras else [""]
        out: list[Dependency] = []
        for text, req in parsed:
            if req.marker is not None and not any(_evaluate(req.marker, self.env, e) for e in contexts):
                continue
            bare = Requirement(text)
            bare.marker = None
            out.append(Dependency(text, bare))
        return out


@dataclass(frozen=True)
class Candidate:
    release: ReleaseInfo
    extras: frozenset[str] = frozenset()

    @property
    def name(self) -> NormalizedName:
        return self.release.name

    @property
    def version(self) -> Version:
        return self.release.version

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras} {self.release.label}"


Information = RequirementInformation[Requirement, Candidate]


class _Provider(AbstractProvider[Requirement, Candidate, str]):
    def __init__(
        self,
        catalog: Catalog,
        requested: Mapping[str, int],
        overrides: Mapping[int, list[Requirement]] | None = None,
    ) -> None:
        self.catalog = catalog
        self.requested = requested
        self.overrides = overrides or {}
        self.parts: dict[str, tuple[NormalizedName, frozenset[str]]] = {}
        self.warnings: list[str] = []

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        item = requirement_or_candidate
        if isinstance(item, Candidate):
            name, extras = item.name, item.extras
        else:
            name, extras = canonicalize_name(item.name), frozenset(canonicalize_name(e) for e in item.extras)
        key = identifier(name, extras)
        self.parts.setdefault(key, (name, extras))
        return key

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Information]],
        backtrack_causes: Sequence[Information],
    ) -> Iterable[str]:
        """As pip: work on the identifiers in the latest conflict first."""
        causes: set[str] = set()
        for info in backtrack_causes:
            causes.add(self.identify(info.requirement))
            if info.parent is not None:
                causes.add(self.identify(info.parent))
        ids = list(identifiers)
        return [i for i in ids if i in causes] or ids

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterable[Information]],
        backtrack_causes: Sequence[Information],
    ) -> Any:
        """pip's order: pinned, then upper-bounded, then as requested, then constrained, by name."""
        operators = [
            (s.operator, s.version) for info in information[identifier] for s in info.requirement.specifier
        ]
        pinned = any(op[:2] == "==" and "*" not in ver for op, ver in operators)
        upper = any(op in ("<", "<=", "~=") or (op == "==" and "*" in ver) for op, ver in operators)
        order = self.requested.get(identifier, math.inf)
        return (not pinned, not upper, order, not operators, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        name, extras = self.parts[identifier]
        excluded = [c.release for c in incompatibilities.get(identifier, ())]
        found = self.catalog.matches(name, list(requirements.get(identifier, ())), excluded)
        return [Candidate(r, extras) for r in found]

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        if requirement.url:
            return False
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        release = candidate.release
        if not candidate.extras and id(release) in self.overrides:
            return list(self.overrides[id(release)])
        if not candidate.extras:
            return [d.requirement for d in self.catalog.dependencies(release)]
        extras, warnings = self.catalog.valid_extras(release, candidate.extras)
        self.warnings += [w for w in warnings if w not in self.warnings]
        base = Requirement(f"{release.name}=={release.version}")
        return [base, *(d.requirement for d in self.catalog.dependencies(release, extras))]


# -- resolution ----------------------------------------------------------------------------


def _label(parent: Candidate | None) -> str | None:
    return None if parent is None else str(parent)


def _why_none(catalog: Catalog, name: NormalizedName, req: Requirement) -> str:
    """Why no release of ``name`` is a candidate for one requirement."""
    releases = sorted(catalog.releases(name) or (), key=lambda r: r.version, reverse=True)
    if req.url:
        return "direct references (name @ URL) are not resolved from the index"
    if not releases:
        return f"{name} has no releases on this index"
    env = catalog.env.describe()
    inside = [r for r in releases if req.specifier.contains(r.version, prereleases=True)]
    if not inside:
        shown = ", ".join(r.label for r in releases[:10]) + (", ..." if len(releases) > 10 else "")
        return f"no version of {name} matches {str(req.specifier) or 'any'} (available: {shown})"
    details = []
    for r in inside[:6]:
        problem = catalog.exclusion(r)
        if problem is None and r.yanked:
            problem = f"yanked ({r.yanked_reason})" if r.yanked_reason else "yanked"
        if problem is None and r.version.is_prerelease:
            problem = "a pre-release, and the requirement does not ask for pre-releases"
        details.append(f"{r.label}: {problem or 'not selectable'}")
    more = ", ..." if len(inside) > 6 else ""
    return f"no release of {name} matching {str(req.specifier) or 'any'} installs on {env} ({'; '.join(details)}{more})"


def explain(catalog: Catalog, causes: Iterable[Information]) -> list[Unsatisfiable]:
    """Group resolvelib's causes by project and say, for each, why no release fits."""
    groups: dict[str, list[Information]] = {}
    for info in causes:
        groups.setdefault(identifier(info.requirement.name, info.requirement.extras), []).append(info)
    out: list[Unsatisfiable] = []
    for key, infos in groups.items():
        name = canonicalize_name(infos[0].requirement.name)
        wanted = tuple(dict.fromkeys((str(i.requirement), _label(i.parent)) for i in infos))
        if catalog.releases(name) is None:
            out.append(Unsatisfiable(key, wanted, f"no project {name!r} on this index"))
            continue
        failing = [i.requirement for i in infos if not catalog.matches(name, [i.requirement])]
        if failing:
            reasons = dict.fromkeys(_why_none(catalog, name, req) for req in failing)
            out.append(Unsatisfiable(key, wanted, "; ".join(reasons)))
        else:
            out.append(
                Unsatisfiable(key, wanted, f"no single version of {name} satisfies all of these together")
            )
    return out


def resolve(
    source: Source | Catalog,
    requirements: Sequence[str | Requirement],
    env: Environment,
    *,
    overrides: Mapping[int, list[Requirement]] | None = None,
    max_rounds: int = MAX_ROUNDS,
) -> Resolution:
    """Pins for ``requirements`` in ``env``, or what cannot be satisfied and why.

    ``overrides`` replaces the dependencies of given releases (by ``id``), for trees.
    Raises ``BadRequirement`` for a requirement string that does not parse, and lets a lazy
    source's ``MissingProject`` through.
    """
    catalog = source if isinstance(source, Catalog) else Catalog(source, env)
    result = Resolution(env)
    roots: list[Requirement] = []
    for item in requirements:
        req = parse_requirement(item) if isinstance(item, str) else item
        if req.marker is not None and not _evaluate(req.marker, env, ""):
            continue  # "Ignoring ...: markers don't match your environment", as pip says
        roots.append(req)
    for req in roots:
        if req.url:
            why = "direct references (name @ URL) are not resolved from the index"
            result.unsatisfiable.append(
                Unsatisfiable(identifier(req.name, req.extras), ((str(req), None),), why)
            )
    if result.unsatisfiable:
        return result
    requested = {identifier(r.name, r.extras): n for n, r in reversed(list(enumerate(roots)))}
    provider = _Provider(catalog, requested, overrides)
    resolver: Resolver[Requirement, Candidate, str] = Resolver(provider, BaseReporter())
    try:
        state = resolver.resolve(roots, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        result.unsatisfiable = explain(catalog, exc.causes)
        result.warnings = provider.warnings
        return result
    except ResolutionTooDeep as exc:
        why = f"the resolver gave up after {exc.round_count} rounds; pin some versions to narrow the search"
        result.unsatisfiable = [Unsatisfiable("*", tuple((str(r), None) for r in roots), why)]
        return result
    for candidate in state.mapping.values():
        if candidate.extras:
            chosen = result.extras.setdefault(candidate.name, [])
            chosen += [e for e in sorted(candidate.extras) if e not in chosen]
        else:
            result.pins[candidate.name] = candidate.release.label
    result.warnings = provider.warnings
    return result


# -- dependency trees ----------------------------------------------------------------------


class UnknownRelease(LookupError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class TreeNode:
    requirement: str  # as declared, marker included
    name: str
    extras: tuple[str, ...] = ()
    version: str | None = None  # None: unsatisfiable
    dependencies: list[TreeNode] = field(default_factory=list)
    unsatisfiable: str | None = None
    repeated: bool = False  # shown in full where it first appears
    advisories: list[str] = field(default_factory=list)  # known advisories affecting the chosen version
    first_fixed: str | None = None  # the first version that fixes all of them, when one exists

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"requirement": self.requirement, "name": self.name, "version": self.version}
        if self.advisories:
            doc["vulnerable"] = {"advisories": self.advisories, "first_fixed": self.first_fixed}
        if self.extras:
            doc["extras"] = list(self.extras)
        if self.unsatisfiable is not None:
            doc["unsatisfiable"] = self.unsatisfiable
        if self.repeated:
            doc["repeated"] = True
        doc["dependencies"] = [d.to_json() for d in self.dependencies]
        return doc


@dataclass
class DependencyTree:
    project: str
    version: str
    requires_dist: list[str]
    environment: Environment
    nodes: list[TreeNode]
    unsatisfiable: list[Unsatisfiable]
    pins: dict[str, str]
    installable: str | None = None  # why the release itself does not install on the target
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "project": self.project,
            "version": self.version,
            "requires_dist": self.requires_dist,
            "environment": self.environment.to_json(),
            "tree": [n.to_json() for n in self.nodes],
            "unsatisfiable": [u.to_json() for u in self.unsatisfiable],
            "pins": dict(sorted(self.pins.items())),
        }
        if self.installable is not None:
            doc["not_installable"] = self.installable
        if self.warnings:
            doc["warnings"] = self.warnings
        return doc


def dependency_tree(source: Source, env: Environment, name: str, version: str) -> DependencyTree:
    """The declared requirements of one release and, for ``env``, the version each resolves to.

    The versions come from one resolution of the release itself. When that fails, each direct
    requirement is added in turn and those that cannot join the others are marked
    unsatisfiable, with the reason; the rest still get versions.
    """
    catalog = Catalog(source, env)
    key = canonicalize_name(name)
    if catalog.releases(key) is None:
        raise UnknownRelease(f"No project {name!r} on this index.")
    try:
        root = catalog.release(key, version)
    except ValueError:
        root = None
    if root is None:
        raise UnknownRelease(f"Project {name!r} has no version {version!r}.")
    declared = catalog.requirements(root)
    deps = catalog.dependencies(root)
    problem = catalog.exclusion(root)
    pin = Requirement(f"{root.name}=={root.version}")

    def attempt(chosen: list[Dependency]) -> Resolution:
        reqs = [d.requirement for d in chosen]
        if problem is None:  # resolve the release itself, its dependencies replaced by ``chosen``
            return resolve(catalog, [pin], env, overrides={id(root): reqs})
        return resolve(catalog, reqs, env)

    failed: dict[int, str] = {}
    final = attempt(deps)
    unsatisfiable = list(final.unsatisfiable)
    if not final.ok:
        accepted: list[Dependency] = []
        final = attempt([])
        for n, dep in enumerate(deps):
            trial = attempt([*accepted, dep])
            if trial.ok:
                accepted.append(dep)
                final = trial
            else:
                failed[n] = "; ".join(str(u) for u in trial.unsatisfiable)
    tree = DependencyTree(
        project=root.name,
        version=root.label,
        requires_dist=list(root.requires_dist),
        environment=env,
        nodes=[],
        unsatisfiable=unsatisfiable,
        pins=final.pins,
        installable=problem,
        warnings=final.warnings,
    )
    if isinstance(declared, str):
        tree.installable = declared
    seen: set[str] = {identifier(root.name)}
    for n, dep in enumerate(deps):
        tree.nodes.append(_node(catalog, dep, final, seen, failed.get(n)))
    return tree


def _node(
    catalog: Catalog, dep: Dependency, resolution: Resolution, seen: set[str], failure: str | None
) -> TreeNode:
    req = dep.requirement
    name = canonicalize_name(req.name)
    extras = frozenset(canonicalize_name(e) for e in req.extras)
    node = TreeNode(dep.declared, name, tuple(sorted(extras)))
    version = resolution.pins.get(name)
    if failure is not None or version is None:
        node.unsatisfiable = failure or "not resolved"
        return node
    node.version = version
    key = identifier(name, extras)
    if key in seen:
        node.repeated = True
        return node
    seen.add(key)
    release = catalog.release(name, version)
    if release is None:  # pragma: no cover - pins always come from the catalog
        return node
    valid, _ = catalog.valid_extras(release, extras)
    for child in catalog.dependencies(release, valid):
        node.dependencies.append(_node(catalog, child, resolution, seen, None))
    return node
