"""An inspected upload as domain values: its release, its file entry (pure)."""

from __future__ import annotations

import hashlib
from typing import Any

from packaging.metadata import Metadata

from ..domain.model import FileEntry, Release, utc_now
from ..names import DistFilename
from .inspect import Upload
from .validate import field

_TEXT_FIELDS = (
    "summary",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license",
    "license_expression",
    "home_page",
    "download_url",
    "description_content_type",
)
_LIST_FIELDS = ("keywords", "classifiers", "platforms", "provides_extra", "license_files")


def json_metadata(metadata: Metadata) -> dict[str, Any]:
    """The core-metadata fields the pages and APIs need, JSON-safe; no description."""
    out: dict[str, Any] = {}
    for key in _TEXT_FIELDS:
        value = getattr(metadata, key, None)
        if value:
            out[key] = str(value)
    for key in _LIST_FIELDS:
        value = getattr(metadata, key, None)
        if value:
            out[key] = [str(v) for v in value]
    if metadata.requires_dist:
        out["requires_dist"] = [str(r) for r in metadata.requires_dist]
    if metadata.project_urls:
        out["project_urls"] = dict(metadata.project_urls)
    return out


def release_of(metadata: Metadata, dist: DistFilename) -> Release:
    """The release this upload describes; a wheel's metadata is marked static ("from_wheel")."""
    fields = json_metadata(metadata)
    if dist.packagetype == "bdist_wheel":
        fields["from_wheel"] = True
    return Release(
        version=str(metadata.version),
        summary=metadata.summary or "",
        requires_python=str(metadata.requires_python) if metadata.requires_python else None,
        metadata=fields,
    )


def file_entry(
    dist: DistFilename, metadata: Metadata, raw_metadata: bytes, upload: Upload, uploader: str
) -> FileEntry:
    digests = upload.digests
    assert digests is not None
    return FileEntry(
        filename=dist.filename,
        version=str(metadata.version),
        packagetype=dist.packagetype,
        python_version=field(upload.form, "pyversion") or dist.python_tag,
        sha256=digests.sha256,
        blake2b_256=digests.blake2b_256,
        md5=digests.md5,
        size=upload.size,
        upload_time=utc_now(),
        uploader=uploader,
        requires_python=str(metadata.requires_python) if metadata.requires_python else None,
        # PEP 658 metadata is advertised for wheels only: an sdist's PKG-INFO may be dynamic.
        core_metadata_sha256=(
            hashlib.sha256(raw_metadata).hexdigest() if dist.packagetype == "bdist_wheel" else None
        ),
    )
