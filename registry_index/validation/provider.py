"""The validation provider: the checks an upload must pass beyond its form and metadata."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..names import DistFilename
from .archives import ArchiveLimits, wheel_file, wheel_record, zip_declared_problems, zip_structure


@runtime_checkable
class Validator(Protocol):
    """Returns every problem found with a stored or uploaded distribution file.

    It is called only on archives that passed the safe read (``extract_metadata``: member
    limits, expanded size, zip-bomb ratio, path escapes, links), so it may open members.
    """

    def validate(self, path: Path, dist: DistFilename) -> list[str]: ...


class StrictValidator:
    """The default: a wheel's RECORD and WHEEL agree with its members and its filename."""

    def __init__(self, limits: ArchiveLimits | None = None) -> None:
        self.limits = limits or ArchiveLimits()

    def validate(self, path: Path, dist: DistFilename) -> list[str]:
        if dist.packagetype == "bdist_wheel":
            return self._wheel(path, dist)
        return []  # an sdist's structure is all checked by the safe read, in its one pass

    def _wheel(self, path: Path, dist: DistFilename) -> list[str]:
        try:
            with open(path, "rb") as fh:
                if zip_declared_problems(fh, self.limits):
                    return []  # the safe read reports it; never parse such a directory
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return []  # metadata extraction already reports a non-zip wheel
        with zf:
            if zip_structure(zf, self.limits):
                return []  # never inflate an archive that breaks a limit
            dist_info = _dist_info(zf, dist)
            if dist_info is None:
                return []  # a missing METADATA is reported by extraction
            problems: list[str] = []
            try:
                problems += wheel_file(zf, dist_info, dist.filename)
                problems += wheel_record(zf, dist_info)
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as exc:
                problems.append(f"Invalid distribution file: {exc}")
        return problems


def _dist_info(zf: zipfile.ZipFile, dist: DistFilename) -> str | None:
    for name in zf.namelist():
        if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
            return name.split("/", 1)[0]
    return None
