"""The strict validator on real hostile archives built here; every problem is named."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from registry_index.names import parse_dist_filename
from registry_index.testing import WheelSpec, build_sdist, build_wheel
from registry_index.validation import ArchiveLimits, StrictValidator


def validate(path: Path, limits: ArchiveLimits | None = None) -> list[str]:
    return StrictValidator(limits).validate(path, parse_dist_filename(path.name))


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
    problems = validate(path, ArchiveLimits(max_members=10, max_total_size=100))
    assert any("members; the limit is 10" in p for p in problems)
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
