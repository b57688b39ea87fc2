"""OSV advisories: parsing, matching against PEP 440 versions, and PyPI's JSON shape (pure).

Matching follows the OSV schema: an ``affected`` entry for the PyPI ecosystem whose
normalized package name is the project's; the version is affected when it is listed in
``versions`` or falls in an ``ECOSYSTEM`` range, evaluated over its events in version order
(``introduced`` opens, ``fixed`` closes before itself, ``last_affected`` closes after itself).
Withdrawn advisories never match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

SEVERITIES = ("low", "medium", "high", "critical")


class AdvisoryError(ValueError):
    """A record that does not follow the OSV schema."""


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # introduced | fixed | last_affected
    version: Version | None  # None for introduced "0": from the very first version


@dataclass(frozen=True, slots=True)
class Affected:
    package: str  # normalized
    ranges: tuple[tuple[Event, ...], ...]
    versions: frozenset[Version]


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str | None
    details: str
    withdrawn: str | None
    affected: tuple[Affected, ...]
    severity: str = "unknown"  # low | medium | high | critical | unknown
    score: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def packages(self) -> set[str]:
        return {a.package for a in self.affected}


def _version(text: Any, where: str) -> Version:
    try:
        return Version(str(text))
    except InvalidVersion:
        raise AdvisoryError(f"{where}: {text!r} is not a PEP 440 version") from None


def _severity(doc: dict[str, Any]) -> tuple[str, float | None]:
    best: float | None = None
    for entry in doc.get("severity") or ():
        vector = str(entry.get("score", ""))
        try:
            if vector.startswith("CVSS:4"):
                from cvss import CVSS4

                score = float(CVSS4(vector).base_score)
            elif vector.startswith("CVSS:3"):
                from cvss import CVSS3

                score = float(CVSS3(vector).scores()[0])
            else:
                continue
        except Exception:  # the cvss library raises its own types for malformed vectors
            continue
        best = score if best is None else max(best, score)
    if best is None:
        return "unknown", None
    level = "critical" if best >= 9 else "high" if best >= 7 else "medium" if best >= 4 else "low"
    return level, best


def parse(doc: Any, source: str = "") -> Advisory:
    """One OSV record; raises AdvisoryError naming what is wrong."""
    where = source or "record"
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise AdvisoryError(f"{where}: not an OSV record (no 'id')")
    affected = []
    for n, entry in enumerate(doc.get("affected") or ()):
        package = entry.get("package") or {}
        if package.get("ecosystem") != "PyPI" or not package.get("name"):
            continue
        ranges = []
        for rng in entry.get("ranges") or ():
            if rng.get("type") != "ECOSYSTEM":
                continue  # GIT and SEMVER ranges do not describe PyPI releases
            events = []
            for event in rng.get("events") or ():
                if not isinstance(event, dict) or len(event) != 1:
                    raise AdvisoryError(f"{where}: affected[{n}] has a malformed range event {event!r}")
                ((kind, value),) = event.items()
                if kind not in ("introduced", "fixed", "last_affected", "limit"):
                    raise AdvisoryError(f"{where}: unknown range event {kind!r}")
                if kind == "limit":
                    continue
                zero = kind == "introduced" and str(value) == "0"
                events.append(Event(kind, None if zero else _version(value, where)))
            ranges.append(tuple(events))
        versions = set()
        for value in entry.get("versions") or ():
            try:
                versions.add(Version(str(value)))
            except InvalidVersion:
                continue  # listed releases that PEP 440 cannot name cannot be ours either
        affected.append(Affected(str(canonicalize_name(package["name"])), tuple(ranges), frozenset(versions)))
    level, score = _severity(doc)
    return Advisory(
        id=doc["id"],
        aliases=tuple(doc.get("aliases") or ()),
        summary=doc.get("summary"),
        details=str(doc.get("details") or ""),
        withdrawn=str(doc["withdrawn"]) if doc.get("withdrawn") else None,
        affected=tuple(affected),
        severity=level,
        score=score,
        raw=doc,
    )


def _in_range(events: Iterable[Event], version: Version) -> bool:
    ordered = sorted(events, key=lambda e: (e.version is not None, e.version or Version("0")))
    affected = False
    for event in ordered:
        if event.version is not None and event.version > version:
            break
        if event.kind == "introduced":
            affected = True
        elif event.kind == "fixed":
            affected = False  # fixed at or before this version
        elif event.kind == "last_affected" and event.version is not None and event.version < version:
            affected = False
    return affected


def affects(advisory: Advisory, project: str, version: str | Version) -> bool:
    if advisory.withdrawn:
        return False
    try:
        wanted = version if isinstance(version, Version) else Version(version)
    except InvalidVersion:
        return False
    name = canonicalize_name(project)
    for entry in advisory.affected:
        if entry.package != name:
            continue
        if wanted in entry.versions or any(_in_range(r, wanted) for r in entry.ranges):
            return True
    return False


def fixed_in(advisory: Advisory, project: str) -> list[str]:
    name = canonicalize_name(project)
    fixed = {
        e.version
        for entry in advisory.affected
        if entry.package == name
        for rng in entry.ranges
        for e in rng
        if e.kind == "fixed" and e.version is not None
    }
    return [str(v) for v in sorted(fixed)]


def pypi_shape(advisory: Advisory, project: str) -> dict[str, Any]:
    """As PyPI's JSON API lists it under ``vulnerabilities``."""
    return {
        "aliases": list(advisory.aliases),
        "details": advisory.details,
        "fixed_in": fixed_in(advisory, project),
        "id": advisory.id,
        "link": f"https://osv.dev/vulnerability/{advisory.id}",
        "source": "osv",
        "summary": advisory.summary,
        "withdrawn": advisory.withdrawn,
    }
