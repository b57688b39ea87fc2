from __future__ import annotations

import json

from registry_index.domain.model import FileEntry, Project, ProjectIndex, Release
from registry_index.simple import build, render
from registry_index.testing import placeholder_entry


def _entry(filename: str, version: str, **kw: object) -> FileEntry:
    base: dict[str, object] = dict(
        packagetype="bdist_wheel", python_version="py3", size=10, upload_time="2026-01-02T03:04:05.123456Z"
    )
    return placeholder_entry(filename, version, **{**base, **kw})


def _project(**kw: object) -> Project:
    files = (
        _entry("demo-1.0-py3-none-any.whl", "1.0", requires_python=">=3.9", core_metadata_sha256="d" * 64),
        _entry("demo-0.9.tar.gz", "0.9", packagetype="sdist", sha256="e" * 64),
    )
    releases = {
        "1": Release("1.0"),
        "0.9": Release("0.9", yanked=True, yanked_reason='broken <"&> build'),
    }
    return Project(
        name="Demo", normalized="demo", created="x", files=files, releases=releases, serial=3, **kw
    )  # type: ignore[arg-type]


def test_project_json_shape() -> None:
    doc = json.loads(render.project_json(build.build_project(_project())))
    assert doc["meta"] == {"api-version": "1.4", "_last-serial": 3}
    assert doc["name"] == "demo"
    assert sorted(doc["versions"]) == ["0.9", "1.0"]
    wheel, sdist = doc["files"]
    assert wheel["requires-python"] == ">=3.9"  # JSON is never HTML-escaped
    assert wheel["core-metadata"] == {"sha256": "d" * 64}
    assert wheel["yanked"] is False and wheel["size"] == 10
    assert wheel["upload-time"].endswith("Z")
    assert "requires-python" not in sdist and sdist["core-metadata"] is False
    assert sdist["yanked"] == 'broken <"&> build'
    assert "dist-info-metadata" not in wheel
    assert doc["project-status"] == {"status": "active"}
    assert wheel["url"] == f"/files/demo/{'a' * 64}/demo-1.0-py3-none-any.whl"


def test_project_html_escapes_and_flags() -> None:
    html = render.project_html(build.build_project(_project())).decode()
    assert '<meta name="pypi:repository-version" content="1.4">' in html
    assert 'data-requires-python="&gt;=3.9"' in html
    assert f'data-core-metadata="sha256={"d" * 64}" data-dist-info-metadata="sha256={"d" * 64}"' in html
    assert 'data-yanked="broken &lt;&quot;&amp;&gt; build"' in html
    assert html.count("data-yanked") == 1
    assert "pypi:project-status" not in html  # active needs no tag


def test_quarantined_lists_nothing_and_says_why() -> None:
    project = _project(status="quarantined", status_reason="malware")
    doc = build.build_project(project)
    assert doc["files"] == []
    assert doc["project-status"] == {"status": "quarantined", "reason": "malware"}
    html = render.project_html(doc).decode()
    assert '<meta name="pypi:project-status" content="quarantined">' in html
    assert '<meta name="pypi:project-status-reason" content="malware">' in html


def test_index_hides_quarantined_and_sorts() -> None:
    index = ProjectIndex({"b": "B", "a": "A.x", "q": "Q"}, frozenset({"q"}), serial=7)
    doc = build.build_index(index)
    assert json.loads(render.index_json(doc)) == {
        "meta": {"api-version": "1.4", "_last-serial": 7},
        "projects": [{"name": "A.x"}, {"name": "B"}],
    }
    html = render.index_html(doc, "/simple/").decode()
    assert '<a href="/simple/a/">A.x</a>' in html and "/simple/q/" not in html


def test_filename_is_percent_encoded_in_url() -> None:
    project = Project(
        name="d",
        normalized="d",
        created="x",
        files=(_entry("d-1.0+local-py3-none-any.whl", "1.0+local"),),
        releases={"1+local": Release("1.0+local")},
    )
    doc = build.build_project(project)
    assert doc["files"][0]["url"].endswith("/d-1.0%2Blocal-py3-none-any.whl")
