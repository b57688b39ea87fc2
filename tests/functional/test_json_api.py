"""The PyPI-compatible JSON API, checked field by field and read by poetry's own PyPI client."""

from __future__ import annotations

import hashlib
import subprocess
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from registry_index.testing import WheelSpec, build_sdist, build_wheel
from tests.conftest import Index, tool_venv

REPO = Path(__file__).resolve().parents[2]


def test_project_and_release_documents(index: Index, tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        WheelSpec(
            "json-demo", "1.0", requires_dist=["idna>=3"], requires_python=">=3.9", summary="JSON demo"
        ),
    )
    sdist = build_sdist(tmp_path, "json-demo", "1.0")
    newer = build_wheel(tmp_path, WheelSpec("json-demo", "2.0rc1"))
    index.twine(wheel, sdist, newer)
    doc = httpx.get(f"{index.url}/pypi/json-demo/json").json()
    assert set(doc) >= {"info", "releases", "urls", "last_serial", "vulnerabilities"}
    assert doc["info"]["version"] == "1.0"  # pre-releases are not "latest"
    assert doc["info"]["summary"] == "JSON demo" and doc["info"]["requires_python"] == ">=3.9"
    assert doc["info"]["requires_dist"] == ["idna>=3"] and doc["info"]["yanked"] is False
    assert sorted(doc["releases"]) == ["1.0", "2.0rc1"]
    assert doc["vulnerabilities"] == []
    by_name = {f["filename"]: f for f in doc["urls"]}
    assert set(by_name) == {wheel.name, sdist.name}
    whl = by_name[wheel.name]
    assert whl["digests"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert whl["packagetype"] == "bdist_wheel" and by_name[sdist.name]["packagetype"] == "sdist"
    assert whl["upload_time_iso_8601"].endswith("Z") and "Z" not in whl["upload_time"]
    assert httpx.get(whl["url"]).content == wheel.read_bytes()  # absolute, working URL
    release = httpx.get(f"{index.url}/pypi/json-demo/2.0rc1/json").json()
    assert "releases" not in release and release["info"]["version"] == "2.0rc1"
    index.cli("yank", "json-demo", "1.0", "--reason", "bad build")
    time.sleep(1.2)  # another process's change shows within the freshness bound (1 s)
    yanked = httpx.get(f"{index.url}/pypi/json-demo/1.0/json").json()
    assert yanked["info"]["yanked"] is True and yanked["info"]["yanked_reason"] == "bad build"
    assert all(f["yanked"] and f["yanked_reason"] == "bad build" for f in yanked["urls"])
    assert httpx.get(f"{index.url}/pypi/JSON.Demo/json").status_code == 301
    assert httpx.get(f"{index.url}/pypi/json-demo/9.9/json").status_code == 404
    assert httpx.get(f"{index.url}/pypi/nope/json").status_code == 404


@pytest.fixture(scope="session")
def poetry_python() -> Path:
    return tool_venv("poetry", "poetry>=2") / "python"


@pytest.mark.slow
def test_poetry_reads_our_json_api(index: Index, tmp_path: Path, poetry_python: Path) -> None:
    index.twine(
        build_wheel(
            tmp_path,
            WheelSpec(
                "poetry-read",
                "1.2.0",
                requires_dist=["idna>=3"],
                requires_python=">=3.8",
                summary="Read by poetry",
            ),
        )
    )
    script = textwrap.dedent(f"""
        from poetry.core.constraints.version import Version
        from poetry.core.factory import Factory
        from poetry.repositories.pypi_repository import PyPiRepository
        repo = PyPiRepository(url={index.url + "/"!r}, disable_cache=True, fallback=False)
        found = repo.find_packages(Factory.create_dependency("poetry-read", ">=1"))
        print("FOUND", [str(p.version) for p in found])
        pkg = repo.package("poetry-read", Version.parse("1.2.0"))
        print("SUMMARY", pkg.description)
        print("PYTHON", pkg.python_versions)
        print("REQUIRES", [str(d) for d in pkg.requires])
        print("FILES", [f["file"] for f in pkg.files])
    """)
    run = subprocess.run(
        [poetry_python, "-c", script], capture_output=True, text=True, env=index.env, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "FOUND ['1.2.0']" in out
    assert "SUMMARY Read by poetry" in out
    assert "PYTHON >=3.8" in out
    assert "idna (>=3)" in out
    assert "poetry_read-1.2.0-py3-none-any.whl" in out
