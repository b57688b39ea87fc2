"""`registry-index scan`: stored versions that advisories affect, and packages whose
requirements the index can only meet with affected versions."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import asdict, dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from ..domain.model import Project
from ..names import canonical_version, normalize
from .advisories import AdvisoryDB
from .osv import SEVERITIES, fixed_in

LEVELS = ("none", "any", *SEVERITIES)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # "affected" | "dependency"
    project: str
    version: str
    advisory: str
    aliases: list[str]
    severity: str
    fixed_in: list[str]
    requirement: str = ""  # for "dependency": the requirement only affected versions can meet


@dataclass
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    scanned_versions: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"scanned_versions": self.scanned_versions, "findings": [asdict(f) for f in self.findings]}


def gates(finding: Finding, fail_on: str) -> bool:
    """Whether a finding fails the scan; an advisory without a severity counts at every level."""
    if fail_on == "none":
        return False
    if fail_on == "any" or finding.severity == "unknown":
        return True
    return SEVERITIES.index(finding.severity) >= SEVERITIES.index(fail_on)


Lookup = Callable[[str], Awaitable[Project | None]]


async def scan(
    projects: AsyncIterable[Project],
    db: AdvisoryDB,
    lookup: Lookup,
    progress: Callable[[int, int, str], None] | None = None,
    total: int = 0,
) -> ScanReport:
    """Each project as it comes (one held at a time); ``lookup`` finds a requirement's
    project by normalized name, and ``total`` is how many projects to expect."""
    report = ScanReport()
    n = 0
    async for project in projects:
        for release in project.releases.values():
            report.scanned_versions += 1
            for advisory in await db.matching(project.normalized, release.version):
                report.findings.append(
                    Finding(
                        "affected",
                        project.normalized,
                        release.version,
                        advisory.id,
                        list(advisory.aliases),
                        advisory.severity,
                        fixed_in(advisory, project.normalized),
                    )
                )
            for text in release.metadata.get("requires_dist", []):
                report.findings += await _dependency_findings(project, release.version, text, db, lookup)
        n += 1
        if progress:
            progress(n, total, project.normalized)
    return report


async def _dependency_findings(
    project: Project, version: str, text: str, db: AdvisoryDB, lookup: Lookup
) -> list[Finding]:
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return []
    if req.marker is not None and "extra" in str(req.marker):
        return []  # optional: only installed on request
    target = await lookup(normalize(req.name))
    if target is None:
        return []
    candidates = []
    for release in target.releases.values():
        try:
            if not release.yanked and req.specifier.contains(Version(release.version), prereleases=True):
                candidates.append(release.version)
        except InvalidVersion:
            continue
    if not candidates:
        return []
    hits = {v: await db.matching(target.normalized, v) for v in candidates}
    if not all(hits.values()):
        return []  # a safe version exists
    best = max(candidates, key=lambda v: Version(canonical_version(v)))
    return [
        Finding(
            "dependency",
            project.normalized,
            version,
            advisory.id,
            list(advisory.aliases),
            advisory.severity,
            fixed_in(advisory, target.normalized),
            requirement=str(req),
        )
        for advisory in hits[best]
    ]
