"""Structural checks of wheels and sdists, each returning the problems it found.

Every check costs time and memory bounded by the limits, whatever the archive claims:

- a zip's entry count and central-directory size are read from its end records before
  ``zipfile`` parses a single entry, so a million-entry zip is refused without building a
  million ``ZipInfo`` objects;
- zip limits are checked from the central directory before anything is inflated, so a zip
  bomb is never expanded; members are read in chunks, never more than their declared size;
- an sdist is read once, member by member, and reading stops at the member limit;
- RECORD is read line by line with caps on line count and length;
- at most ``MAX_REPORTED`` problems of one kind are spelled out, the rest counted, so a
  refusal stays small however many entries are wrong.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from pathlib import PurePosixPath
from typing import IO

from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

RECORD_HASHES = ("sha256", "sha384", "sha512")  # the wheel spec forbids md5 and sha1
MAX_REPORTED = 10  # problems of one kind spelled out in a refusal; the rest are counted
MAX_WHEEL_FILE = 64 * 1024  # a WHEEL file is a few lines
MAX_RECORD_LINE = 8 * 1024  # a path (4 KiB is PATH_MAX), a sha512 digest and a size
MAX_MEMBER_NAME = 4096


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_members: int = 50_000  # tarfile reads ~50,000 headers a second: refusing costs ~1 s
    max_total_size: int = 4 * 1024**3  # uncompressed bytes
    max_ratio: float = 200.0  # uncompressed / compressed, for members over ratio_floor
    ratio_floor: int = 1024**2

    @property
    def max_directory_size(self) -> int:
        """Largest zip central directory accepted: every member with a long name."""
        return max(1024**2, self.max_members * (46 + 512))


class Findings:
    """The problems of one check: the first few in full, the rest only counted."""

    def __init__(self, keep: int = MAX_REPORTED) -> None:
        self.keep = keep
        self.items: list[str] = []
        self.more = 0

    def add(self, problem: str) -> None:
        if len(self.items) < self.keep:
            self.items.append(problem)
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.items)

    def result(self) -> list[str]:
        if self.more:
            return [*self.items, f"... and {self.more} more problems like these."]
        return list(self.items)


def unsafe_path(name: str) -> str | None:
    """Why a member name is unsafe to extract, or None (runs once per member: kept cheap)."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if ".." in name and ".." in name.replace("\\", "/").split("/"):
        return "contains '..'"
    if len(name) > MAX_MEMBER_NAME:
        return f"has a name longer than {MAX_MEMBER_NAME} characters"
    return None


# -- zip: what the end records declare, before zipfile reads the central directory --------

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_MAX_COMMENT = 65535


def zip_declared(fh: IO[bytes]) -> tuple[int, int] | None:
    """(entries, central directory bytes) as the zip's end records state them; None if absent."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    tail_start = max(0, size - _EOCD.size - _MAX_COMMENT)
    fh.seek(tail_start)
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    _, _, _, _, entries, cd_size, _, _ = _EOCD.unpack_from(tail, at)
    if entries != 0xFFFF and cd_size != 0xFFFFFFFF:
        return entries, cd_size
    # Zip64: the locator sits just before the classic record and points at the zip64 one.
    locator_at = tail_start + at - _EOCD64_LOCATOR.size
    if locator_at < 0:
        return None
    fh.seek(locator_at)
    sig, _, offset, _ = _EOCD64_LOCATOR.unpack(fh.read(_EOCD64_LOCATOR.size))
    if sig != b"PK\x06\x07" or offset > size - _EOCD64.size:
        return None
    fh.seek(offset)
    record = fh.read(_EOCD64.size)
    if len(record) < _EOCD64.size or record[:4] != b"PK\x06\x06":
        return None
    _, _, _, _, _, _, _, total, cd_size64, _ = _EOCD64.unpack(record)
    return total, cd_size64


def zip_declared_problems(fh: IO[bytes], limits: ArchiveLimits) -> list[str]:
    """Refuse a zip whose end records promise more than the limits allow; reads ~64 KiB."""
    declared = zip_declared(fh)
    fh.seek(0)
    if declared is None:
        return []  # not a zip, or a damaged one: zipfile says so in the caller's words
    entries, cd_size = declared
    if entries > limits.max_members:
        return [f"The archive has {entries} members; the limit is {limits.max_members}."]
    if cd_size > limits.max_directory_size:
        return [
            f"The archive's central directory is {cd_size} bytes; the limit is {limits.max_directory_size}."
        ]
    return []


def zip_structure(zf: zipfile.ZipFile, limits: ArchiveLimits) -> list[str]:
    problems = Findings()
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        return [f"The archive has {len(infos)} members; the limit is {limits.max_members}."]
    total = 0
    for info in infos:
        total += info.file_size
        why = unsafe_path(info.filename)
        if why:
            problems.add(f"Member {info.filename[:200]!r} {why}.")
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.add(f"Member {info.filename[:200]!r} is a symbolic link.")
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            problems.add(
                f"Member {info.filename[:200]!r} expands {info.file_size // max(info.compress_size, 1)}x "
                f"(limit {limits.max_ratio:g}x): refused as a possible zip bomb."
            )
    out = problems.result()
    if total > limits.max_total_size:
        out.append(f"The archive expands to {total} bytes; the limit is {limits.max_total_size} bytes.")
    return out


def read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A member's bytes, refused by its declared size before anything is inflated."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise ValueError(f"{name} is {info.file_size} bytes; the limit is {limit}.")
    with zf.open(info) as fh:
        return fh.read(limit + 1)[:limit]


def _member_digest(zf: zipfile.ZipFile, name: str, algorithm: str) -> tuple[str, int]:
    """RECORD's digest form of a member, read in chunks: a large member never sits in memory."""
    hasher = hashlib.new(algorithm)
    length = 0
    with zf.open(name) as fh:
        while chunk := fh.read(1024 * 1024):
            hasher.update(chunk)
            length += len(chunk)
    return base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode(), length


class _RecordTooLarge(Exception):
    pass


# What reading a damaged member raises: a bad deflate stream is zlib.error (not a BadZipFile),
# a truncated one EOFError, a member with an unknown compression NotImplementedError.
CORRUPT_MEMBER = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError)


def _record_rows(fh: IO[bytes], record_name: str, members: int) -> Iterator[list[str]]:
    """RECORD's CSV rows, one line at a time, within a row count and a line length.

    A RECORD lists each member once; a few more rows are still reported one by one (a
    file listed but missing), far more mean the file is not a RECORD at all.
    """
    max_rows = members + 100
    text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
    rows = lines = 0
    while line := text.readline(MAX_RECORD_LINE + 1):
        lines += 1
        if len(line) > MAX_RECORD_LINE:
            raise _RecordTooLarge(f"{record_name} has a line longer than {MAX_RECORD_LINE} characters.")
        if not line.strip():
            if lines > 2 * max_rows + 100:
                raise _RecordTooLarge(f"{record_name} has more lines than the wheel has members.")
            continue
        rows += 1
        if rows > max_rows:
            raise _RecordTooLarge(
                f"{record_name} lists more than {max_rows} entries, but the wheel has {members} files."
            )
        yield from csv.reader([line])


def wheel_record(zf: zipfile.ZipFile, dist_info: str) -> list[str]:
    """Every member is listed in RECORD with a matching hash and size, and nothing else is."""
    record_name = f"{dist_info}/RECORD"
    members = {i.filename: i for i in zf.infolist() if not i.is_dir()}
    if record_name not in members:
        return [f"The wheel has no {record_name}."]
    problems = Findings()
    listed: dict[str, tuple[str, str]] = {}
    try:
        with zf.open(record_name) as fh:
            for row in _record_rows(fh, record_name, len(members)):
                if not row or not row[0]:
                    continue
                if len(row) != 3:
                    problems.add(f"{record_name}: malformed line {','.join(row)[:200]!r}.")
                    continue
                listed[row[0]] = (row[1], row[2])
    except _RecordTooLarge as exc:
        return [str(exc)]
    except (UnicodeDecodeError, csv.Error, *CORRUPT_MEMBER) as exc:
        return [f"{record_name} cannot be read: {exc}"]
    unsigned = {record_name, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
    for name in sorted(set(members) - set(listed) - unsigned):
        problems.add(f"{name} is in the wheel but not in RECORD.")
    for name in sorted(set(listed) - set(members)):
        problems.add(f"RECORD lists {name[:200]}, which is not in the wheel.")
    for name in sorted(set(listed) & set(members) - unsigned):
        digest, size = listed[name]
        algorithm, _, expected = digest.partition("=")
        if algorithm not in RECORD_HASHES or not expected:
            problems.add(f"RECORD entry for {name} has no sha256 (or stronger) hash.")
            continue
        try:
            digest, length = _member_digest(zf, name, algorithm)
        except CORRUPT_MEMBER as exc:
            problems.add(f"{name[:200]} cannot be read (the archive is damaged): {exc}")
            continue
        if digest != expected:
            problems.add(f"RECORD hash of {name} does not match its content.")
        if size and size != str(length):
            problems.add(f"RECORD size of {name} is {size[:40]}, the file has {length} bytes.")
    return problems.result()


def wheel_file(zf: zipfile.ZipFile, dist_info: str, filename: str) -> list[str]:
    """WHEEL parses, has a 1.x version, and its tags are exactly the filename's."""
    try:
        raw = read_member(zf, f"{dist_info}/WHEEL", MAX_WHEEL_FILE)
    except KeyError:
        return [f"The wheel has no {dist_info}/WHEEL."]
    except ValueError as exc:
        return [str(exc)]
    except CORRUPT_MEMBER as exc:
        return [f"{dist_info}/WHEEL cannot be read (the archive is damaged): {exc}"]
    message = BytesParser().parsebytes(raw)
    problems = Findings()
    version = message.get("Wheel-Version", "")
    if not version.startswith("1."):
        problems.add(f"WHEEL has Wheel-Version {version[:40]!r}; this index reads 1.x.")
    if message.get("Root-Is-Purelib", "").strip().lower() not in ("true", "false"):
        problems.add("WHEEL must say Root-Is-Purelib: true or false.")
    declared: set[Tag] = set()
    for line in message.get_all("Tag", []):
        parts = line.strip().split("-")
        if len(parts) != 3:
            problems.add(f"WHEEL has a malformed Tag {line[:100]!r}.")
            continue
        declared.add(Tag(*parts))
    _, _, _, from_name = parse_wheel_filename(filename)
    out = problems.result()
    if declared != set(from_name):
        missing = sorted(str(t) for t in set(from_name) - declared)[:MAX_REPORTED]
        extra = sorted(str(t) for t in declared - set(from_name))[:MAX_REPORTED]
        out.append(f"WHEEL tags differ from the filename's (missing {missing or '-'}, extra {extra or '-'}).")
    return out


# -- sdist: one pass over the members, stopping at the limit -------------------------------


@dataclass(slots=True)
class SdistScan:
    """What one pass over an sdist found: its problems and the bytes of its PKG-INFO."""

    problems: list[str] = field(default_factory=list)
    pkg_info: bytes | None = None
    pkg_info_problem: str | None = None  # why PKG-INFO could not be taken, if it is there
    tops: set[str] = field(default_factory=set)


def scan_sdist(tf: tarfile.TarFile, top: str, limits: ArchiveLimits, max_pkg_info: int) -> SdistScan:
    """Check every member as it is read, keep PKG-INFO, and stop at the member limit.

    ``tarfile`` remembers every member it reads in ``TarFile.members`` (it is how
    ``getmembers`` works); that list is emptied after each member so that memory stays
    flat over an archive of a million empty files.
    """
    scan = SdistScan()
    problems = Findings()
    count = total = 0
    wanted = f"{top}/PKG-INFO"
    while True:
        member = tf.next()
        if member is None:
            break
        tf.members.clear()  # type: ignore[attr-defined]  # typeshed omits the attribute
        count += 1
        if count > limits.max_members:
            scan.problems = [
                f"The archive has more than {limits.max_members} members; the limit is {limits.max_members}."
            ]
            return scan
        total += member.size
        if total > limits.max_total_size:
            scan.problems = [
                f"The archive expands to more than {limits.max_total_size} bytes; "
                f"the limit is {limits.max_total_size} bytes."
            ]
            return scan
        name = member.name
        if len(scan.tops) < 2:
            scan.tops.add(name.split("/", 1)[0])
        why = unsafe_path(name)
        if why:
            problems.add(f"Member {name[:200]!r} {why}.")
        elif name != top and not name.startswith(top + "/"):
            problems.add(f"Member {name[:200]!r} is outside the top folder {top!r}.")
        if member.islnk() or member.issym():
            target = PurePosixPath(member.name).parent / member.linkname
            if member.islnk():
                target = PurePosixPath(member.linkname)
            if member.linkname.startswith("/") or ".." in _normalized_parts(target):
                problems.add(f"Link {name[:200]!r} points outside the archive: {member.linkname[:200]!r}.")
        elif not (member.isfile() or member.isdir()):
            problems.add(f"Member {name[:200]!r} is a device, fifo or other special file.")
        if name == wanted and scan.pkg_info is None and scan.pkg_info_problem is None:
            _take_pkg_info(tf, member, max_pkg_info, scan)
    scan.problems = problems.result()
    return scan


def _take_pkg_info(tf: tarfile.TarFile, member: tarfile.TarInfo, limit: int, scan: SdistScan) -> None:
    if not member.isfile() or member.size > limit:
        scan.pkg_info_problem = f"{member.name} is not a regular file of reasonable size."
        return
    fh = tf.extractfile(member)
    if fh is None:
        scan.pkg_info_problem = f"Cannot read {member.name}."
        return
    scan.pkg_info = fh.read(limit)


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
