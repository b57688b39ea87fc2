"""Reservations through the real CLI beside a running server (issue 14): `registry-index reserve`
hosts a name before it has files, off /simple/ until its first upload, which twine makes as a
plain user; `registry-index unreserve` frees a bare reservation."""

from __future__ import annotations

from pathlib import Path

import httpx

from registry_index.testing import WheelSpec, build_wheel
from tests.conftest import Index, wait_until

JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"


def listed(index: Index) -> set[str]:
    doc = httpx.get(index.simple, headers={"Accept": JSON_SIMPLE}).json()
    return {p["name"] for p in doc["projects"]}


def page(index: Index, name: str) -> httpx.Response:
    return httpx.get(f"{index.simple}{name}/", headers={"Accept": JSON_SIMPLE})


def test_reserve_then_upload_then_unreserve(index: Index, tmp_path: Path) -> None:
    out = index.cli("reserve", "Reserved_Fn").stdout.strip()
    assert out.splitlines() == ["reserved Reserved_Fn: hosted here with no files, never looked up upstream"]
    assert "was already reserved" in index.cli("reserve", "reserved-fn").stdout
    wait_until(lambda: page(index, "reserved-fn").status_code == 200, what="the reservation")
    assert page(index, "reserved-fn").json()["files"] == []
    assert "Reserved_Fn" not in listed(index)

    # A plain user uploads the first file with twine and becomes its owner.
    index.twine(build_wheel(tmp_path, WheelSpec("reserved-fn", "1.0")), account=index.other)
    assert [f["filename"] for f in page(index, "reserved-fn").json()["files"]] == [
        "reserved_fn-1.0-py3-none-any.whl"
    ]
    assert "reserved-fn" in {n.lower() for n in listed(index)}
    info = httpx.get(f"{index.url}/pypi/reserved-fn/json").json()
    assert info["ownership"]["roles"] == [{"role": "Owner", "user": index.other.name}]

    out = index.cli("unreserve", "reserved-fn").stdout.strip()
    assert out.startswith("unreserved reserved-fn: still hosted here (1 files")
    assert "was not reserved" in index.cli("unreserve", "reserved-fn").stdout

    audit = index.cli("audit", "--project", "reserved-fn").stdout
    assert "project:reserve" in audit and "project:unreserve" in audit


def test_unreserve_frees_a_bare_reservation_and_bad_names_are_refused(index: Index) -> None:
    index.cli("reserve", "bare-fn")
    wait_until(lambda: page(index, "bare-fn").status_code == 200, what="the reservation")
    out = index.cli("unreserve", "bare-fn").stdout.strip()
    assert out == "unreserved bare-fn: it had no files, owners or maintainers, so the name is free"
    wait_until(lambda: page(index, "bare-fn").status_code == 404, what="the name to be freed")

    bad = index.cli("reserve", "bad name!", check=False)
    assert bad.returncode == 1 and "not a valid project name" in bad.stderr
    missing = index.cli("unreserve", "never-reserved-fn", check=False)
    assert missing.returncode == 1 and "No project 'never-reserved-fn'" in missing.stderr
