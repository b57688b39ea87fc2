"""A project's sidecar arranged for its pages: files grouped by release, once per serial.

Grouping is one pass over the files (canonical versions memoized by spelling), so a project
with thousands of files or releases costs milliseconds, and the result is kept per serial.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from ..domain.model import FileEntry, Project, Release
from ..names import canonical_version, normalize

_ZERO = Version("0")
_EXTRA = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


@dataclass(frozen=True, slots=True)
class ReleaseView:
    key: str  # canonical version
    release: Release
    files: tuple[FileEntry, ...]  # source first, then wheels by name
    readme_from: tuple[FileEntry, ...]  # where the README is read: first wheels, then sdists, by upload
    uploaded: str  # the first upload's time
    prerelease: bool
    parsed: Version


@dataclass(frozen=True, slots=True)
class ProjectView:
    project: Project
    releases: tuple[ReleaseView, ...]  # newest version first; releases with files only
    by_key: dict[str, ReleaseView]
    latest: str | None
    files: int
    updated: str  # the last upload's time


def _parse(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return _ZERO


def _file_order(entry: FileEntry) -> tuple[bool, str]:
    return (entry.packagetype != "sdist", entry.filename)


def _readme_candidates(files: list[FileEntry]) -> tuple[FileEntry, ...]:
    """A few files in the order Registry.description tries them; it stops at the first it can read."""
    wheels = [f for f in files if f.packagetype == "bdist_wheel"]
    others = [f for f in files if f.packagetype != "bdist_wheel"]
    return (*wheels[:3], *others[:2])


def build_view(project: Project) -> ProjectView:
    keys: dict[str, str] = {}
    groups: dict[str, list[FileEntry]] = {}
    for entry in project.files:
        key = keys.get(entry.version)
        if key is None:
            key = keys[entry.version] = canonical_version(entry.version)
        groups.setdefault(key, []).append(entry)
    releases: list[ReleaseView] = []
    for key, files in groups.items():
        release = project.releases.get(key)
        if release is None:
            continue
        parsed = _parse(release.version)
        releases.append(
            ReleaseView(
                key=key,
                release=release,
                files=tuple(sorted(files, key=_file_order)),
                readme_from=_readme_candidates(files),
                uploaded=min(f.upload_time for f in files),
                prerelease=parsed.is_prerelease,
                parsed=parsed,
            )
        )
    releases.sort(key=lambda r: r.parsed, reverse=True)
    # The rule of jsonapi.build.latest_version (not yanked, then final, then highest), without
    # its per-release scan of every file.
    latest = max(releases, key=lambda r: (not r.release.yanked, not r.prerelease, r.parsed), default=None)
    return ProjectView(
        project=project,
        releases=tuple(releases),
        by_key={r.key: r for r in releases},
        latest=latest.key if latest else None,
        files=len(project.files),
        updated=max((f.upload_time for f in project.files), default=""),
    )


_VIEWS: OrderedDict[tuple[str, int, str, int], ProjectView] = OrderedDict()
_VIEWS_MAX = 128


def project_view(project: Project) -> ProjectView:
    key = (project.normalized, project.serial, project.created, len(project.files))
    view = _VIEWS.get(key)
    if view is not None and view.project is project:
        _VIEWS.move_to_end(key)
        return view
    view = build_view(project)
    _VIEWS[key] = view
    while len(_VIEWS) > _VIEWS_MAX:
        _VIEWS.popitem(last=False)
    return view


@dataclass(frozen=True, slots=True)
class Dependency:
    text: str  # the requirement as written in the metadata
    name: str  # "" when the requirement cannot be parsed
    normalized: str
    rest: str  # what follows the name: extras, specifiers, marker
    extra: str  # the extra it belongs to, if its marker names one


def dependencies(requires_dist: list[str] | None) -> list[Dependency]:
    out: list[Dependency] = []
    for text in requires_dist or ():
        try:
            req = Requirement(text)
        except InvalidRequirement:
            out.append(Dependency(text, "", "", "", ""))
            continue
        rest = text.strip()[len(req.name) :] if text.strip().startswith(req.name) else text
        found = _EXTRA.search(str(req.marker)) if req.marker is not None else None
        extra = found.group(1) if found else ""
        out.append(Dependency(text, req.name, normalize(req.name), rest, extra))
    return out


def safe_url(url: object) -> str | None:
    """A project URL fit for an href: http(s) only, so metadata can't smuggle javascript: in."""
    if not isinstance(url, str):
        return None
    value = url.strip()
    if value.lower().startswith(("https://", "http://")) and not any(c in value for c in "\r\n\t "):
        return value
    return None
