"""Core metadata out of a wheel or sdist, read safely, and the structural checks that
make reading it safe (limits, path escapes, links).

All checks return problems as strings, so an upload can report every one at once.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, parse_email
from packaging.utils import canonicalize_name

from ..names import DistFilename
from ..validation.archives import (
    CORRUPT_MEMBER,
    ArchiveLimits,
    read_member,
    scan_sdist,
    zip_declared_problems,
    zip_structure,
)

# InvalidMetadata names fields by their email header; RawMetadata keys differ.
_RAW_TO_EMAIL = {
    "license_files": "license-file",
    "license_expression": "license-expression",
    "import_names": "import-name",
    "import_namespaces": "import-namespace",
    "dynamic": "dynamic",
    "provides_extra": "provides-extra",
    "description_content_type": "description-content-type",
}

MAX_METADATA_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Extracted:
    raw: bytes  # the exact bytes of METADATA / PKG-INFO, never re-encoded (PEP 658)
    metadata: Metadata | None  # None when it did not parse; problems say why


def _parse(raw: bytes, source: str, problems: list[str]) -> Metadata | None:
    parsed, unparsed = parse_email(raw)
    if parsed.get("metadata_version") == "2.0":
        # A draft version that wheel and setuptools wrote in 2013-2016; its fields are those of
        # 1.2/2.1, and pip reads such files. Validate as 2.1; the served bytes stay as uploaded.
        parsed["metadata_version"] = "2.1"
    errors: list[Exception] = [
        InvalidMetadata(name, f"unrecognized or malformed field {name!r}") for name in unparsed
    ]
    try:
        metadata = Metadata.from_raw(parsed, validate=True)
    except ExceptionGroup as group:
        # Older setuptools and hatchling wrote License-File / License-Expression under
        # Metadata-Version 2.1-2.3; PyPI and twine accept such files, so validate the rest.
        late = {
            e.field
            for e in group.exceptions
            if isinstance(e, InvalidMetadata) and "introduced in metadata version" in str(e)
        }
        trimmed = {k: v for k, v in parsed.items() if k not in late and _RAW_TO_EMAIL.get(k) not in late}
        try:
            metadata = Metadata.from_raw(trimmed, validate=True)  # type: ignore[arg-type]
        except ExceptionGroup as again:
            errors.extend(again.exceptions)
            metadata = None
    except (InvalidMetadata, ValueError) as exc:
        errors.append(exc)
        metadata = None
    if errors:
        problems.append(f"Invalid core metadata in {source}: " + "; ".join(str(e) for e in errors))
        return None
    return metadata


def _wheel_metadata(
    path: Path, dist: DistFilename, limits: ArchiveLimits, problems: list[str]
) -> Extracted | None:
    try:
        with open(path, "rb") as fh:
            declared = zip_declared_problems(fh, limits)
    except OSError as exc:
        problems.append(f"Invalid distribution file: {exc}")
        return None
    if declared:
        problems.extend(declared)  # refused before zipfile parses a single entry
        return None
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        problems.append(f"Invalid distribution file: {dist.filename!r} is not a zip archive.")
        return None
    with zf:
        structure = zip_structure(zf, limits)
        if structure:
            problems.extend(structure)  # never inflate an archive that breaks a limit
            return None
        names = zf.namelist()
        # The .dist-info folder is named with the normalized name, as the filename is.
        name_part = dist.filename.split("-", 2)[:2]
        expected = f"{name_part[0]}-{name_part[1]}.dist-info/METADATA"
        candidates = [
            n
            for n in names
            if n.count("/") == 1
            and n.endswith(".dist-info/METADATA")
            and canonicalize_name(n.split("-", 1)[0]) == dist.project
        ]
        if expected in names:
            member = expected
        elif len(candidates) == 1:
            member = candidates[0]
        else:
            problems.append(
                f"Wheel {dist.filename!r} does not contain the required METADATA file: {expected}"
            )
            return None
        try:
            raw = read_member(zf, member, MAX_METADATA_BYTES)
        except ValueError as exc:
            problems.append(str(exc))
            return None
        except CORRUPT_MEMBER as exc:
            problems.append(f"Invalid distribution file: cannot read {member}: {exc}")
            return None
        wheel_file = member.rsplit("/", 1)[0] + "/WHEEL"
        if wheel_file not in names:
            problems.append(f"Wheel {dist.filename!r} has no {wheel_file}.")
    return Extracted(raw, _parse(raw, member, problems))


def _sdist_metadata(
    path: Path, dist: DistFilename, limits: ArchiveLimits, problems: list[str]
) -> Extracted | None:
    if not dist.filename.endswith(".tar.gz"):
        problems.append(f"Invalid sdist {dist.filename!r}: sdists must be .tar.gz archives (PEP 625).")
        return None
    expected_top = dist.filename.removesuffix(".tar.gz")
    try:
        with tarfile.open(path, mode="r:gz") as tf:
            scan = scan_sdist(tf, expected_top, limits, MAX_METADATA_BYTES)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        problems.append(f"Invalid distribution file: {dist.filename!r} is not a readable gzipped tar: {exc}")
        return None
    problems.extend(scan.problems)
    if scan.problems and scan.pkg_info is None:
        return None
    if len(scan.tops) != 1:
        problems.append(f"Sdist {dist.filename!r} must hold a single top-level folder.")
    if scan.pkg_info_problem is not None:
        problems.append(scan.pkg_info_problem)
        return None
    if scan.pkg_info is None:
        problems.append(f"Sdist {dist.filename!r} does not contain the required {expected_top}/PKG-INFO.")
        return None
    return Extracted(scan.pkg_info, _parse(scan.pkg_info, f"{expected_top}/PKG-INFO", problems))


def extract_metadata(
    path: Path, dist: DistFilename, limits: ArchiveLimits | None = None
) -> tuple[Extracted | None, list[str]]:
    """The archive's core metadata, read safely: limits, path escapes and links come first.

    This is the one read of an upload that every other check relies on: nothing later
    opens an archive that broke a limit here.
    """
    problems: list[str] = []
    limits = limits or ArchiveLimits()
    if dist.packagetype == "bdist_wheel":
        extracted = _wheel_metadata(path, dist, limits, problems)
    else:
        extracted = _sdist_metadata(path, dist, limits, problems)
    return extracted, problems
