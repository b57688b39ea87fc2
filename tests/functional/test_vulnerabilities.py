"""Real advisories (the PyPA snapshot) against real old releases uploaded to the index."""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest
from packaging.version import Version

from registry_index.testing import WheelSpec, build_wheel
from tests.conftest import Index

REPO = Path(__file__).resolve().parents[2]
ADVISORIES = REPO.parent / "shared" / "data" / "pypa-advisory-database"
OLD = ["requests-2.2.1-py2.py3-none-any.whl", "urllib3-1.24.1-py2.py3-none-any.whl", "PyYAML-5.3.tar.gz"]
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="session")
def old_releases() -> list[Path]:
    """Old, vulnerable releases as PyPI serves them, fetched once into .cache/ (bytes only, no build)."""
    dest = REPO / ".cache" / "old-releases"
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / ".ready").exists():
            for filename in OLD:
                project = filename.split("-")[0].lower()
                page = httpx.get(
                    f"https://pypi.org/simple/{project}/", headers={"Accept": SIMPLE_JSON}, timeout=60
                )
                chosen = next(f for f in page.json()["files"] if f["filename"] == filename)
                data = httpx.get(chosen["url"], timeout=120, follow_redirects=True).content
                assert hashlib.sha256(data).hexdigest() == chosen["hashes"]["sha256"]
                (dest / filename).write_bytes(data)
            (dest / ".ready").touch()
    return sorted(p for p in dest.iterdir() if p.name.endswith((".whl", ".tar.gz")))


@pytest.mark.slow
def test_real_advisories_match_real_releases(index: Index, old_releases: list[Path], tmp_path: Path) -> None:
    imported = index.cli("advisories", "import", str(ADVISORIES))
    assert "imported" in imported.stdout and "advisories" in imported.stdout
    assert "/" in imported.stderr  # progress
    # twine refuses requests 2.2.1's draft Metadata-Version 2.0 on the client side; migrating
    # old packages is what `import` is for.
    folder = tmp_path / "old"
    folder.mkdir()
    for path in old_releases:
        (folder / path.name).write_bytes(path.read_bytes())
    assert "imported 3 files" in index.cli("import", str(folder), "--owner", "root").stdout
    time.sleep(1.2)  # the server sees the new advisory set within its freshness bound

    doc = httpx.get(f"{index.url}/pypi/requests/2.2.1/json").json()
    by_id = {v["id"]: v for v in doc["vulnerabilities"]}
    assert by_id["PYSEC-2014-13"]["fixed_in"] == ["2.3.0"]
    assert by_id["PYSEC-2018-28"]["fixed_in"] == ["2.20.0"]
    assert by_id["PYSEC-2014-13"]["link"] == "https://osv.dev/vulnerability/PYSEC-2014-13"
    assert set(by_id["PYSEC-2018-28"]) == {
        "id",
        "aliases",
        "details",
        "summary",
        "fixed_in",
        "link",
        "source",
        "withdrawn",
    }
    urllib3 = httpx.get(f"{index.url}/api/projects/urllib3/1.24.1/vulnerabilities").json()["vulnerabilities"]
    assert {"PYSEC-2019-133": ["1.24.2"], "PYSEC-2019-132": ["1.24.3"]}.items() <= {
        v["id"]: v["fixed_in"] for v in urllib3
    }.items()
    yaml_vulns = httpx.get(f"{index.url}/pypi/pyyaml/5.3/json").json()["vulnerabilities"]
    assert {v["id"]: v["fixed_in"] for v in yaml_vulns}["PYSEC-2020-96"] == ["5.3.1"]

    # Our own package can only get urllib3 from the index in an affected version.
    index.twine(build_wheel(tmp_path, WheelSpec("our-app", "1.0", requires_dist=["urllib3<1.25"])))
    tree = httpx.get(f"{index.url}/api/projects/our-app/1.0/dependencies").json()
    (node,) = tree["tree"]
    assert node["name"] == "urllib3" and node["version"] == "1.24.1"
    assert "PYSEC-2019-133" in node["vulnerable"]["advisories"]
    assert Version(node["vulnerable"]["first_fixed"]) >= Version("1.26.5")  # fixes every advisory
    assert "VULNERABLE: " in index.cli("deps", "our-app==1.0").stdout
    gate = index.cli("scan", "--format", "json", check=False)
    assert gate.returncode == 1
    report = json.loads(gate.stdout)
    kinds = {(f["kind"], f["project"], f["advisory"]) for f in report["findings"]}
    assert ("affected", "requests", "PYSEC-2014-13") in kinds
    assert ("dependency", "our-app", "PYSEC-2019-133") in kinds
    assert index.cli("scan", "--fail-on", "none", check=False).returncode == 0
    assert (
        index.cli("scan", "our-app", "--fail-on", "critical", check=False).returncode == 1
    )  # unknown counts
    clean = index.cli("scan", "pyyaml", "--format", "json", check=False)
    assert all(f["project"] == "pyyaml" for f in json.loads(clean.stdout)["findings"])


@pytest.mark.slow
def test_upload_policy_warns_or_refuses(index: Index, tmp_path: Path) -> None:
    subset = tmp_path / "urllib3-advisories"
    subset.mkdir()
    for record in (ADVISORIES / "vulns" / "urllib3").glob("*.yaml"):
        (subset / record.name).write_bytes(record.read_bytes())
    index.cli("advisories", "import", str(subset))
    old = build_wheel(tmp_path, WheelSpec("urllib3", "1.24.1"))  # a stand-in with a vulnerable version
    auth = (index.admin.name, index.admin.password)
    from registry_index.testing import legacy_form

    with index.start_server(tmp_path / "refuse.log", "--vuln-policy", "refuse") as server:
        fields, files = legacy_form(old)
        resp = httpx.post(server.upload, data=fields, files=files, auth=auth)
        assert resp.status_code == 400 and "PYSEC-2019-133" in resp.text and "fixed in 1.24.2" in resp.text
    with index.start_server(
        tmp_path / "warn.log", "--vuln-policy", "warn", "--vuln-policy-projects", "urllib3"
    ) as server:
        fields, files = legacy_form(old)
        resp = httpx.post(server.upload, data=fields, files=files, auth=auth)
        assert resp.status_code == 200 and resp.text.startswith("Warning: urllib3 1.24.1 is affected")
    with index.start_server(tmp_path / "again.log", "--vuln-policy", "refuse") as server:
        fields, files = legacy_form(old)
        resp = httpx.post(server.upload, data=fields, files=files, auth=auth)
        assert resp.status_code == 200, resp.text  # re-uploading a stored file stays a no-op
