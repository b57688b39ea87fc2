"""Every check of an upload that needs no store, as one pure function.

It is the CPU-heavy part of an upload (reading the archive, hashing RECORD entries), so the
server runs it in a worker process (``Publishing``): a hostile archive then costs a worker,
not the event loop's share of the GIL, and other requests keep their latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from packaging.metadata import Metadata

from ..metadata.extract import extract_metadata
from ..names import DistFilename
from ..validation import ArchiveLimits, Validator
from ..validation.archives import CORRUPT_MEMBER
from .validate import Digests, Fields, check_digests, check_form, check_metadata


@dataclass(frozen=True, slots=True)
class Upload:
    """A file staged on local disk with its digests, and the form that came with it."""

    filename: str | None
    path: Path | None
    size: int
    digests: Digests | None
    form: Fields


@dataclass(frozen=True, slots=True)
class Inspection:
    """What the checks found: the parsed file and metadata, or the problems (picklable)."""

    dist: DistFilename | None = None
    metadata: Metadata | None = None
    raw_metadata: bytes = b""
    problems: list[str] = field(default_factory=list)


def inspect_upload(upload: Upload, limits: ArchiveLimits, validator: Validator) -> Inspection:
    problems: list[str] = []
    dist = check_form(upload.form, upload.filename, problems)
    if upload.digests is not None:
        check_digests(upload.form, upload.digests, problems)
    if dist is None or upload.path is None:
        return Inspection(problems=problems or ["The upload has no file."])
    if upload.size == 0:
        return Inspection(problems=[*problems, "The uploaded file is empty."])
    try:
        extracted, archive_problems = extract_metadata(upload.path, dist, limits)
        problems.extend(archive_problems)
        problems.extend(validator.validate(upload.path, dist))
    except CORRUPT_MEMBER as exc:  # a damaged member that a check did not expect: still a 400
        return Inspection(problems=[*problems, f"The archive is damaged and cannot be read: {exc}"])
    if extracted is not None and extracted.metadata is not None:
        check_metadata(dist, extracted.metadata, upload.form, problems)
    if problems or extracted is None or extracted.metadata is None:
        return Inspection(problems=problems or ["The archive's core metadata cannot be read."])
    return Inspection(dist, extracted.metadata, extracted.raw)
