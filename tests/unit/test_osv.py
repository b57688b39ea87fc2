"""OSV parsing and matching, exactly as the schema says, on records written here."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from registry_index.security.advisories import import_advisories, read_records
from registry_index.security.osv import AdvisoryError, affects, fixed_in, parse, pypi_shape
from registry_index.storage import MemoryStorage


def record(**affected: object) -> dict[str, object]:
    return {
        "id": "TEST-1",
        "aliases": ["CVE-2000-1"],
        "details": "bad",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "Demo.Pkg"}, **affected}],
    }


def events(*pairs: tuple[str, str]) -> dict[str, object]:
    return {"ranges": [{"type": "ECOSYSTEM", "events": [{k: v} for k, v in pairs]}]}


@pytest.mark.parametrize(
    ("version", "hit"),
    [
        ("0.1", True),
        ("1.0", True),
        ("1.1", False),
        ("1.5", True),
        ("2.0rc1", True),
        ("2.0", False),
        ("3", False),
    ],
)
def test_introduced_fixed_ranges(version: str, hit: bool) -> None:
    adv = parse(
        record(**events(("introduced", "0"), ("fixed", "1.0.1"), ("introduced", "1.5"), ("fixed", "2.0")))
    )
    assert affects(adv, "demo-pkg", version) is hit


def test_last_affected_is_inclusive() -> None:
    adv = parse(record(**events(("introduced", "1.0"), ("last_affected", "1.11.0"))))
    assert affects(adv, "demo_pkg", "1.11.0") and not affects(adv, "demo_pkg", "1.11.1")
    assert not affects(adv, "demo_pkg", "0.9")


def test_explicit_versions_and_names_normalized() -> None:
    adv = parse(record(versions=["0.5", "not a version"]))
    assert affects(adv, "DEMO.PKG", "0.5.0") and not affects(adv, "demo-pkg", "0.6")
    assert not affects(adv, "other", "0.5")


def test_withdrawn_never_matches_and_shape() -> None:
    doc = record(**events(("introduced", "0"), ("fixed", "1.0")))
    adv = parse(doc)
    shape = pypi_shape(adv, "demo-pkg")
    assert shape == {
        "aliases": ["CVE-2000-1"],
        "details": "bad",
        "fixed_in": ["1.0"],
        "id": "TEST-1",
        "link": "https://osv.dev/vulnerability/TEST-1",
        "source": "osv",
        "summary": None,
        "withdrawn": None,
    }
    withdrawn = parse({**doc, "withdrawn": "2024-01-01T00:00:00Z"})
    assert not affects(withdrawn, "demo-pkg", "0.5")
    assert fixed_in(adv, "demo-pkg") == ["1.0"]


def test_severity_from_cvss() -> None:
    doc = record(**events(("introduced", "0")))
    doc["severity"] = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
    adv = parse(doc)
    assert adv.severity == "critical" and adv.score == 9.8


@pytest.mark.parametrize(
    "doc",
    [
        {"no": "id"},
        {
            "id": "X",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "a"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "???"}]}],
                }
            ],
        },
    ],
)
def test_malformed_records_are_refused(doc: dict[str, object]) -> None:
    with pytest.raises(AdvisoryError):
        parse(doc, "file.json")


async def test_import_reports_changes_and_skips_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({**record(**events(("introduced", "0"))), "id": "A"}))
    (folder / "b.yaml").write_text(
        "id: B\naffected:\n- package: {ecosystem: PyPI, name: b}\n  versions: ['1.0']\n"
    )
    (folder / "broken.yaml").write_text("id: [unclosed\n")
    (folder / "npm.json").write_text(
        json.dumps({"id": "N", "affected": [{"package": {"ecosystem": "npm", "name": "x"}}]})
    )
    records, skipped = read_records(folder)
    assert sorted(records) == ["A", "B"]
    assert any(s.startswith("broken.yaml: cannot be parsed") for s in skipped)
    assert any(s.startswith("npm.json") and "no PyPI package" in s for s in skipped)
    storage = MemoryStorage()
    first = await import_advisories(storage, folder)
    assert first.added == ["A", "B"] and not first.removed
    (folder / "a.json").unlink()
    (folder / "c.json").write_text(json.dumps({**record(**events(("introduced", "0"))), "id": "C"}))
    archive = tmp_path / "db.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in folder.iterdir():
            zf.write(file, f"export/{file.name}")
    second = await import_advisories(storage, archive)
    assert (second.added, second.removed) == (["C"], ["A"])
    assert [i.key async for i in storage.list("advisories/sets/")].__len__() == 1  # the old set is gone
    assert (await import_advisories(storage, archive)).unchanged
