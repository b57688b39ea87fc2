"""GET /api/search against a real server: ranking, filters, pagination, other instances' uploads."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from registry_index.testing import WheelSpec, build_wheel, metadata_text
from tests.conftest import Index


def wheel(
    tmp: Path,
    name: str,
    summary: str,
    *,
    keywords: str = "",
    classifier: str = "",
    requires_python: str | None = None,
    author: str = "",
) -> Path:
    extra = [("Keywords", keywords)] if keywords else []
    extra += [("Classifier", classifier)] if classifier else []
    extra += [("Author-email", author)] if author else []
    text = metadata_text(name, "1.0", summary=summary, requires_python=requires_python, extra=extra)
    return build_wheel(tmp, WheelSpec(name, "1.0", metadata=text))


def test_search_ranks_filters_and_pages(index: Index, tmp_path: Path) -> None:
    index.twine(
        wheel(tmp_path, "findme", "The exact one", keywords="alpha,beta"),
        wheel(
            tmp_path,
            "findme-plugin",
            "A plugin",
            keywords="beta",
            classifier="Programming Language :: Python :: 3 :: Only",
            requires_python=">=3.12",
        ),
        wheel(tmp_path, "other-thing", "Works with findme nicely", author="Carol <carol@example.com>"),
    )
    url = f"{index.url}/api/search"
    doc = httpx.get(url, params={"q": "FindMe"}).json()
    assert [r["normalized"] for r in doc["results"]] == ["findme", "findme-plugin", "other-thing"]
    assert doc["total"] == 3 and doc["results"][0]["version"] == "1.0"
    assert [
        r["normalized"] for r in httpx.get(url, params={"q": "findme", "keyword": "beta"}).json()["results"]
    ] == ["findme", "findme-plugin"]
    only3 = httpx.get(url, params={"classifier": "Programming Language :: Python :: 3 :: Only"}).json()
    assert [r["normalized"] for r in only3["results"]] == ["findme-plugin"]
    py311 = httpx.get(url, params={"q": "findme", "requires_python": "3.11"}).json()
    assert "findme-plugin" not in [r["normalized"] for r in py311["results"]]
    assert [r["normalized"] for r in httpx.get(url, params={"author": "carol@"}).json()["results"]] == [
        "other-thing"
    ]
    page1 = httpx.get(url, params={"q": "findme", "per_page": 2}).json()
    page2 = httpx.get(page1["next"]).json()
    assert len(page1["results"]) == 2 and [r["normalized"] for r in page2["results"]] == ["other-thing"]
    assert page2["next"] is None and page2["prev"]
    for params, name in (
        ({"page": "x"}, "page"),
        ({"per_page": "0"}, "per_page"),
        ({"requires_python": "three"}, "requires_python"),
    ):
        resp = httpx.get(url, params=params)
        assert resp.status_code == 400 and name in resp.text


def test_another_instances_upload_becomes_searchable(index: Index, tmp_path: Path) -> None:
    with index.start_server(tmp_path / "second.log", "--search-refresh", "0.5") as second:
        index.twine(wheel(tmp_path, "late-arrival", "Uploaded through the first instance"))
        deadline = time.monotonic() + 10
        while True:
            found = httpx.get(f"{second.url}/api/search", params={"q": "late-arrival"}).json()["results"]
            if found:
                break
            assert time.monotonic() < deadline, "the second instance never saw the upload"
            time.sleep(0.2)
        assert found[0]["normalized"] == "late-arrival"
