"""Sidecar → the PEP 691 dictionaries both renderers work from (pure)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..domain.model import FileEntry, Project, ProjectIndex
from ..names import canonical_version

API_VERSION = "1.4"


def file_path(project: str, entry: FileEntry) -> str:
    """The app's own stable URL path of a file, relative to the app root."""
    return f"/files/{project}/{entry.sha256}/{quote(entry.filename)}"


def build_index(index: ProjectIndex) -> dict[str, Any]:
    names = sorted((n, display) for n, display in index.projects.items() if n not in index.hidden)
    return {
        "meta": {"api-version": API_VERSION, "_last-serial": index.serial},
        "projects": [{"name": display, "_normalized": n} for n, display in names],
    }


def _file_dict(project: Project, entry: FileEntry, root: str) -> dict[str, Any]:
    release = project.releases.get(_release_key(project, entry))
    out: dict[str, Any] = {
        "filename": entry.filename,
        "url": root + file_path(project.normalized, entry),
        "hashes": {"sha256": entry.sha256},
    }
    if entry.requires_python:
        out["requires-python"] = entry.requires_python
    out["core-metadata"] = {"sha256": entry.core_metadata_sha256} if entry.core_metadata_sha256 else False
    out["size"] = entry.size
    out["upload-time"] = entry.upload_time
    if release is not None and release.yanked:
        out["yanked"] = release.yanked_reason or True
    else:
        out["yanked"] = False
    return out


def _release_key(project: Project, entry: FileEntry) -> str:
    return canonical_version(entry.version)


def build_project(project: Project, root: str = "") -> dict[str, Any]:
    """The PEP 691 project dict; a quarantined project lists no files (PEP 792)."""
    files = [] if project.status == "quarantined" else [_file_dict(project, f, root) for f in project.files]
    status: dict[str, str] = {"status": project.status}
    if project.status_reason:
        status["reason"] = project.status_reason
    return {
        "meta": {"api-version": API_VERSION, "_last-serial": project.serial},
        "name": project.normalized,
        "versions": [r.version for r in project.releases.values()],
        "files": files,
        "project-status": status,
    }
