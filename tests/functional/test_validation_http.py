"""Hostile archives through the real upload path, and `registry-index verify`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import httpx

from registry_index.testing import WheelSpec, build_wheel, legacy_form
from tests.conftest import Index


def test_hostile_wheel_refused_with_every_problem_named(index: Index, tmp_path: Path) -> None:
    path = build_wheel(tmp_path, WheelSpec("hostile", "1.0"))
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["hostile/__init__.py"] = b"import os; os.system('curl evil')\n"
    members["../../outside.py"] = b"x"
    members["hostile-1.0.dist-info/WHEEL"] = members["hostile-1.0.dist-info/WHEEL"].replace(
        b"py3-none-any", b"cp39-cp39-win_amd64"
    )
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    fields, files = legacy_form(path)
    resp = httpx.post(index.upload, data=fields, files=files, auth=(index.owner.name, index.owner.password))
    assert resp.status_code == 400
    lines = resp.text.strip().splitlines()
    assert any("'../../outside.py' contains '..'" in line for line in lines)
    assert all(".." in line for line in lines)  # limits fail first: nothing was inflated
    assert httpx.get(index.simple + "hostile/").status_code == 404

    # With safe names, the deeper checks run and each is named.
    del members["../../outside.py"]
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    fields, files = legacy_form(path)
    resp = httpx.post(index.upload, data=fields, files=files, auth=(index.owner.name, index.owner.password))
    assert resp.status_code == 400
    assert "WHEEL tags differ" in resp.text
    assert "RECORD hash of hostile/__init__.py does not match" in resp.text


def test_verify_command_rechecks_stored_files(index: Index, tmp_path: Path) -> None:
    good = build_wheel(tmp_path, WheelSpec("verified", "1.0"))
    index.twine(good)
    result = index.cli("verify", "verified")
    assert "verified 1 files: 0 invalid" in result.stdout
    assert "1/1" in result.stderr  # progress
    missing = index.cli("verify", "no-such-project", check=False)
    assert missing.returncode != 0 and "No project" in missing.stderr
