"""A distribution file on local disk as the upload twine would make of it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from ..names import DistFilename
from .validate import Digests


def file_digests(path: Path) -> Digests:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    blake = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            sha.update(chunk)
            md5.update(chunk)
            blake.update(chunk)
    return Digests(sha.hexdigest(), md5.hexdigest(), blake.hexdigest())


def form_from_filename(dist: DistFilename, digests: Digests) -> Mapping[str, list[str]]:
    """The form twine would send, for files imported from disk."""
    return {
        "name": [dist.project],
        "version": [str(dist.version)],
        "filetype": [dist.packagetype],
        "pyversion": [dist.python_tag],
        "sha256_digest": [digests.sha256],
        "blake2_256_digest": [digests.blake2b_256],
    }
