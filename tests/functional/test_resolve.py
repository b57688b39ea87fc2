"""Dependency resolution over HTTP and the CLI, cross-checked against pip and uv on the same index."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.utils import canonicalize_name, canonicalize_version

from registry_index.testing import WheelSpec, build_sdist, build_wheel, metadata_text
from tests.conftest import BIN, Index


@dataclass
class Fixtures:
    index: Index


def _wheel(directory: Path, name: str, version: str, *deps: str, **kw: Any) -> Path:
    return build_wheel(directory, WheelSpec(name, version, requires_dist=deps, **kw))


@pytest.fixture(scope="module")
def fixtures(index: Index, tmp_path_factory: pytest.TempPathFactory) -> Fixtures:
    """One set of projects per server, exercising every rule the resolver applies."""
    d = tmp_path_factory.mktemp("resolve-dists")
    ext_meta = metadata_text(
        "rz-ext",
        "1.0",
        requires_dist=['rz-feat-dep>=2; extra == "feat"', "rz-c"],
        extra=[("Provides-Extra", "feat")],
    )
    files = [
        # a chain that only resolves by backtracking: rz-a 2.0 → rz-b 2.0 → rz-c>=3, and rz-c 3.0
        # needs Python 3.12; so rz-a 1.0 → rz-b<2 → rz-b 1.5 → rz-c 1.1
        _wheel(d, "rz-a", "2.0", "rz-b==2.0"),
        _wheel(d, "rz-a", "1.0", "rz-b>=1,<2"),
        _wheel(d, "rz-b", "2.0", "rz-c>=3"),
        _wheel(d, "rz-b", "1.5", "rz-c>=1"),
        _wheel(d, "rz-b", "1.0"),
        _wheel(d, "rz-c", "1.0"),
        _wheel(d, "rz-c", "1.1"),
        _wheel(d, "rz-c", "3.0", requires_python=">=3.12"),
        # extras
        build_wheel(d, WheelSpec("rz-ext", "1.0", metadata=ext_meta)),
        _wheel(d, "rz-feat-dep", "1.0"),
        _wheel(d, "rz-feat-dep", "2.0"),
        _wheel(d, "rz-feat-dep", "2.1"),
        # markers
        _wheel(d, "rz-win", "1.0"),
        _wheel(d, "rz-old", "1.0"),
        # a yanked newest version, a pre-release, a project with only a pre-release
        _wheel(d, "rz-yank", "1.0"),
        _wheel(d, "rz-yank", "2.0"),
        _wheel(d, "rz-pre", "1.0"),
        _wheel(d, "rz-pre", "2.0b1"),
        _wheel(d, "rz-onlypre", "0.1a1"),
        # a newest version with a Windows wheel only; an sdist-only project
        _wheel(d, "rz-plat", "1.0"),
        _wheel(d, "rz-plat", "2.0", tag="cp311-cp311-win_amd64"),
        build_sdist(d, "rz-sd", "1.0"),
        # the application that pulls it all in
        _wheel(
            d,
            "rz-app",
            "1.0",
            "rz-a",
            "rz-ext[feat]",
            'rz-win; sys_platform == "win32"',
            'rz-old; python_version < "3.10"',
            "rz-yank",
            "rz-pre",
            "rz-plat",
            "rz-sd",
        ),
        _wheel(d, "rz-broken", "1.0", "rz-c", "rz-ghost>=1"),
    ]
    index.twine(*files)
    index.cli("yank", "rz-yank", "2.0", "--reason", "broken build")
    time.sleep(1.2)  # the server sees another process's change within its freshness bound (1 s)
    return Fixtures(index)


APP = {
    "rz-app": "1.0",
    "rz-a": "1.0",
    "rz-b": "1.5",
    "rz-c": "1.1",
    "rz-ext": "1.0",
    "rz-feat-dep": "2.1",
    "rz-yank": "1.0",
    "rz-pre": "1.0",
    "rz-plat": "1.0",
    "rz-sd": "1.0",
}
PINNED = ["rz-a", "rz-ext[feat]", "rz-feat-dep<2.1", "rz-onlypre", "rz-yank==2.0", "rz-pre>=2.0b1"]
PINNED_EXPECTED = {
    "rz-a": "1.0",
    "rz-b": "1.5",
    "rz-c": "1.1",
    "rz-ext": "1.0",
    "rz-feat-dep": "2.0",
    "rz-onlypre": "0.1a1",
    "rz-yank": "2.0",
    "rz-pre": "2.0b1",
}


def _canon(pins: dict[str, str]) -> dict[str, str]:
    return {canonicalize_name(k): canonicalize_version(v) for k, v in pins.items()}


def index_pins(index: Index, reqs: list[str], **env: str) -> dict[str, str]:
    resp = httpx.get(f"{index.url}/api/resolve", params={"requirement": reqs, **env}, timeout=60)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert set(doc) >= {"pins", "environment"}
    return _canon(doc["pins"])


def pip_pins(index: Index, reqs: list[str], tmp: Path) -> dict[str, str]:
    report = tmp / "report.json"
    index.run(
        BIN / "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--report", report,
        "--index-url", index.simple, *reqs,
    )  # fmt: skip
    items = json.loads(report.read_text())["install"]
    return _canon({i["metadata"]["name"]: i["metadata"]["version"] for i in items})


def uv_pins(index: Index, reqs: list[str], tmp: Path) -> dict[str, str]:
    infile = tmp / "requirements.in"
    infile.write_text("\n".join(reqs) + "\n")
    out = index.run(
        BIN / "uv", "pip", "compile", "--index-url", index.simple, "--python-version", "3.11", "--no-cache",
        "--python", BIN / "python", "--no-header", "--no-annotate", infile,
    ).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", line.strip())
        if m:
            found[m.group(1)] = m.group(2)
    return _canon(found)


@pytest.mark.parametrize(
    ("reqs", "expected"), [(["rz-app"], APP), (PINNED, PINNED_EXPECTED)], ids=["app", "pinned"]
)
def test_pins_agree_with_pip_and_uv(
    fixtures: Fixtures, tmp_path: Path, reqs: list[str], expected: dict[str, str]
) -> None:
    index = fixtures.index
    ours = index_pins(index, reqs)  # the server's own environment: this Python, on linux
    assert ours == _canon(expected)
    assert index_pins(index, reqs, python="3.11", platform="linux") == ours
    assert pip_pins(index, reqs, tmp_path) == ours
    assert uv_pins(index, reqs, tmp_path) == ours


def test_other_environments(fixtures: Fixtures) -> None:
    index = fixtures.index
    windows = index_pins(index, ["rz-app"], python="3.11", platform="windows")
    assert windows == _canon({**APP, "rz-win": "1.0", "rz-plat": "2.0"})
    py312 = index_pins(index, ["rz-app"], python="3.12", platform="linux")
    assert py312["rz-c"] == "3" and py312["rz-a"] == "2" and py312["rz-b"] == "2"
    py39 = index_pins(index, ["rz-app"], python="3.9", platform="macos", arch="arm64")
    assert py39 == _canon({**APP, "rz-old": "1.0"})


def test_dependency_tree_endpoint(fixtures: Fixtures) -> None:
    index = fixtures.index
    resp = httpx.get(
        f"{index.url}/api/projects/rz-app/1.0/dependencies", params={"python": "3.11", "platform": "linux"}
    )
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert set(doc) >= {"project", "version", "requires_dist", "environment", "tree", "unsatisfiable"}
    assert (doc["project"], doc["version"]) == ("rz-app", "1.0")
    assert 'rz-win; sys_platform == "win32"' in doc["requires_dist"] and len(doc["requires_dist"]) == 8
    assert doc["environment"]["platform"] == "linux" and doc["unsatisfiable"] == []
    top = {n["name"]: n for n in doc["tree"]}
    direct = ("rz-a", "rz-ext", "rz-yank", "rz-pre", "rz-plat", "rz-sd")
    assert {k: v["version"] for k, v in top.items()} == {k: APP[k] for k in direct}
    assert top["rz-a"]["dependencies"][0]["version"] == "1.5"
    assert top["rz-a"]["dependencies"][0]["dependencies"][0] == {
        "requirement": "rz-c>=1",
        "name": "rz-c",
        "version": "1.1",
        "dependencies": [],
    }
    ext = top["rz-ext"]
    assert ext["extras"] == ["feat"]
    assert [(c["name"], c.get("repeated", False)) for c in ext["dependencies"]] == [
        ("rz-feat-dep", False),
        ("rz-c", True),
    ]
    windows = httpx.get(
        f"{index.url}/api/projects/RZ_App/1.0/dependencies", params={"platform": "windows"}
    ).json()
    assert {n["name"]: n["version"] for n in windows["tree"]}["rz-plat"] == "2.0"
    assert "rz-win" in {n["name"] for n in windows["tree"]}

    broken = httpx.get(f"{index.url}/api/projects/rz-broken/1.0/dependencies").json()
    nodes = {n["name"]: n for n in broken["tree"]}
    assert nodes["rz-c"]["version"] == "1.1"
    assert (
        nodes["rz-ghost"]["version"] is None and "no project 'rz-ghost'" in nodes["rz-ghost"]["unsatisfiable"]
    )
    assert broken["unsatisfiable"][0]["project"] == "rz-ghost"


def test_unsatisfiable_is_a_409_that_explains(fixtures: Fixtures) -> None:
    index = fixtures.index
    resp = httpx.get(f"{index.url}/api/resolve", params={"requirement": ["rz-a>=2"], "python": "3.11"})
    assert resp.status_code == 409, resp.text
    doc = resp.json()
    assert doc["pins"] == {} and doc["environment"]["python"] == "3.11"
    [item] = doc["unsatisfiable"]
    assert item["project"] == "rz-c" and item["requirements"] == [
        {"requirement": "rz-c>=3", "required_by": "rz-b 2.0"}
    ]
    assert "3.0: requires Python >=3.12" in item["reason"]
    assert "rz-c>=3" in doc["message"]
    yanked = httpx.get(f"{index.url}/api/resolve", params={"requirement": "rz-yank>=2"})
    assert yanked.status_code == 409 and "yanked (broken build)" in yanked.text


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/resolve", {"requirement": "rz-a >>> 1"}, "requirement"),
        ("/api/resolve", {}, "requirement"),
        ("/api/resolve", {"requirement": "rz-a", "python": "2.7"}, "python"),
        ("/api/resolve", {"requirement": "rz-a", "python": "3.x"}, "python"),
        ("/api/resolve", {"requirement": "rz-a", "platform": "plan9"}, "platform"),
        ("/api/resolve", {"requirement": "rz-a", "arch": "sparc"}, "arch"),
        ("/api/projects/rz-app/1.0/dependencies", {"python": "banana"}, "python"),
        ("/api/projects/rz-app/1.0/dependencies", {"platform": "beos"}, "platform"),
    ],
)
def test_bad_parameters_are_400s_naming_them(
    fixtures: Fixtures, path: str, params: dict[str, str], parameter: str
) -> None:
    resp = httpx.get(f"{fixtures.index.url}{path}", params=params)
    assert resp.status_code == 400, resp.text
    assert f"'{parameter}'" in resp.text


def test_unknown_project_or_version_is_404(fixtures: Fixtures) -> None:
    url = fixtures.index.url
    assert httpx.get(f"{url}/api/projects/rz-nope/1.0/dependencies").status_code == 404
    assert httpx.get(f"{url}/api/projects/rz-app/9.9/dependencies").status_code == 404
    assert httpx.get(f"{url}/api/projects/rz-app/not-a-version/dependencies").status_code == 404


def test_cli_deps_prints_the_tree(fixtures: Fixtures) -> None:
    index = fixtures.index
    out = index.cli("deps", "rz-app==1.0", "--python", "3.11", "--platform", "linux").stdout
    lines = out.splitlines()
    assert lines[0] == "rz-app 1.0  [Python 3.11.0 on linux (x86_64)]"
    assert "  rz-a: 1.0" in lines
    assert "    rz-b<2,>=1: 1.5" in lines or "    rz-b>=1,<2: 1.5" in lines
    assert "      rz-c>=1: 1.1" in lines
    assert "  rz-ext[feat]: 1.0" in lines and '    rz-feat-dep>=2; extra == "feat": 2.1' in lines
    assert "    rz-c: 1.1 (*)" in lines
    assert not any("rz-win" in line for line in lines[1:])
    windows = index.cli("deps", "rz-app", "--platform", "windows").stdout
    assert '  rz-win; sys_platform == "win32": 1.0' in windows.splitlines()
    assert "  rz-plat: 2.0" in windows.splitlines()

    broken = index.cli("deps", "rz-broken", check=False)
    assert broken.returncode == 1
    assert "  rz-c: 1.1" in broken.stdout.splitlines()
    assert "rz-ghost>=1: UNSATISFIABLE (" in broken.stdout and "no project 'rz-ghost'" in broken.stdout
    missing = index.cli("deps", "rz-nope", check=False)
    assert missing.returncode == 1 and "No project 'rz-nope'" in missing.stderr
    bad = index.cli("deps", "rz-app", "--python", "2.7", check=False)
    assert bad.returncode != 0 and "'python'" in bad.stderr
