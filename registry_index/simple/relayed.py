"""An upstream's project page as this index serves it: the PEP 691 document both renderers
take, with this index's own file URLs and the upstream's own values (pure)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..upstream.page import UpstreamFile, UpstreamProject
from .build import API_VERSION


def file_path(upstream: str, project: str, entry: UpstreamFile) -> str:
    """The app's URL path of a relayed file, relative to the app root."""
    return f"/upstream/{quote(upstream)}/{project}/{quote(entry.filename)}"


def relayable(entry: UpstreamFile) -> bool:
    """Only files with a sha256 are relayed: it is what the cache verifies before it keeps
    bytes, and the one hash clients are given (uv checks digest lengths)."""
    return "sha256" in entry.hashes


def core_metadata_sha256(entry: UpstreamFile) -> str | None:
    """The advertised metadata's sha256; without one it is not advertised (PEP 658 files are
    verified before they are stored, like the distributions)."""
    if isinstance(entry.core_metadata, dict):
        return entry.core_metadata.get("sha256")
    return None


def build_relayed(upstream: str, project: UpstreamProject, root: str = "") -> dict[str, Any]:
    """The PEP 691 project dict for an upstream project, keeping every field a client uses."""
    files: list[dict[str, Any]] = []
    if project.status != "quarantined":
        for entry in project.files:
            if not relayable(entry):
                continue
            out: dict[str, Any] = {
                "filename": entry.filename,
                "url": root + file_path(upstream, project.normalized, entry),
                "hashes": {"sha256": entry.hashes["sha256"]},
            }
            if entry.requires_python:
                out["requires-python"] = entry.requires_python
            metadata = core_metadata_sha256(entry)
            out["core-metadata"] = {"sha256": metadata} if metadata else False
            # Never invented: an upstream that gave no size or upload time leaves the key out
            # (uv refuses null, and our fetch time would make every file look brand new).
            if entry.size is not None:
                out["size"] = entry.size
            if entry.upload_time is not None:
                out["upload-time"] = entry.upload_time
            out["yanked"] = (entry.yanked_reason or True) if entry.yanked else False
            if entry.provenance:
                out["provenance"] = entry.provenance
            files.append(out)
    # PEP 700 makes size and versions required from 1.1: an upstream that lacks them (an
    # HTML-only one) is relayed as 1.0 rather than with invented values.
    complete = project.versions is not None and all("size" in f for f in files)
    meta: dict[str, Any] = {"api-version": API_VERSION if complete else "1.0"}
    if project.last_serial is not None:
        meta["_last-serial"] = project.last_serial
    doc: dict[str, Any] = {"meta": meta, "name": project.normalized, "files": files}
    if project.versions is not None:
        doc["versions"] = list(project.versions)
    if project.status:
        status: dict[str, str] = {"status": project.status}
        if project.status_reason:
            status["reason"] = project.status_reason
        doc["project-status"] = status
    return doc
