"""Pure checks of an upload's form against its file and the archive's own metadata.

Each check appends to a list, so one 400 can name every problem at once.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.metadata import Metadata
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..names import (
    MAX_NAME_LENGTH,
    DistFilename,
    InvalidFilename,
    canonical_version,
    is_valid_name,
    parse_dist_filename,
)

Fields = Mapping[str, Sequence[str]]
_HEX = re.compile(r"[0-9a-fA-F]+")
# Fields that name or identify the file; a description may be long, these may not.
SHORT_FIELDS = (":action", "protocol_version", "name", "version", "filetype", "pyversion", "metadata_version")
MAX_SHORT_FIELD = 512


@dataclass(frozen=True, slots=True)
class Digests:
    sha256: str
    md5: str
    blake2b_256: str


def field(form: Fields, name: str) -> str | None:
    values = form.get(name)
    if not values:
        return None
    value = values[0].strip()
    return None if value in ("", "UNKNOWN") else value


def check_form(form: Fields, filename: str | None, problems: list[str]) -> DistFilename | None:
    """Form-level checks; returns the parsed filename when it parses."""
    oversized = [
        f"Form field {key!r} is {len(value)} characters long; the limit is {MAX_SHORT_FIELD}."
        for key in SHORT_FIELDS
        if (value := field(form, key)) is not None and len(value) > MAX_SHORT_FIELD
    ]
    if oversized:
        problems.extend(oversized)  # nothing is parsed out of a megabyte "version"
        return None
    action = field(form, ":action") or "file_upload"
    if action != "file_upload":
        problems.append(f"Unsupported :action {action!r}; only file_upload is served here.")
    protocol = field(form, "protocol_version") or "1"
    if protocol != "1":
        problems.append(f"Unknown protocol_version {protocol!r}; this index speaks version 1.")
    name = field(form, "name")
    version = field(form, "version")
    filetype = field(form, "filetype")
    if name is None:
        problems.append("Missing form field 'name'.")
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(f"The project name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.")
    elif not is_valid_name(name):
        problems.append(f"{name[:200]!r} is an invalid value for Name: see PEP 508 names.")
    if version is None:
        problems.append("Missing form field 'version'.")
    else:
        try:
            Version(version)
        except InvalidVersion:
            problems.append(f"{version!r} is an invalid value for Version: see PEP 440.")
    if filetype is None:
        problems.append("Missing form field 'filetype' (sdist or bdist_wheel).")
    elif filetype not in ("sdist", "bdist_wheel"):
        problems.append(f"Unknown filetype {filetype!r}: use sdist or bdist_wheel.")
    if filename is None:
        problems.append("The upload has no file: send it in the 'content' field.")
        return None
    try:
        dist = parse_dist_filename(filename)
    except InvalidFilename as exc:
        problems.append(str(exc))
        return None
    if filetype is not None and filetype in ("sdist", "bdist_wheel") and filetype != dist.packagetype:
        problems.append(f"Invalid file extension for filetype {filetype!r}: {filename!r}.")
    if name is not None and canonicalize_name(name) != dist.project:
        problems.append(f"Filename {filename!r} is for project {dist.project!r}, but the form says {name!r}.")
    if version is not None:
        try:
            if canonical_version(version) != canonical_version(dist.version):
                problems.append(f"Version in filename should be {version!r} not {str(dist.version)!r}.")
        except InvalidVersion:
            pass
    return dist


def check_digests(form: Fields, actual: Digests, problems: list[str]) -> None:
    sent = {
        "sha256_digest": (field(form, "sha256_digest"), actual.sha256),
        "blake2_256_digest": (field(form, "blake2_256_digest"), actual.blake2b_256),
        "md5_digest": (field(form, "md5_digest"), actual.md5),
    }
    if sent["sha256_digest"][0] is None and sent["blake2_256_digest"][0] is None:
        problems.append("Include at least one message digest: sha256_digest or blake2_256_digest.")
    for key, (claimed, computed) in sent.items():
        if claimed is None:
            continue
        if len(claimed) != len(computed) or not _HEX.fullmatch(claimed):
            problems.append(f"The {key} sent is not {len(computed)} hexadecimal digits.")
        elif not hmac.compare_digest(claimed.lower(), computed):
            problems.append(f"The {key} sent does not match the file's content: the upload is corrupt.")


def check_metadata(dist: DistFilename, metadata: Metadata, form: Fields, problems: list[str]) -> None:
    if canonicalize_name(metadata.name) != dist.project:
        problems.append(f"The archive's metadata names project {metadata.name!r}, not {dist.project!r}.")
    if canonical_version(metadata.version) != canonical_version(dist.version):
        problems.append(
            f"The archive's metadata has version {metadata.version}, but the filename has {dist.version}."
        )
    form_version = field(form, "version")
    if form_version is not None:
        try:
            if canonical_version(form_version) != canonical_version(metadata.version):
                problems.append(
                    f"The form's version {form_version!r} does not match the archive's {metadata.version}."
                )
        except InvalidVersion:
            pass
