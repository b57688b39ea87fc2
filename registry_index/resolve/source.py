"""What a resolution works on and gives back: releases, their source, the results (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    NormalizedName,
)
from packaging.version import Version

from .environment import Environment

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
