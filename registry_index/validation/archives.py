"""Structural checks of wheels and sdists, each returning the problems it found.

Zip limits are checked from the central directory before anything is inflated, so a zip
bomb is refused without being expanded; member contents are read only when every limit
holds, and zipfile never reads more than a member's declared size.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import PurePosixPath

from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

RECORD_HASHES = ("sha256", "sha384", "sha512")  # the wheel spec forbids md5 and sha1


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_members: int = 100_000
    max_total_size: int = 4 * 1024**3  # uncompressed bytes
    max_ratio: float = 200.0  # uncompressed / compressed, for members over ratio_floor
    ratio_floor: int = 1024**2


def unsafe_path(name: str) -> str | None:
    """Why a member name is unsafe to extract, or None."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        return "contains '..'"
    return None


def zip_structure(zf: zipfile.ZipFile, limits: ArchiveLimits) -> list[str]:
    problems: list[str] = []
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        problems.append(f"The archive has {len(infos)} members; the limit is {limits.max_members}.")
    total = 0
    for info in infos:
        total += info.file_size
        why = unsafe_path(info.filename)
        if why:
            problems.append(f"Member {info.filename!r} {why}.")
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.append(f"Member {info.filename!r} is a symbolic link.")
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            problems.append(
                f"Member {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}x "
                f"(limit {limits.max_ratio:g}x): refused as a possible zip bomb."
            )
    if total > limits.max_total_size:
        problems.append(f"The archive expands to {total} bytes; the limit is {limits.max_total_size} bytes.")
    return problems


def _member_digest(zf: zipfile.ZipFile, name: str, algorithm: str) -> tuple[str, int]:
    """RECORD's digest form of a member, read in chunks: a large member never sits in memory."""
    hasher = hashlib.new(algorithm)
    length = 0
    with zf.open(name) as fh:
        while chunk := fh.read(1024 * 1024):
            hasher.update(chunk)
            length += len(chunk)
    return base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode(), length


def wheel_record(zf: zipfile.ZipFile, dist_info: str) -> list[str]:
    """Every member is listed in RECORD with a matching hash and size, and nothing else is."""
    record_name = f"{dist_info}/RECORD"
    try:
        text = zf.read(record_name).decode("utf-8")
    except KeyError:
        return [f"The wheel has no {record_name}."]
    except (UnicodeDecodeError, zipfile.BadZipFile, OSError) as exc:
        return [f"{record_name} cannot be read: {exc}"]
    problems: list[str] = []
    listed: dict[str, tuple[str, str]] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0]:
            continue
        if len(row) != 3:
            problems.append(f"{record_name}: malformed line {','.join(row)!r}.")
            continue
        listed[row[0]] = (row[1], row[2])
    unsigned = {record_name, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
    members = {i.filename: i for i in zf.infolist() if not i.is_dir()}
    for name in sorted(set(members) - set(listed) - unsigned):
        problems.append(f"{name} is in the wheel but not in RECORD.")
    for name in sorted(set(listed) - set(members)):
        problems.append(f"RECORD lists {name}, which is not in the wheel.")
    for name in sorted(set(listed) & set(members) - unsigned):
        digest, size = listed[name]
        algorithm, _, expected = digest.partition("=")
        if algorithm not in RECORD_HASHES or not expected:
            problems.append(f"RECORD entry for {name} has no sha256 (or stronger) hash.")
            continue
        digest, length = _member_digest(zf, name, algorithm)
        if digest != expected:
            problems.append(f"RECORD hash of {name} does not match its content.")
        if size and size != str(length):
            problems.append(f"RECORD size of {name} is {size}, the file has {length} bytes.")
    return problems


def wheel_file(zf: zipfile.ZipFile, dist_info: str, filename: str) -> list[str]:
    """WHEEL parses, has a 1.x version, and its tags are exactly the filename's."""
    try:
        raw = zf.read(f"{dist_info}/WHEEL")
    except KeyError:
        return [f"The wheel has no {dist_info}/WHEEL."]
    message = BytesParser().parsebytes(raw)
    problems: list[str] = []
    version = message.get("Wheel-Version", "")
    if not version.startswith("1."):
        problems.append(f"WHEEL has Wheel-Version {version!r}; this index reads 1.x.")
    if message.get("Root-Is-Purelib", "").strip().lower() not in ("true", "false"):
        problems.append("WHEEL must say Root-Is-Purelib: true or false.")
    declared: set[Tag] = set()
    for line in message.get_all("Tag", []):
        parts = line.strip().split("-")
        if len(parts) != 3:
            problems.append(f"WHEEL has a malformed Tag {line!r}.")
            continue
        declared.add(Tag(*parts))
    _, _, _, from_name = parse_wheel_filename(filename)
    if declared != set(from_name):
        missing = sorted(str(t) for t in set(from_name) - declared)
        extra = sorted(str(t) for t in declared - set(from_name))
        problems.append(
            f"WHEEL tags differ from the filename's (missing {missing or '-'}, extra {extra or '-'})."
        )
    return problems


def sdist_structure(tf: tarfile.TarFile, top: str, limits: ArchiveLimits) -> list[str]:
    problems: list[str] = []
    members = tf.getmembers()
    if len(members) > limits.max_members:
        problems.append(f"The archive has {len(members)} members; the limit is {limits.max_members}.")
    total = 0
    for member in members:
        total += member.size
        why = unsafe_path(member.name)
        if why:
            problems.append(f"Member {member.name!r} {why}.")
        elif member.name != top and not member.name.startswith(top + "/"):
            problems.append(f"Member {member.name!r} is outside the top folder {top!r}.")
        if member.islnk() or member.issym():
            target = PurePosixPath(member.name).parent / member.linkname
            if member.islnk():
                target = PurePosixPath(member.linkname)
            if member.linkname.startswith("/") or ".." in _normalized_parts(target):
                problems.append(f"Link {member.name!r} points outside the archive: {member.linkname!r}.")
        elif not (member.isfile() or member.isdir()):
            problems.append(f"Member {member.name!r} is a device, fifo or other special file.")
    if total > limits.max_total_size:
        problems.append(f"The archive expands to {total} bytes; the limit is {limits.max_total_size} bytes.")
    return problems


def _normalized_parts(path: PurePosixPath) -> list[str]:
    """Resolve '.' and '..' lexically; a leftover '..' means the path escapes."""
    out: list[str] = []
    for part in path.parts:
        if part == "..":
            if out:
                out.pop()
            else:
                out.append("..")
                break
        elif part != ".":
            out.append(part)
    return out
