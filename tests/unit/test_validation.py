"""The strict validator on real hostile archives built here; every problem is named."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from registry_index.metadata.extract import extract_metadata
from registry_index.names import parse_dist_filename
from registry_index.testing import WheelSpec, build_sdist, build_wheel, many_member_sdist, record_bomb_wheel
from registry_index.upload.inspect import Upload, inspect_upload
from registry_index.upload.local import file_digests, form_from_filename
from registry_index.validation import ArchiveLimits, StrictValidator
from registry_index.validation.archives import MAX_REPORTED, scan_sdist, zip_declared


def validate(path: Path, limits: ArchiveLimits | None = None) -> list[str]:
    """What an upload reports about its archive: the safe read, then the validator."""
    dist = parse_dist_filename(path.name)
    _, problems = extract_metadata(path, dist, limits)
    return problems + StrictValidator(limits).validate(path, dist)


def rewrite_zip(
    path: Path,
    add: dict[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
    replace: dict[str, bytes] | None = None,
    symlink: str | None = None,
) -> Path:
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    for name in drop:
        members.pop(name)
    members.update(replace or {})
    members.update(add or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def test_valid_wheel_and_sdist_pass(tmp_path: Path) -> None:
    assert validate(build_wheel(tmp_path, WheelSpec("good", "1.0"))) == []
    assert validate(build_sdist(tmp_path, "good", "1.0")) == []


def test_zip_bomb_refused_without_inflating(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("bomb", "1.0", files={"bomb/zeros.bin": bytes(50 * 1024**2)}))
    problems = validate(path)
    assert any("zip bomb" in p for p in problems), problems
    assert not any("RECORD" in p for p in problems)  # RECORD was never read: nothing inflated


def test_total_size_and_member_count_limits(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("many", "1.0", files={f"many/m{i}.py": b"x" for i in range(30)}))
    # The member count comes from the zip's end record, before the directory is parsed.
    assert validate(path, ArchiveLimits(max_members=10)) == ["The archive has 34 members; the limit is 10."]
    problems = validate(path, ArchiveLimits(max_total_size=100))
    assert any("expands to" in p and "limit is 100 bytes" in p for p in problems)


def test_path_traversal_absolute_and_symlink_members(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("evil", "1.0"))
    rewrite_zip(path, add={"../escape.py": b"x", "/abs.py": b"y"}, symlink="evil/link")
    problems = validate(path)
    text = "\n".join(problems)
    assert "'../escape.py' contains '..'" in text
    assert "'/abs.py' is an absolute path" in text
    assert "'evil/link' is a symbolic link" in text


def test_record_mismatches_are_each_named(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("rec", "1.0"))
    rewrite_zip(path, add={"rec/unlisted.py": b"sneaky"}, replace={"rec/__init__.py": b"tampered = True\n"})
    problems = validate(path)
    assert "rec/unlisted.py is in the wheel but not in RECORD." in problems
    assert "RECORD hash of rec/__init__.py does not match its content." in problems


def test_record_missing_file_and_weak_hash(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("rec2", "1.0"))
    with zipfile.ZipFile(path) as zf:
        record = zf.read("rec2-1.0.dist-info/RECORD").decode()
    record = (
        record.replace("rec2/__init__.py,sha256=", "rec2/__init__.py,md5=") + "rec2/gone.py,sha256=abc,3\n"
    )
    rewrite_zip(path, replace={"rec2-1.0.dist-info/RECORD": record.encode()})
    problems = validate(path)
    assert "RECORD lists rec2/gone.py, which is not in the wheel." in problems
    assert "RECORD entry for rec2/__init__.py has no sha256 (or stronger) hash." in problems


def test_wheel_tags_must_match_filename(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("tags", "1.0", tag="py3-none-any"))
    with zipfile.ZipFile(path) as zf:
        wheel = (
            zf.read("tags-1.0.dist-info/WHEEL").decode().replace("py3-none-any", "cp311-cp311-linux_x86_64")
        )
    rewrite_zip(path, replace={"tags-1.0.dist-info/WHEEL": wheel.encode()})
    problems = validate(path)
    assert any(
        "WHEEL tags differ from the filename's" in p and "cp311-cp311-linux_x86_64" in p for p in problems
    )


@pytest.mark.parametrize(
    ("member", "kind", "target", "needle"),
    [
        ("x-1.0/link", tarfile.SYMTYPE, "../../etc/passwd", "points outside"),
        ("x-1.0/hard", tarfile.LNKTYPE, "/etc/passwd", "points outside"),
        ("x-1.0/../../evil", tarfile.REGTYPE, "", "contains '..'"),
        ("other-top/file", tarfile.REGTYPE, "", "outside the top folder"),
        ("x-1.0/dev", tarfile.CHRTYPE, "", "special file"),
    ],
)
def test_sdist_escapes(tmp_path: Path, member: str, kind: bytes, target: str, needle: str) -> None:
    path = build_sdist(tmp_path, "x", "1.0")
    with tarfile.open(path, "r:gz") as tf:
        members = [(m, tf.extractfile(m).read() if m.isfile() else b"") for m in tf.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(path, "w:gz") as tf:
        for m, data in members:
            tf.addfile(m, io.BytesIO(data))
        bad = tarfile.TarInfo(member)
        bad.type = kind
        bad.linkname = target
        tf.addfile(bad, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    problems = validate(path)
    assert any(needle in p for p in problems), problems


# -- bounded cost: hostile archives are refused early, in small messages ------------------


def test_record_bomb_is_refused_after_a_few_lines(tmp_path: Path) -> None:
    path = record_bomb_wheel(tmp_path, 1_000_000)
    problems = validate(path)
    assert problems == [
        "record_bomb-1.0.dist-info/RECORD lists more than 104 entries, but the wheel has 4 files."
    ]


def test_record_line_length_is_capped(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("longline", "1.0"))
    with zipfile.ZipFile(path) as zf:
        record = zf.read("longline-1.0.dist-info/RECORD")
    rewrite_zip(path, replace={"longline-1.0.dist-info/RECORD": record + b"a" * 100_000 + b",,\n"})
    assert validate(path) == ["longline-1.0.dist-info/RECORD has a line longer than 8192 characters."]


def test_many_problems_are_counted_not_listed(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("noisy", "1.0"))
    rewrite_zip(path, add={f"noisy/unlisted{i}.py": b"" for i in range(500)})
    problems = validate(path)
    assert len(problems) == MAX_REPORTED + 1
    assert problems[-1] == "... and 490 more problems like these."


def test_wheel_file_is_refused_by_its_declared_size(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("bigwheel", "1.0"))
    with zipfile.ZipFile(path) as zf:
        wheel = zf.read("bigwheel-1.0.dist-info/WHEEL")
    rewrite_zip(path, replace={"bigwheel-1.0.dist-info/WHEEL": wheel + b"X-Pad: " + b"p" * 70_000 + b"\n"})
    assert "bigwheel-1.0.dist-info/WHEEL is 70102 bytes; the limit is 65536." in validate(path)


def test_zip_end_record_is_checked_before_the_directory_is_parsed(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("forged", "1.0"))
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    data[at + 8 : at + 12] = (0xFFFE).to_bytes(2, "little") * 2  # entries on disk and in all
    path.write_bytes(bytes(data))
    assert validate(path, ArchiveLimits(max_members=1000)) == [
        "The archive has 65534 members; the limit is 1000."
    ]


def test_zip64_end_record_is_read(tmp_path: Path) -> None:
    path = record_bomb_wheel(tmp_path, 10)  # RECORD written with force_zip64
    with zipfile.ZipFile(path, "a") as zf:
        for i in range(70_000):  # more entries than the classic record can count
            zf.writestr(f"record_bomb/m{i}", b"")
    with open(path, "rb") as fh:
        entries, _ = zip_declared(fh) or (0, 0)
    assert entries == 70_004
    assert validate(path, ArchiveLimits(max_members=70_000)) == [
        "The archive has 70004 members; the limit is 70000."
    ]


class CountingTar(tarfile.TarFile):
    reads = 0

    def next(self) -> tarfile.TarInfo | None:
        CountingTar.reads += 1
        return super().next()


def test_sdist_scan_stops_at_the_member_limit_in_one_pass(tmp_path: Path) -> None:
    path = many_member_sdist(tmp_path, 20_000)
    CountingTar.reads = 0
    with CountingTar.open(path, "r:gz") as tf:
        scan = scan_sdist(tf, "member_bomb-1.0", ArchiveLimits(max_members=1000), 4096)
    assert scan.problems == ["The archive has more than 1000 members; the limit is 1000."]
    assert CountingTar.reads == 1 + 1001  # tarfile reads the first member on opening
    assert scan.pkg_info is not None and b"Name: member-bomb" in scan.pkg_info
    assert validate(path, ArchiveLimits(max_members=1000)) == scan.problems


def test_sdist_total_size_stops_the_scan(tmp_path: Path) -> None:
    path = build_sdist(tmp_path, "sizey", "1.0", extra_members={"sizey-1.0/big.bin": bytes(10_000)})
    problems = validate(path, ArchiveLimits(max_total_size=5000))
    assert problems == ["The archive expands to more than 5000 bytes; the limit is 5000 bytes."]


def _break_deflate(path: Path, member: str) -> None:
    """Set the first byte of a member's deflate data to BTYPE 11, an invalid block type."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    data = bytearray(path.read_bytes())
    header = info.header_offset
    name_len = int.from_bytes(data[header + 26 : header + 28], "little")
    extra_len = int.from_bytes(data[header + 28 : header + 30], "little")
    data[header + 30 + name_len + extra_len] = 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "member", ["fuzz_me/__init__.py", "fuzz_me-1.0.dist-info/METADATA", "fuzz_me-1.0.dist-info/RECORD"]
)
def test_a_damaged_deflate_stream_is_a_problem_not_a_crash(tmp_path: Path, member: str) -> None:
    """Found by the fuzz suite: a member whose deflate data is invalid raised zlib.error (a 500)."""
    path = build_wheel(tmp_path, WheelSpec("fuzz-me", "1.0", files={"fuzz_me/__init__.py": b"x = 1\n" * 50}))
    _break_deflate(path, member)
    digests = file_digests(path)
    dist = parse_dist_filename(path.name)
    upload = Upload(path.name, path, path.stat().st_size, digests, form_from_filename(dist, digests))
    found = inspect_upload(upload, ArchiveLimits(), StrictValidator())
    assert found.problems, "a damaged archive was accepted"
    assert any("cannot be read" in p or "damaged" in p for p in found.problems), found.problems
