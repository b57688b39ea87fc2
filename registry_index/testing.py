"""Helpers for testing code against registry_index: real archives and real upload forms.

This module is a supported, public API. It ships in the wheel and needs nothing beyond the
package's runtime dependencies, so a plugin (a ``Storage``, ``Validator`` or other provider)
or an application that uses the index can build the same inputs our own tests use:

- Archives: ``WheelSpec`` and ``build_wheel`` (a valid wheel with a correct RECORD),
  ``build_sdist`` (a PEP 625 sdist that pip and uv build offline: it carries its own
  PEP 517 backend, ``_testing_backend.py``), ``metadata_text`` (core-metadata text) and
  ``dist_name`` (a project name in filename form).
- Hostile archives, for validators that must stay bounded: ``record_bomb_wheel`` (a RECORD
  of as many lines as asked) and ``many_member_sdist`` (an sdist of as many members).
- Uploads: ``upload_fields`` and ``legacy_form``, the form twine sends to the legacy upload API.
- Listings: ``placeholder_entry``, a ``FileEntry`` with placeholder digests.

Every name in ``__all__`` is public; anything starting with an underscore is not. The
repository's own harness (servers on loopback, SeaweedFS, client environments) is dev-only
and lives in ``tests/support/``, outside the wheel.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from .domain.model import FileEntry

__all__ = [
    "WheelSpec",
    "build_sdist",
    "build_wheel",
    "dist_name",
    "legacy_form",
    "many_member_sdist",
    "metadata_text",
    "placeholder_entry",
    "record_bomb_wheel",
    "upload_fields",
]


def dist_name(name: str) -> str:
    """The filename form of a project name (PEP 427 / 625)."""
    return canonicalize_name(name).replace("-", "_")


def metadata_text(
    name: str,
    version: str,
    *,
    summary: str = "A test package",
    requires_dist: Sequence[str] = (),
    requires_python: str | None = None,
    metadata_version: str = "2.1",
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    lines.append(f"Summary: {summary}")
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires_dist]
    lines += [f"{key}: {value}" for key, value in extra]
    return "\n".join(lines) + "\n\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


@dataclass
class WheelSpec:
    """What ``build_wheel`` builds: a wheel's name, version, metadata and extra files."""

    name: str
    version: str
    requires_dist: Sequence[str] = ()
    requires_python: str | None = None
    tag: str = "py3-none-any"
    summary: str = "A test package"
    files: Mapping[str, bytes] = field(default_factory=dict)
    metadata: str | None = None  # exact METADATA text, overriding the fields above
    dist_info_name: str | None = None  # to build deliberately broken wheels
    include_metadata: bool = True


def build_wheel(directory: Path, spec: WheelSpec) -> Path:
    """A valid wheel with a correct RECORD, built in memory with zipfile."""
    base = f"{dist_name(spec.name)}-{spec.version}"
    dist_info = spec.dist_info_name or f"{base}.dist-info"
    module = dist_name(spec.name)
    contents: dict[str, bytes] = {
        f"{module}/__init__.py": f"__version__ = {spec.version!r}\n".encode(),
        **dict(spec.files),
    }
    if spec.include_metadata:
        meta = spec.metadata or metadata_text(
            spec.name,
            spec.version,
            summary=spec.summary,
            requires_dist=spec.requires_dist,
            requires_python=spec.requires_python,
        )
        contents[f"{dist_info}/METADATA"] = meta.encode()
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: registry_index.testing\nRoot-Is-Purelib: true\nTag: {spec.tag}\n\n"
    ).encode()
    record = [_record_line(path, data) for path, data in contents.items()]
    record.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{base}-{spec.tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
    return path


def record_bomb_wheel(directory: Path, lines: int, name: str = "record-bomb") -> Path:
    """A wheel with valid METADATA and WHEEL whose RECORD has ``lines`` entries for absent files.

    The shape of the outside review's memory bomb: 8 million lines is 21 MB compressed.
    """
    path = build_wheel(directory, WheelSpec(name, "1.0"))
    dist_info = f"{dist_name(name)}-1.0.dist-info"
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    line = b"x/%08d.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n"
    record = members.pop(f"{dist_info}/RECORD")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
        with zf.open(f"{dist_info}/RECORD", "w", force_zip64=True) as fh:
            fh.write(record)
            batch = 10_000
            for start in range(0, lines, batch):
                fh.write(b"".join(line % n for n in range(start, min(lines, start + batch))))
    return path


def many_member_sdist(directory: Path, members: int, name: str = "member-bomb") -> Path:
    """An sdist with a valid PKG-INFO first and then ``members`` empty files (a few MB per million)."""
    base = f"{dist_name(name)}-1.0"
    path = directory / f"{base}.tar.gz"
    info = metadata_text(name, "1.0").encode()
    with tarfile.open(path, "w:gz") as tf:
        ti = tarfile.TarInfo(f"{base}/PKG-INFO")
        ti.size = len(info)
        tf.addfile(ti, io.BytesIO(info))
        for n in range(members):
            tf.addfile(tarfile.TarInfo(f"{base}/{n}"))
    return path


@functools.cache
def _backend_source() -> bytes:
    """The source of the PEP 517 backend every sdist carries (``_testing_backend.py``).

    With it, pip and uv build the sdist with build isolation and no network.
    """
    return resources.files(__package__).joinpath("_testing_backend.py").read_bytes()


def build_sdist(
    directory: Path,
    name: str,
    version: str,
    *,
    requires_dist: Sequence[str] = (),
    requires_python: str | None = None,
    pkg_info: str | None = None,
    top: str | None = None,
    extra_members: Mapping[str, bytes] = {},
) -> Path:
    """A PEP 625 sdist that pip and uv can build offline (it carries its own backend)."""
    base = f"{dist_name(name)}-{version}"
    top = top or base
    info = pkg_info or metadata_text(
        name, version, requires_dist=requires_dist, requires_python=requires_python
    )
    module = dist_name(name)
    members = {
        f"{top}/PKG-INFO": info.encode(),
        f"{top}/pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "_backend"\nbackend-path = ["."]\n'
        ),
        f"{top}/_backend.py": _backend_source(),
        f"{top}/{module}/__init__.py": f"__version__ = {version!r}\n".encode(),
        **dict(extra_members),
    }
    path = directory / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, data in members.items():
            ti = tarfile.TarInfo(member)
            ti.size = len(data)
            ti.mtime = 0
            tf.addfile(ti, io.BytesIO(data))
    return path


def placeholder_entry(filename: str, version: str, **changes: Any) -> FileEntry:
    """A sidecar file entry with placeholder digests, for code that needs a listing, not a file."""
    wheel = filename.endswith(".whl")
    entry = FileEntry(
        filename,
        version,
        "bdist_wheel" if wheel else "sdist",
        "py3" if wheel else "source",
        sha256="a" * 64,
        blake2b_256="b" * 64,
        md5="c" * 32,
        size=1,
        upload_time="2026-01-01T00:00:00Z",
        uploader="alice",
    )
    return replace(entry, **changes) if changes else entry


def upload_fields(path: Path, sha256: str, blake2b_256: str) -> dict[str, str]:
    """The form fields twine sends beside the file ``path`` with these digests."""
    from .names import parse_dist_filename

    dist = parse_dist_filename(path.name)
    return {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": dist.project,
        "version": str(dist.version),
        "filetype": dist.packagetype,
        "pyversion": dist.python_tag,
        "metadata_version": "2.1",
        "sha256_digest": sha256,
        "blake2_256_digest": blake2b_256,
    }


def legacy_form(path: Path, **overrides: str) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    """The multipart form twine sends for ``path``, for raw-HTTP upload tests."""
    data = path.read_bytes()
    fields = upload_fields(
        path, hashlib.sha256(data).hexdigest(), hashlib.blake2b(data, digest_size=32).hexdigest()
    )
    fields.update(overrides)
    return fields, {"content": (path.name, data, "application/octet-stream")}
