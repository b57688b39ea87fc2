"""Big projects' sidecars in sealed segments, so an upload writes bytes independent of the
project's size (pure: encoding, decoding and sealing; the repository does the I/O).

A sidecar holding every file of a 10,000-file project is megabytes, and rewriting it on each
upload made importing into a big project quadratic. So once a project has ``SEGMENT_FILES``
files, every full run of that many files (in upload order), with the releases those files
belong to, is written once to its own content-addressed object, ``segments/<project>/<sha256>.json``.
The sidecar then carries the segments' digests and only the files after the last full run:
an upload rewrites a sidecar of at most ``SEGMENT_FILES - 1`` files, and writes one segment
every ``SEGMENT_FILES`` uploads.

The sidecar stays the one compare-and-swap point: segments are written (create-only, named by
their digest, so a lost race leaves at worst an unreferenced object) before the sidecar that
names them. A reader revalidates the sidecar alone; segments never change, so each is read once
per process and kept. Anything that changes a sealed file or release (a yank, a deletion, a
wheel's metadata replacing an sdist's) makes the affected runs seal again under new digests.

A project with fewer files than a segment is written exactly as before (schema 1), so builds
from before segments read every such sidecar.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

from ..names import canonical_version
from .model import (
    FileEntry,
    Project,
    Release,
    Sealed,
    SidecarError,
    from_doc,
    from_json,
    project_doc,
    to_json,
)

SEGMENT_FILES = 256
SCHEMA = 2  # a sidecar that names segments; a segment object carries it too

_FILE_FIELDS = tuple(f.name for f in fields(FileEntry))
_RELEASE_FIELDS = tuple(f.name for f in fields(Release))


def encode_segment(files: Sequence[FileEntry], releases: Mapping[str, Release]) -> bytes:
    doc = {
        "schema": SCHEMA,
        "files": [{name: getattr(f, name) for name in _FILE_FIELDS} for f in files],
        "releases": {
            key: {name: getattr(r, name) for name in _RELEASE_FIELDS} for key, r in sorted(releases.items())
        },
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def decode_segment(digest: str, data: bytes) -> Sealed:
    """A segment as read from the store; its bytes must hash to the digest that named it."""
    if hashlib.sha256(data).hexdigest() != digest:
        raise SidecarError(f"segment {digest} does not match its digest (damaged or replaced)")
    try:
        doc = json.loads(data)
        if doc.get("schema") != SCHEMA:
            raise SidecarError(f"segment schema {doc.get('schema')!r} is not supported")
        files = tuple(FileEntry(**f) for f in doc["files"])
        releases = {k: Release(**v) for k, v in doc["releases"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise SidecarError(f"segment {digest} is malformed: {exc}") from exc
    return Sealed(digest, len(files), files, releases, len(data))


def _versions(files: Iterable[FileEntry]) -> set[str]:
    return {canonical_version(f.version) for f in files}


def _still_sealed(old: Sealed, run: Sequence[FileEntry], releases: Mapping[str, Release]) -> bool:
    """Whether ``old`` still holds exactly this run of files and their releases as they are now.

    Files carried from one project value to the next are the same objects, so the identity
    test settles nearly every comparison; equality covers values decoded separately.
    """
    if not old.loaded or old.count != len(run) or len(old.files) != len(run):
        return False
    if not all(a is b or a == b for a, b in zip(old.files, run, strict=True)):
        return False
    assert old.releases is not None
    return all((now := releases.get(key)) is kept or now == kept for key, kept in old.releases.items())


def seal(project: Project) -> tuple[Project, list[tuple[Sealed, bytes]]]:
    """The project with every full run of files in a segment, and the segments to write.

    Runs whose segment still holds them keep it; the others get new segments (returned with
    their bytes). A project below one segment's worth of files has none.
    """
    runs = len(project.files) // SEGMENT_FILES
    kept: list[Sealed] = []
    new: list[tuple[Sealed, bytes]] = []
    for i in range(runs):
        run = project.files[i * SEGMENT_FILES : (i + 1) * SEGMENT_FILES]
        old = project.sealed[i] if i < len(project.sealed) else None
        if old is not None and _still_sealed(old, run, project.releases):
            kept.append(old)
            continue
        releases = {key: project.releases[key] for key in sorted(_versions(run)) if key in project.releases}
        data = encode_segment(run, releases)
        segment = Sealed(hashlib.sha256(data).hexdigest(), len(run), run, releases, len(data))
        kept.append(segment)
        new.append((segment, data))
    if tuple(kept) == project.sealed and not new:
        return project, []
    return replace(project, sealed=tuple(kept)), new


def head_parts(project: Project) -> tuple[dict[str, Any], tuple[FileEntry, ...], dict[str, Release]]:
    """What the sidecar itself carries for a sealed project: the segment list, the files after
    the last full run and the releases not held by a segment (or held and also used after it)."""
    sealed_files = sum(s.count for s in project.sealed)
    inline = project.files[sealed_files:]
    in_segments: set[str] = set()
    for segment in project.sealed:
        in_segments.update(segment.releases or ())
    wanted = _versions(inline)
    releases = {k: r for k, r in project.releases.items() if k in wanted or k not in in_segments}
    refs = {"segments": [{"digest": s.digest, "files": s.count} for s in project.sealed]}
    return refs, inline, releases


def named(doc: Mapping[str, Any]) -> tuple[Sealed, ...]:
    """The segments a schema-2 sidecar names, not yet read."""
    try:
        return tuple(Sealed(str(s["digest"]), int(s["files"])) for s in doc["segments"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SidecarError(f"sidecar segment list is malformed: {exc}") from exc


def missing(project: Project) -> list[Sealed]:
    """The segments a project read from its sidecar still needs."""
    return [s for s in project.sealed if not s.loaded]


def resolved(project: Project, loaded: Mapping[str, Sealed]) -> Project:
    """The whole project from its sidecar as decoded (which names segments and holds only
    the files after them) and the segments read: their files and releases, then its own."""
    if not missing(project):
        return project
    segments = tuple(loaded[s.digest] for s in project.sealed)
    files: list[FileEntry] = []
    releases: dict[str, Release] = {}
    for want, got in zip(project.sealed, segments, strict=True):
        if got.count != want.count:
            raise SidecarError(
                f"segment {want.digest} holds {got.count} files, the sidecar says {want.count}"
            )
        files.extend(got.files)
        releases.update(got.releases or {})
    files.extend(project.files)
    releases.update(project.releases)
    return replace(project, sealed=segments, files=tuple(files), releases=releases)


def encode_sidecar(project: Project) -> bytes:
    """A sidecar's bytes: schema 1 for a project without segments, else the head (schema 2)."""
    if not project.sealed:
        return to_json(project)
    refs, inline, releases = head_parts(project)
    doc = project_doc(replace(project, files=inline, releases=releases))
    doc.update(refs, schema=SCHEMA)
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def decode_sidecar(data: bytes) -> Project:
    """A sidecar as stored; one with segments comes back naming them, to be ``resolved``."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise SidecarError(f"sidecar is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return from_json(data)
    doc.pop("schema")
    sealed = named(doc)
    del doc["segments"]
    return replace(from_doc(doc), sealed=sealed)


def stored_bytes(project: Project) -> int:
    """What the project's segments take in memory's budget, near enough: their stored size."""
    return sum(s.size for s in project.sealed)
