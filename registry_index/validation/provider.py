"""The validation provider: the checks an upload must pass beyond its form and metadata."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..names import DistFilename
from .archives import ArchiveLimits, sdist_structure, wheel_file, wheel_record, zip_structure


@runtime_checkable
class Validator(Protocol):
    """Returns every problem found with a stored or uploaded distribution file."""

    def validate(self, path: Path, dist: DistFilename) -> list[str]: ...


class StrictValidator:
    """The default: archive structure, zip-bomb limits, RECORD and WHEEL consistency."""

    def __init__(self, limits: ArchiveLimits | None = None) -> None:
        self.limits = limits or ArchiveLimits()

    def validate(self, path: Path, dist: DistFilename) -> list[str]:
        if dist.packagetype == "bdist_wheel":
            return self._wheel(path, dist)
        return self._sdist(path, dist)

    def _wheel(self, path: Path, dist: DistFilename) -> list[str]:
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError):
            return []  # metadata extraction already reports a non-zip wheel
        with zf:
            problems = zip_structure(zf, self.limits)
            if problems:
                return problems  # never inflate an archive that breaks a limit
            dist_info = _dist_info(zf, dist)
            if dist_info is None:
                return problems  # a missing METADATA is reported by extraction
            try:
                problems += wheel_file(zf, dist_info, dist.filename)
                problems += wheel_record(zf, dist_info)
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
                problems.append(f"Invalid distribution file: {exc}")
        return problems

    def _sdist(self, path: Path, dist: DistFilename) -> list[str]:
        try:
            with tarfile.open(path, mode="r:gz") as tf:
                return sdist_structure(tf, dist.filename.removesuffix(".tar.gz"), self.limits)
        except (tarfile.TarError, OSError, EOFError):
            return []  # extraction already reports an unreadable sdist


def _dist_info(zf: zipfile.ZipFile, dist: DistFilename) -> str | None:
    for name in zf.namelist():
        if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
            return name.split("/", 1)[0]
    return None
