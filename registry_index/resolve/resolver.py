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
from dataclasses import dataclass
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import (
    NormalizedName,
    canonicalize_name,
)
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver
from resolvelib.structs import RequirementInformation

from .catalog import Catalog, evaluate_marker, identifier
from .environment import Environment
from .source import (
    ReleaseInfo,
    Resolution,
    Source,
    Unsatisfiable,
    parse_requirement,
)

MAX_ROUNDS = 20_000


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
        if req.marker is not None and not evaluate_marker(req.marker, env, ""):
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
