"""PEP 691 JSON pages read as hostile input (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NoReturn

from ..names import is_valid_name, normalize
from .fields import (
    UpstreamFile,
    UpstreamPageError,
    UpstreamProject,
    absolute_url,
    add_file,
    checked_api_version,
    checked_filename,
    checked_hashes,
    checked_size,
    checked_text,
    fail,
    optional_text,
    shown,
    too_many,
)

# ---------------------------------------------------------------------------------------------
# JSON (PEP 691)


def _reject_constant(name: str) -> NoReturn:
    fail(f"the JSON contains {name}, which is not JSON")


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(bytes(body).decode("utf-8-sig"), parse_constant=_reject_constant)
    except UpstreamPageError:
        raise
    except RecursionError:
        fail("the JSON is nested too deeply")
    except ValueError as exc:  # also UnicodeDecodeError and over-long integers
        fail(f"the page is not valid JSON: {exc}")
    if not isinstance(doc, dict):
        fail(f"the JSON page must be an object, not {type(doc).__name__}")
    return doc


def _json_meta(doc: dict[str, Any]) -> tuple[str, int | None]:
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        fail(f"meta must be an object, not {type(meta).__name__}")
    version = checked_api_version(meta["api-version"], "meta.api-version") if "api-version" in meta else "1.0"
    serial = meta.get("_last-serial")  # PyPI's; "_" keys belong to the index (PEP 691)
    if serial is not None and (not isinstance(serial, int) or isinstance(serial, bool) or serial < 0):
        fail(f"meta._last-serial {shown(serial)} is not a non-negative integer")
    return version, serial


def _json_core_metadata(value: object, what: str) -> dict[str, str] | bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    return checked_hashes(value, what) or True


def _json_file(item: object, page_url: str, what: str) -> UpstreamFile:
    if not isinstance(item, dict):
        fail(f"{what} must be an object, not {type(item).__name__}")
    for key in ("filename", "url", "hashes"):  # PEP 691: all three MUST be there
        if key not in item:
            fail(f"{what} has no {key!r}")
    filename = checked_filename(item["filename"], f"{what}.filename")
    what = f"{what} ({filename})"
    yanked = item.get("yanked", False)  # PEP 592 / 691: false, true or a reason
    if yanked is None:
        yanked = False
    if not isinstance(yanked, bool | str):
        fail(f"{what}.yanked must be a boolean or a string, not {type(yanked).__name__}")
    reason = checked_text(yanked, f"{what}.yanked") if isinstance(yanked, str) else ""
    # PEP 714: read core-metadata, else the older dist-info-metadata; PyPI once also sent
    # data-dist-info-metadata in JSON, which uv still reads.
    for key in ("core-metadata", "dist-info-metadata", "data-dist-info-metadata"):
        if key in item:
            core_metadata = _json_core_metadata(item[key], f"{what}.{key}")
            break
    else:
        core_metadata = False
    upload_time = item.get("upload-time")  # PEP 700
    provenance = item.get("provenance")  # PEP 740
    return UpstreamFile(
        filename=filename,
        url=absolute_url(item["url"], page_url, f"{what}.url"),
        hashes=checked_hashes(item["hashes"], f"{what}.hashes"),
        requires_python=optional_text(item.get("requires-python"), f"{what}.requires-python"),
        yanked=bool(yanked),  # "" is falsy: not yanked, as pip reads it
        yanked_reason=reason,
        core_metadata=core_metadata,
        size=checked_size(item.get("size"), f"{what}.size"),
        upload_time=None
        if upload_time is None
        else checked_text(upload_time, f"{what}.upload-time", limit=64),
        provenance=None
        if provenance is None
        else absolute_url(provenance, page_url, f"{what}.provenance", keep_fragment=True),
    )


def json_project(body: bytes, page_url: str, expected: str, max_files: int) -> UpstreamProject:
    doc = _load_json(body)
    version, serial = _json_meta(doc)
    if "name" not in doc:
        fail("the page has no 'name'")
    name = checked_text(doc["name"], "name", limit=256)
    if not is_valid_name(name) or normalize(name) != expected:
        fail(f"the page is for {shown(name)}, not {shown(expected)}")
    raw_files = doc.get("files")
    if not isinstance(raw_files, list):
        fail(f"files must be a list, not {type(raw_files).__name__}")
    if len(raw_files) > max_files:
        too_many(len(raw_files), max_files, "files")
    files: dict[str, UpstreamFile] = {}
    for i, item in enumerate(raw_files):
        add_file(files, _json_file(item, page_url, f"files[{i}]"), f"files[{i}]")
    versions = None
    if doc.get("versions") is not None:  # PEP 700, from api-version 1.1
        raw_versions = doc["versions"]
        if not isinstance(raw_versions, list):
            fail(f"versions must be a list, not {type(raw_versions).__name__}")
        versions = tuple(
            dict.fromkeys(checked_text(v, f"versions[{i}]", limit=256) for i, v in enumerate(raw_versions))
        )
    status = reason = None
    raw_status = doc.get("project-status")  # PEP 792: top level, sub-keys status and reason
    if raw_status is not None:
        if not isinstance(raw_status, dict):
            fail(f"project-status must be an object, not {type(raw_status).__name__}")
        status = optional_text(raw_status.get("status"), "project-status.status")
        reason = optional_text(raw_status.get("reason"), "project-status.reason")
    return UpstreamProject(
        name=name,
        normalized=expected,
        files=tuple(files.values()),
        versions=versions,
        status=status,
        status_reason=reason,
        last_serial=serial,
        api_version=version,
        format="json",
    )


def json_index(body: bytes, max_projects: int) -> tuple[str, ...]:
    doc = _load_json(body)
    _json_meta(doc)
    projects = doc.get("projects")
    if not isinstance(projects, list):
        fail(f"projects must be a list, not {type(projects).__name__}")
    if len(projects) > max_projects:
        too_many(len(projects), max_projects, "projects")
    names: list[object] = []
    for i, item in enumerate(projects):
        if not isinstance(item, dict) or "name" not in item:
            fail(f"projects[{i}] must be an object with a 'name'")
        names.append(item["name"])
    return index_names(names, "projects")


def index_names(names: Sequence[object], what: str) -> tuple[str, ...]:
    """Valid project names, first spelling of each normalized name kept (order is upstream's)."""
    out: dict[str, str] = {}
    for i, raw in enumerate(names):
        name = checked_text(raw, f"{what}[{i}]", limit=256).strip()
        if not is_valid_name(name):
            fail(f"{what}[{i}] {shown(name)} is not a valid project name")
        out.setdefault(normalize(name), name)
    return tuple(out.values())
