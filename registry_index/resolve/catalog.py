"""pip's candidate rules applied to a source for one target environment, cached per release (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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

from .environment import Environment
from .source import Artifact, ReleaseInfo, Source

# -- the rules -----------------------------------------------------------------------------


def identifier(name: str, extras: Iterable[str] = ()) -> str:
    names = sorted({canonicalize_name(e) for e in extras})
    return f"{canonicalize_name(name)}[{','.join(names)}]" if names else canonicalize_name(name)


def is_pinned(specifier: SpecifierSet) -> bool:
    """pip's PEP 592 test: an exact ``==`` (no wildcard) or ``===``."""
    return any(
        s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*")) for s in specifier
    )


def evaluate_marker(marker: Marker, env: Environment, extra: str) -> bool:
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
        pinned = is_pinned(specifier)
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
            if req.marker is not None and not any(evaluate_marker(req.marker, self.env, e) for e in contexts):
                continue
            bare = Requirement(text)
            bare.marker = None
            out.append(Dependency(text, bare))
        return out
