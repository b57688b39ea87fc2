from __future__ import annotations

from pathlib import Path

import pytest

from registry_index.metadata.extract import _parse
from registry_index.names import InvalidFilename, is_valid_name, normalize, parse_dist_filename


@pytest.mark.parametrize("name", ["Friendly.Bard", "friendly__bard", "FrIeNdLy-._.-bArD"])
def test_normalize(name: str) -> None:
    assert normalize(name) == "friendly-bard"


@pytest.mark.parametrize(
    ("name", "ok"),
    [("a", True), ("Foo.Bar_baz", True), ("-a", False), ("a-", False), ("a\n", False), ("a b", False)],
)
def test_valid_names(name: str, ok: bool) -> None:
    assert is_valid_name(name) is ok


def test_parse_wheel_and_sdist() -> None:
    wheel = parse_dist_filename("Foo.Bar_baz-1.0-py2.py3-none-any.whl")
    assert (wheel.project, str(wheel.version), wheel.packagetype) == ("foo-bar-baz", "1.0", "bdist_wheel")
    assert wheel.python_tag == "py2.py3"
    sdist = parse_dist_filename("foo_bar-2.0rc1.tar.gz")
    assert (sdist.project, str(sdist.version), sdist.packagetype) == ("foo-bar", "2.0rc1", "sdist")


@pytest.mark.parametrize(
    "filename",
    [
        "../evil-1.0.tar.gz",
        "a/b-1.0.tar.gz",
        "a\\b-1.0.tar.gz",
        "x-1.0.exe",
        "x-1.0.egg",
        "notawheel.whl",
        "x-1.0-py3.whl",
        "x-notaversion.tar.gz",
        "",
        "x\x00-1.0.tar.gz",
    ],
)
def test_bad_filenames(filename: str) -> None:
    with pytest.raises(InvalidFilename):
        parse_dist_filename(filename)


def test_metadata_fields_from_a_later_version_are_tolerated(tmp_path: Path) -> None:
    # requests 2.32.3's wheel declares Metadata-Version 2.1 but carries License-File (2.4).
    raw = b"Metadata-Version: 2.1\nName: old-style\nVersion: 1.0\nLicense-File: LICENSE\n\n"
    problems: list[str] = []
    metadata = _parse(raw, "METADATA", problems)
    assert problems == [] and metadata is not None and metadata.name == "old-style"


def test_real_metadata_errors_are_still_reported() -> None:
    raw = b"Metadata-Version: 2.1\nName: bad\nVersion: not a version\nRequires-Dist: !!\n\n"
    problems: list[str] = []
    assert _parse(raw, "METADATA", problems) is None
    assert "version" in problems[0].lower() and "requires" in problems[0].lower()


def test_draft_metadata_version_2_0_is_read_as_2_1() -> None:
    # requests 2.2.1's wheel (2014) declares Metadata-Version: 2.0.
    raw = b"Metadata-Version: 2.0\nName: old-draft\nVersion: 2.2.1\n\n"
    problems: list[str] = []
    metadata = _parse(raw, "METADATA", problems)
    assert problems == [] and metadata is not None and str(metadata.version) == "2.2.1"
