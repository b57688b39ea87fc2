"""Project names, versions and distribution filenames: every decision is packaging's."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

# The living spec's regex; \Z (not $) so a trailing newline is not a valid name.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z", re.IGNORECASE)

PackageType = Literal["sdist", "bdist_wheel"]

# Names and filenames become object keys: a path component of 255 bytes at most on local
# file systems, where a file also gets ".metadata" appended. PyPI's longest names are far
# shorter than either bound.
MAX_NAME_LENGTH = 128
MAX_FILENAME_BYTES = 240


class InvalidFilename(ValueError):
    """A distribution filename that cannot be stored."""


def is_valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and bool(_VALID_NAME.match(name))


def normalize(name: str) -> NormalizedName:
    return canonicalize_name(name)


@functools.lru_cache(maxsize=16384)  # a Version parse per file was a quarter of building a page
def canonical_version(version: str | Version) -> str:
    return canonicalize_version(version, strip_trailing_zero=True)


# What makes two files the same distribution, whatever their filenames' spelling: PyPI
# compares uploads this way, so "Beta.Pkg-1.0-py3-none-any.whl" and
# "beta_pkg-v1.0-py3-none-any.whl" are one wheel, and a release has one sdist.
Identity = tuple[str, str, str, tuple[int, str] | tuple[()], frozenset[Tag]]


@dataclass(frozen=True, slots=True)
class DistFilename:
    filename: str
    project: NormalizedName
    version: Version
    packagetype: PackageType
    python_tag: str  # "source" for sdists, e.g. "py3" or "cp311" for wheels
    build: tuple[int, str] | tuple[()] = ()
    tags: frozenset[Tag] = frozenset()

    @property
    def identity(self) -> Identity:
        return (self.packagetype, self.project, canonical_version(self.version), self.build, self.tags)


def check_filename_characters(filename: str) -> None:
    if not filename:
        raise InvalidFilename("The upload has no filename.")
    if "/" in filename or "\\" in filename or ".." in filename:
        raise InvalidFilename(f"Invalid filename {filename!r}: '/', '\\' and '..' are not allowed.")
    if any(ord(c) < 32 or ord(c) == 127 for c in filename):
        raise InvalidFilename("Invalid filename: control characters are not allowed.")
    if len(filename.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES:
        raise InvalidFilename(
            f"Invalid filename: {len(filename)} characters is too long; the limit is {MAX_FILENAME_BYTES} bytes."
        )


def parse_dist_filename(filename: str) -> DistFilename:
    """Parse a wheel or sdist filename; refuses anything else with a message naming the fix."""
    check_filename_characters(filename)
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            python_tag = ".".join(sorted({t.interpreter for t in tags}))
            return DistFilename(filename, name, version, "bdist_wheel", python_tag, build, tags)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return DistFilename(filename, name, version, "sdist", "source")
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise InvalidFilename(f"Invalid distribution filename {filename!r}: {exc}") from exc
    raise InvalidFilename(
        f"Invalid file extension: {filename!r}. Use .whl for wheels or .tar.gz for sdists (PEP 527, PEP 625)."
    )


@functools.lru_cache(maxsize=65536)
def identity_of(filename: str) -> Identity:
    """The identity of a stored (so valid) filename; memoized, as uploads compare many."""
    return parse_dist_filename(filename).identity
