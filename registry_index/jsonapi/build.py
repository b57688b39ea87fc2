"""Sidecar → PyPI's JSON API shape (/pypi/<project>/json), as poetry, pip-audit and bots read it."""

from __future__ import annotations

from typing import Any

from packaging.version import InvalidVersion, Version

from ..domain.model import FileEntry, Project, Release
from ..names import canonical_version
from ..simple.build import file_path

DOWNLOADS = {"last_day": -1, "last_month": -1, "last_week": -1}


def latest_version(project: Project, with_files: set[str] | None = None) -> str | None:
    """PyPI's rule: not yanked first, then not a pre-release, then the highest version.

    ``with_files``: the canonical versions of the project's files, if the caller has them.
    """

    def rank(key: str) -> tuple[bool, bool, Version]:
        release = project.releases[key]
        try:
            version = Version(release.version)
        except InvalidVersion:
            version = Version("0")
        return (not release.yanked, not version.is_prerelease, version)

    if with_files is None:
        with_files = {canonical_version(f.version) for f in project.files}  # one pass, not one per release
    keys = [k for k in project.releases if k in with_files]
    return max(keys, key=rank) if keys else None


def file_dict(project: Project, entry: FileEntry, release: Release | None, base: str) -> dict[str, Any]:
    yanked = bool(release and release.yanked)
    return {
        "comment_text": "",
        "core-metadata": {"sha256": entry.core_metadata_sha256} if entry.core_metadata_sha256 else False,
        "digests": {"blake2b_256": entry.blake2b_256, "md5": entry.md5, "sha256": entry.sha256},
        "downloads": -1,
        "filename": entry.filename,
        "has_sig": False,
        "md5_digest": entry.md5,
        "packagetype": entry.packagetype,
        "python_version": entry.python_version,
        "requires_python": entry.requires_python,
        "size": entry.size,
        "upload_time": entry.upload_time.split(".")[0].rstrip("Z"),
        "upload_time_iso_8601": entry.upload_time,
        "url": base + file_path(project.normalized, entry),
        "yanked": yanked,
        "yanked_reason": (release.yanked_reason or None) if yanked and release else None,
    }


def info_dict(project: Project, release: Release, description: str, base: str) -> dict[str, Any]:
    meta = release.metadata
    return {
        "author": meta.get("author", ""),
        "author_email": meta.get("author_email", ""),
        "bugtrack_url": None,
        "classifiers": meta.get("classifiers", []),
        "description": description,
        "description_content_type": meta.get("description_content_type"),
        "docs_url": None,
        "download_url": meta.get("download_url", ""),
        "downloads": DOWNLOADS,
        "dynamic": None,
        "home_page": meta.get("home_page", ""),
        "keywords": ",".join(meta.get("keywords", [])),
        "license": meta.get("license", ""),
        "license_expression": meta.get("license_expression"),
        "license_files": meta.get("license_files"),
        "maintainer": meta.get("maintainer", ""),
        "maintainer_email": meta.get("maintainer_email", ""),
        "name": project.name,
        "package_url": f"{base}/project/{project.normalized}/",
        "platform": None,
        "project_url": f"{base}/project/{project.normalized}/",
        "project_urls": meta.get("project_urls"),
        "provides_extra": meta.get("provides_extra"),
        "release_url": f"{base}/project/{project.normalized}/{release.version}/",
        "requires_dist": meta.get("requires_dist"),
        "requires_python": release.requires_python,
        "summary": release.summary,
        "version": release.version,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


def files_of(project: Project, key: str) -> list[FileEntry]:
    return [f for f in project.files if canonical_version(f.version) == key]


def project_document(
    project: Project,
    key: str,
    description: str,
    base: str,
    vulnerabilities: list[dict[str, Any]],
    *,
    with_releases: bool,
) -> dict[str, Any]:
    release = project.releases[key]
    doc: dict[str, Any] = {
        "info": info_dict(project, release, description, base),
        "last_serial": project.serial,
        "ownership": {
            "organization": None,
            "roles": [{"role": "Owner", "user": u} for u in project.owners]
            + [{"role": "Maintainer", "user": u} for u in project.maintainers],
        },
        "urls": [file_dict(project, f, release, base) for f in files_of(project, key)],
        "vulnerabilities": vulnerabilities,
    }
    if with_releases:
        doc["releases"] = {
            r.version: [file_dict(project, f, r, base) for f in files_of(project, k)]
            for k, r in project.releases.items()
        }
    return doc
