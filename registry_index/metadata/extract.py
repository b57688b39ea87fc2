"""Core metadata out of a wheel or sdist, and the structural checks an upload must pass.

All checks return problems as strings, so an upload can report every one at once.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, parse_email
from packaging.utils import canonicalize_name

from ..names import DistFilename

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


def _wheel_metadata(path: Path, dist: DistFilename, problems: list[str]) -> Extracted | None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        problems.append(f"Invalid distribution file: {dist.filename!r} is not a zip archive.")
        return None
    with zf:
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
        info = zf.getinfo(member)
        if info.file_size > MAX_METADATA_BYTES:
            problems.append(f"{member} is larger than {MAX_METADATA_BYTES} bytes.")
            return None
        try:
            raw = zf.read(member)
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            problems.append(f"Invalid distribution file: cannot read {member}: {exc}")
            return None
        wheel_file = member.rsplit("/", 1)[0] + "/WHEEL"
        if wheel_file not in names:
            problems.append(f"Wheel {dist.filename!r} has no {wheel_file}.")
    return Extracted(raw, _parse(raw, member, problems))


def _sdist_metadata(path: Path, dist: DistFilename, problems: list[str]) -> Extracted | None:
    if not dist.filename.endswith(".tar.gz"):
        problems.append(f"Invalid sdist {dist.filename!r}: sdists must be .tar.gz archives (PEP 625).")
        return None
    try:
        tf = tarfile.open(path, mode="r:gz")  # noqa: SIM115 -- closed by the with below
    except (tarfile.TarError, OSError, EOFError):
        problems.append(f"Invalid distribution file: {dist.filename!r} is not a gzipped tar.")
        return None
    with tf:
        try:
            members = tf.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            problems.append(f"Invalid distribution file: {dist.filename!r}: {exc}")
            return None
        tops = {m.name.split("/", 1)[0] for m in members}
        expected_top = dist.filename.removesuffix(".tar.gz")
        if len(tops) != 1:
            problems.append(f"Sdist {dist.filename!r} must hold a single top-level folder.")
        pkg_info = next((m for m in members if m.name == f"{expected_top}/PKG-INFO"), None)
        if pkg_info is None:
            problems.append(f"Sdist {dist.filename!r} does not contain the required {expected_top}/PKG-INFO.")
            return None
        if not pkg_info.isfile() or pkg_info.size > MAX_METADATA_BYTES:
            problems.append(f"{pkg_info.name} is not a regular file of reasonable size.")
            return None
        fh = tf.extractfile(pkg_info)
        if fh is None:
            problems.append(f"Cannot read {pkg_info.name}.")
            return None
        raw = fh.read()
    return Extracted(raw, _parse(raw, pkg_info.name, problems))


def extract_metadata(path: Path, dist: DistFilename) -> tuple[Extracted | None, list[str]]:
    problems: list[str] = []
    if dist.packagetype == "bdist_wheel":
        extracted = _wheel_metadata(path, dist, problems)
    else:
        extracted = _sdist_metadata(path, dist, problems)
    return extracted, problems
