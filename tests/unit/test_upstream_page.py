"""The upstream page parser against real-shaped pages, pypi-simple's reading of them, and hostile bodies."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime
from typing import Any

import pypi_simple
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_index.upstream.page import (
    JSON_TYPE,
    UpstreamFile,
    UpstreamPageError,
    UpstreamProject,
    parse_index_page,
    parse_project_page,
)

PAGE = "https://pypi.example/simple/demo-pkg/"
WHEEL_SHA = "a1" * 32
WHEEL_MD5 = "b2" * 16
META_SHA = "c3" * 32
SDIST_SHA = "d4" * 32
OLD_SHA = "e5" * 32


def pypi_json() -> dict[str, Any]:
    """A project page shaped like PyPI's (api 1.4): every PEP 700/714/740/792 field in use."""
    return {
        "meta": {"api-version": "1.4", "_last-serial": 31337},
        "name": "demo-pkg",
        "versions": ["0.8", "0.9", "1.0", "2.0.dev1"],
        "project-status": {"status": "deprecated", "reason": 'use demo2 <now> & "later"'},
        "files": [
            {
                "filename": "demo_pkg-1.0-py3-none-any.whl",
                "url": "https://files.example/packages/aa/bb/demo_pkg-1.0-py3-none-any.whl",
                "hashes": {"sha256": WHEEL_SHA.upper(), "md5": WHEEL_MD5},
                "requires-python": ">=3.9,<4",
                "core-metadata": {"sha256": META_SHA},
                "data-dist-info-metadata": {"sha256": META_SHA},
                "size": 12345,
                "upload-time": "2026-01-02T03:04:05.123456Z",
                "yanked": False,
                "provenance": "https://pypi.example/integrity/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl/provenance",
            },
            {
                "filename": "demo_pkg-0.9.tar.gz",
                "url": "../../packages/cc/dd/demo_pkg-0.9.tar.gz#sha256=ignored",
                "hashes": {"sha256": SDIST_SHA},
                "requires-python": None,
                "core-metadata": False,
                "size": 999,
                "upload-time": "2025-12-01T00:00:00Z",
                "yanked": "broken build",
                "provenance": None,
            },
            {
                "filename": "demo_pkg-0.8-py3-none-any.whl",
                "url": "/packages/ee/ff/demo_pkg-0.8-py3-none-any.whl",
                "hashes": {"sha256": OLD_SHA},
                "dist-info-metadata": True,  # only the pre-PEP 714 key, no hash
                "size": 10,
                "yanked": True,
            },
        ],
    }


def json_body(doc: dict[str, Any] | None = None) -> bytes:
    return json.dumps(pypi_json() if doc is None else doc).encode()


HTML_PAGE = f"""<!DOCTYPE html>
<html><head>
<meta name="pypi:repository-version" content="1.4">
<meta name="pypi:project-status" content="archived">
<meta name="pypi:project-status-reason" content="moved to &lt;demo2&gt; &amp; friends">
<base href="https://mirror.example/root/">
<title>Links for demo-pkg</title></head>
<body><h1>Links for demo-pkg</h1>
<a href="pkgs/demo_pkg-1.0-py3-none-any.whl#sha256={WHEEL_SHA}" data-requires-python="&gt;=3.9,&lt;4" data-core-metadata="sha256={META_SHA}" data-dist-info-metadata="sha256={META_SHA}" data-gpg-sig="false" data-provenance="https://pypi.example/integrity/demo-pkg/1.0/w/provenance">demo_pkg-1.0-py3-none-any.whl</a><br>
<a href="/abs/demo_pkg-0.9.tar.gz#md5={WHEEL_MD5}" data-yanked="bad &quot;build&quot; &amp; &lt;worse&gt;">demo_pkg-0.9.tar.gz</a><br>
<a href="https://other.example/x/demo_pkg-0.8-py3-none-any.whl#sha256={OLD_SHA}" data-dist-info-metadata="true" data-yanked="">demo_pkg-0.8-py3-none-any.whl</a><br>
<a href="demo_pkg-0.7.tar.gz" data-yanked>demo_pkg-0.7.tar.gz</a>
<a name="no-href">not a file</a>
</body></html>
"""


def html_body() -> bytes:
    return HTML_PAGE.encode()


def _same_as_pypi_simple(
    ours: UpstreamFile, theirs: pypi_simple.DistributionPackage, *, metadata: bool = True
) -> None:
    """The fields both parsers know, compared one by one (``metadata``: core-metadata too)."""
    assert ours.filename == theirs.filename
    assert ours.url == theirs.url.partition("#")[0]
    assert ours.hashes == {k: v.lower() for k, v in theirs.digests.items()}
    assert ours.requires_python == theirs.requires_python
    assert ours.yanked == theirs.is_yanked
    assert ours.yanked_reason == (theirs.yanked_reason or "")
    if metadata:
        assert bool(ours.core_metadata) == bool(theirs.has_metadata)
    if metadata and isinstance(ours.core_metadata, dict):
        assert ours.core_metadata == theirs.metadata_digests
    assert ours.provenance == theirs.provenance_url
    if theirs.size is not None or ours.size is not None:
        assert ours.size == theirs.size
    if theirs.upload_time is not None or ours.upload_time is not None:
        assert ours.upload_time is not None and theirs.upload_time is not None
        assert datetime.fromisoformat(ours.upload_time) == theirs.upload_time


# ---------------------------------------------------------------------------------------------
# JSON


def test_json_page_matches_pypi_simple_field_by_field() -> None:
    body = json_body()
    ours = parse_project_page(body, JSON_TYPE, PAGE, "Demo.Pkg")
    theirs = pypi_simple.ProjectPage.from_json_data(json.loads(body), base_url=PAGE)
    assert len(ours.files) == len(theirs.packages) == 3
    for mine, other in zip(ours.files[:2], theirs.packages[:2], strict=True):
        _same_as_pypi_simple(mine, other)
    # pypi-simple's JSON reader ignores the pre-PEP 714 "dist-info-metadata" key, which PEP 714
    # tells clients to fall back to; every other field of that file still agrees.
    _same_as_pypi_simple(ours.files[2], theirs.packages[2], metadata=False)
    assert theirs.packages[2].has_metadata is None and ours.files[2].core_metadata is True
    assert ours.versions == tuple(theirs.versions or ())
    assert theirs.status is not None and ours.status == theirs.status.value
    assert ours.status_reason == theirs.status_reason
    assert ours.api_version == theirs.repository_version
    assert str(ours.last_serial) == str(theirs.last_serial)


def test_json_page_values() -> None:
    page = parse_project_page(json_body(), JSON_TYPE + "; charset=utf-8", PAGE, "demo_pkg")
    assert (page.name, page.normalized, page.format, page.api_version) == (
        "demo-pkg",
        "demo-pkg",
        "json",
        "1.4",
    )
    assert page.last_serial == 31337
    assert page.status == "deprecated" and page.status_reason == 'use demo2 <now> & "later"'
    wheel, sdist, old = page.files
    assert wheel == UpstreamFile(
        filename="demo_pkg-1.0-py3-none-any.whl",
        url="https://files.example/packages/aa/bb/demo_pkg-1.0-py3-none-any.whl",
        hashes={"sha256": WHEEL_SHA, "md5": WHEEL_MD5},  # every hash kept, hex lower-cased
        requires_python=">=3.9,<4",  # JSON is never HTML-unescaped
        core_metadata={"sha256": META_SHA},
        size=12345,
        upload_time="2026-01-02T03:04:05.123456Z",
        provenance="https://pypi.example/integrity/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl/provenance",
    )
    assert sdist.url == "https://pypi.example/packages/cc/dd/demo_pkg-0.9.tar.gz"  # resolved, no fragment
    assert (sdist.yanked, sdist.yanked_reason, sdist.core_metadata, sdist.requires_python) == (
        True,
        "broken build",
        False,
        None,
    )
    assert (old.yanked, old.yanked_reason, old.core_metadata, old.upload_time) == (True, "", True, None)
    assert old.url == "https://pypi.example/packages/ee/ff/demo_pkg-0.8-py3-none-any.whl"


def test_json_minimal_page_defaults() -> None:
    doc = {"name": "Demo-Pkg", "files": [{"filename": "demo_pkg-1.0.tar.gz", "url": "f", "hashes": {}}]}
    page = parse_project_page(json_body(doc), JSON_TYPE, PAGE, "demo-pkg")
    assert page == UpstreamProject(
        name="Demo-Pkg",
        normalized="demo-pkg",
        files=(UpstreamFile("demo_pkg-1.0.tar.gz", PAGE + "f", {}),),
        api_version="1.0",
        format="json",
    )


@pytest.mark.parametrize(
    ("given", "expected"), [("1.1", "1.1"), ("1.9", "1.9"), ("1", "1.0"), (" 1.04 ", "1.4")]
)
def test_json_api_versions_accepted(given: str, expected: str) -> None:
    doc = {**pypi_json(), "meta": {"api-version": given}}
    assert parse_project_page(json_body(doc), JSON_TYPE, PAGE, "demo-pkg").api_version == expected


def test_json_yanked_empty_string_is_not_yanked_as_pip_reads_it() -> None:
    doc = pypi_json()
    doc["files"][1]["yanked"] = ""
    assert parse_project_page(json_body(doc), JSON_TYPE, PAGE, "demo-pkg").files[1].yanked is False


def test_identical_duplicates_collapse() -> None:
    doc = pypi_json()
    doc["files"].append(dict(doc["files"][0]))
    page = parse_project_page(json_body(doc), JSON_TYPE, PAGE, "demo-pkg")
    assert [f.filename for f in page.files] == [
        "demo_pkg-1.0-py3-none-any.whl",
        "demo_pkg-0.9.tar.gz",
        "demo_pkg-0.8-py3-none-any.whl",
    ]


def _mutate(change: Any) -> bytes:
    doc = pypi_json()
    change(doc)
    return json_body(doc)


def _file0(key: str, value: Any) -> bytes:
    return _mutate(lambda d: d["files"][0].__setitem__(key, value))


HOSTILE_JSON: list[tuple[str, bytes, str]] = [
    ("not json", b"{nope", "not valid JSON"),
    ("not utf-8", b'{"name": "\xff"}', "not valid JSON"),
    ("nan", b'{"name": "demo-pkg", "files": [], "meta": {"_last-serial": NaN}}', "NaN"),
    ("deep", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("a list", b"[]", "must be an object"),
    ("major 2", _mutate(lambda d: d["meta"].__setitem__("api-version", "2.0")), "major version 1"),
    ("bad version", _mutate(lambda d: d["meta"].__setitem__("api-version", "one")), "MAJOR.MINOR"),
    ("other project", _mutate(lambda d: d.__setitem__("name", "demo-pkg2")), "not 'demo-pkg'"),
    ("kelvin sign", _mutate(lambda d: d.__setitem__("name", "demo-\u212a")), "not"),
    ("no name", _mutate(lambda d: d.pop("name")), "no 'name'"),
    ("files not list", _mutate(lambda d: d.__setitem__("files", {})), "files must be a list"),
    ("file not object", _mutate(lambda d: d["files"].append("x")), "must be an object"),
    ("no hashes", _mutate(lambda d: d["files"][0].pop("hashes")), "no 'hashes'"),
    ("slash", _file0("filename", "../evil.whl"), "path separator"),
    ("backslash", _file0("filename", "a\\b.whl"), "path separator"),
    ("empty filename", _file0("filename", ""), "empty"),
    ("dotdot filename", _file0("filename", ".."), "empty"),
    ("long filename", _file0("filename", "a" * 252 + ".whl"), "255"),
    ("long utf-8 filename", _file0("filename", "é" * 130 + ".whl"), "255 bytes"),
    ("control char", _file0("filename", "a\x00.whl"), "control"),
    (
        "surrogate",
        b'{"name": "demo-pkg", "files": [{"filename": "\\ud800.whl", "url": "u", "hashes": {}}]}',
        "Unicode",
    ),
    ("filename type", _file0("filename", 3), "must be a string"),
    ("javascript url", _file0("url", "javascript:alert(1)"), "http(s)"),
    ("file url", _file0("url", "file:///etc/passwd"), "http(s)"),
    ("tabbed javascript", _file0("url", "java\tscript:alert(1)"), "http(s)"),
    ("no host", _file0("url", "http:x.whl"), "http(s)"),
    ("bad ipv6", _file0("url", "https://[::1/x.whl"), "not a URL"),
    ("space in url", _file0("url", "https://h/a b.whl"), "spaces"),
    ("url type", _file0("url", None), "must be a string"),
    ("hash not hex", _file0("hashes", {"sha256": "z" * 64}), "not a hex digest"),
    ("sha256 short", _file0("hashes", {"sha256": "a" * 63}), "not 64"),
    ("sha256 long", _file0("hashes", {"sha256": "a" * 66}), "not 64"),
    ("md5 wrong", _file0("hashes", {"md5": "a" * 64}), "not 32"),
    ("hash name", _file0("hashes", {"sha-256": "a" * 64}), "not a hash algorithm"),
    ("hash case clash", _file0("hashes", {"sha256": "a" * 64, "SHA256": "b" * 64}), "two different"),
    ("hashes type", _file0("hashes", ["sha256"]), "must be an object"),
    ("hash value type", _file0("hashes", {"sha256": 5}), "must be a string"),
    ("core-metadata hash", _file0("core-metadata", {"sha256": "xyz"}), "not a hex digest"),
    ("core-metadata type", _file0("core-metadata", "yes"), "must be an object"),
    ("negative size", _file0("size", -1), "negative"),
    ("float size", _file0("size", 1.5), "must be an integer"),
    ("bool size", _file0("size", True), "must be an integer"),
    ("string size", _file0("size", "12"), "must be an integer"),
    ("yanked type", _file0("yanked", 1), "boolean or a string"),
    ("upload-time type", _file0("upload-time", 1700000000), "must be a string"),
    ("provenance scheme", _file0("provenance", "ftp://h/p"), "http(s)"),
    ("versions type", _mutate(lambda d: d.__setitem__("versions", "1.0")), "versions must be a list"),
    ("version type", _mutate(lambda d: d.__setitem__("versions", [1])), "must be a string"),
    ("status type", _mutate(lambda d: d.__setitem__("project-status", "archived")), "must be an object"),
    ("serial type", _mutate(lambda d: d["meta"].__setitem__("_last-serial", "7")), "_last-serial"),
    ("serial negative", _mutate(lambda d: d["meta"].__setitem__("_last-serial", -7)), "_last-serial"),
    ("meta type", _mutate(lambda d: d.__setitem__("meta", [])), "meta must be an object"),
    (
        "conflicting duplicate",
        _mutate(lambda d: d["files"].append({**d["files"][0], "url": "https://evil.example/x.whl"})),
        "listed twice",
    ),
    (
        "huge int",
        b'{"name": "demo-pkg", "files": [], "meta": {"_last-serial": ' + b"9" * 5000 + b"}}",
        "JSON",
    ),
]


@pytest.mark.parametrize(
    ("body", "message"), [(b, m) for _, b, m in HOSTILE_JSON], ids=[i for i, _, _ in HOSTILE_JSON]
)
def test_hostile_json_is_refused_by_name(body: bytes, message: str) -> None:
    with pytest.raises(UpstreamPageError, match=None) as err:
        parse_project_page(body, JSON_TYPE, PAGE, "demo-pkg")
    assert message in str(err.value)


def test_caps_on_bytes_and_files() -> None:
    body = json_body()
    with pytest.raises(UpstreamPageError, match="limit is 100"):
        parse_project_page(body, JSON_TYPE, PAGE, "demo-pkg", max_bytes=100)
    with pytest.raises(UpstreamPageError, match="limit is 2"):
        parse_project_page(body, JSON_TYPE, PAGE, "demo-pkg", max_files=2)
    with pytest.raises(UpstreamPageError, match="limit is 3"):
        parse_project_page(html_body(), "text/html", PAGE, "demo-pkg", max_files=3)
    assert len(parse_project_page(body, JSON_TYPE, PAGE, "demo-pkg", max_files=3).files) == 3


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("application/json", "not a Simple API page"),
        ("application/vnd.pypi.simple.v2+json", "major version 1"),
        ("", "not a Simple API page"),
    ],
)
def test_unknown_content_types_are_refused(content_type: str, message: str) -> None:
    with pytest.raises(UpstreamPageError, match=message):
        parse_project_page(json_body(), content_type, PAGE, "demo-pkg")


def test_page_url_must_be_http() -> None:
    with pytest.raises(UpstreamPageError, match="page_url"):
        parse_project_page(json_body(), JSON_TYPE, "file:///simple/demo-pkg/", "demo-pkg")


# ---------------------------------------------------------------------------------------------
# HTML


def test_html_page_matches_pypi_simple_field_by_field() -> None:
    ours = parse_project_page(html_body(), "text/html; charset=utf-8", PAGE, "demo-pkg")
    theirs = pypi_simple.ProjectPage.from_html("demo-pkg", html_body(), base_url=PAGE)
    assert len(ours.files) == len(theirs.packages) == 4
    for i, (mine, other) in enumerate(zip(ours.files, theirs.packages, strict=True)):
        # Anchor 2 has only data-dist-info-metadata (PEP 658's name), which pypi-simple ignores.
        _same_as_pypi_simple(mine, other, metadata=i != 2)
    assert theirs.packages[2].has_metadata is None and ours.files[2].core_metadata is True
    assert theirs.status is not None and ours.status == theirs.status.value
    assert ours.status_reason == theirs.status_reason
    assert ours.api_version == theirs.repository_version


def test_html_page_values() -> None:
    page = parse_project_page(html_body(), "application/vnd.pypi.simple.v1+html", PAGE, "demo-pkg")
    assert (page.name, page.format, page.api_version, page.versions, page.last_serial) == (
        "demo-pkg",
        "html",
        "1.4",
        None,
        None,
    )
    assert page.status == "archived" and page.status_reason == "moved to <demo2> & friends"
    wheel, sdist, old, bare = page.files
    assert wheel.url == "https://mirror.example/root/pkgs/demo_pkg-1.0-py3-none-any.whl"  # <base href>
    assert wheel.requires_python == ">=3.9,<4"  # entities unescaped
    assert wheel.core_metadata == {"sha256": META_SHA} and wheel.hashes == {"sha256": WHEEL_SHA}
    assert wheel.provenance == "https://pypi.example/integrity/demo-pkg/1.0/w/provenance"
    assert not wheel.yanked
    assert sdist.url == "https://mirror.example/abs/demo_pkg-0.9.tar.gz"
    assert sdist.hashes == {"md5": WHEEL_MD5}
    assert (sdist.yanked, sdist.yanked_reason) == (True, 'bad "build" & <worse>')
    assert (old.yanked, old.yanked_reason, old.core_metadata) == (True, "", True)  # presence yanks
    assert (bare.filename, bare.yanked, bare.hashes, bare.core_metadata) == (
        "demo_pkg-0.7.tar.gz",
        True,
        {},
        False,
    )


def test_html_without_version_meta_is_1_0_and_filename_comes_from_the_url() -> None:
    body = b'<a href="https://h/p/demo%2Bpkg-1.0.tar.gz?x=1#egg=demo&sha256=' + b"ab" * 32 + b'">text</a>'
    page = parse_project_page(body, "text/html", PAGE, "demo-pkg")
    assert page.api_version == "1.0"
    assert page.files == (
        UpstreamFile("demo+pkg-1.0.tar.gz", "https://h/p/demo%2Bpkg-1.0.tar.gz?x=1", {"sha256": "ab" * 32}),
    )


def _anchor(href: str, extra: str = "") -> bytes:
    return f'<html><body><a href="{href}" {extra}>x</a></body></html>'.encode()


HOSTILE_HTML: list[tuple[str, bytes, str]] = [
    ("javascript", _anchor("javascript:alert(1)//x.whl"), "http(s)"),
    ("entity javascript", _anchor("&#106;avascript:alert(1)"), "http(s)"),
    ("file", _anchor("file:///etc/x.whl"), "http(s)"),
    ("no filename", _anchor("https://h/dir/"), "empty"),
    ("encoded slash", _anchor("https://h/a%2F..%2Fb.whl"), "path separator"),
    ("bad hash", _anchor("x.whl#sha256=" + "g" * 64), "not a hex digest"),
    ("short hash", _anchor("x.whl#sha256=abcd"), "not 64"),
    ("bad core-metadata", _anchor("x.whl", 'data-core-metadata="maybe"'), "neither 'true'"),
    ("bad core hash", _anchor("x.whl", 'data-core-metadata="sha256=zz"'), "not a hex digest"),
    ("bad size", _anchor("x.whl", 'data-size="-3"'), "not a byte count"),
    ("bad provenance", _anchor("x.whl", 'data-provenance="javascript:x"'), "http(s)"),
    ("empty href", b"<a href>x</a>", "empty href"),
    (
        "major 2",
        b'<meta name="pypi:repository-version" content="2.0"><a href="x.whl">x</a>',
        "major version 1",
    ),
    ("bad base", b'<base href="javascript:x"><a href="x.whl">x</a>', "http(s)"),
    ("charset", b"<a href='x.whl'>x</a>", "not a text encoding"),
    ("not utf-8", b"<a href='\xff.whl'>x</a>", "not valid utf-8"),
    (
        "conflicting duplicate",
        _anchor("https://a/x.whl") + _anchor("https://b/x.whl"),
        "listed twice",
    ),
    ("unterminated tag", b"<a " * 100_000, "left open"),
    ("unterminated comment", b"<!--" * 100_000, "left open"),
    ("unterminated tail", b'<a href="x.whl">x</a><a href="' + b"y" * 5000, "ends inside"),
]


@pytest.mark.parametrize(
    ("body", "message"), [(b, m) for _, b, m in HOSTILE_HTML], ids=[i for i, _, _ in HOSTILE_HTML]
)
def test_hostile_html_is_refused_by_name(body: bytes, message: str) -> None:
    content_type = "text/html; charset=rot13" if message == "not a text encoding" else "text/html"
    with pytest.raises(UpstreamPageError) as err:
        parse_project_page(body, content_type, PAGE, "demo-pkg")
    assert message in str(err.value)


def test_unterminated_markup_is_refused_in_linear_time() -> None:
    """Unguarded, html.parser needs about a minute for 60 KB of "<a " (CPython gh-135462)."""
    started = time.perf_counter()
    for unit in (b"<a ", b"<!--", b"<![CDATA[", b"</", b"<?", b"<script>"):
        with pytest.raises(UpstreamPageError):
            parse_project_page(unit * (2_000_000 // len(unit)), "text/html", PAGE, "demo-pkg")
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------------------------------------
# Root index


def test_index_json_matches_pypi_simple() -> None:
    doc = {
        "meta": {"api-version": "1.4", "_last-serial": 9},
        "projects": [{"name": "Demo.Pkg", "_last-serial": 3}, {"name": "other"}, {"name": "demo_pkg"}],
    }
    body = json.dumps(doc).encode()
    theirs = pypi_simple.IndexPage.from_json_data(doc)
    ours = parse_index_page(body, JSON_TYPE)
    assert ours == ("Demo.Pkg", "other")  # the first spelling of a normalized name is kept
    assert list(ours) == [p for p in theirs.projects if p != "demo_pkg"]


def test_index_html_matches_pypi_simple() -> None:
    body = (
        b'<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.0"></head><body>'
        b'<a href="/simple/demo-pkg/">Demo.Pkg</a><br><a href="/simple/b/"> b </a>'
        b'<a href="/simple/c-d/">c&#95;d</a></body></html>'
    )
    theirs = pypi_simple.IndexPage.from_html(body)
    ours = parse_index_page(body, "text/html")
    assert ours == ("Demo.Pkg", "b", "c_d")
    assert list(ours) == [p.strip() for p in theirs.projects]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'{"projects": {}}', JSON_TYPE, "projects must be a list"),
        (b'{"projects": [{"nom": "x"}]}', JSON_TYPE, "with a 'name'"),
        (b'{"projects": [{"name": "bad name!"}]}', JSON_TYPE, "not a valid project name"),
        (b'{"projects": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}', JSON_TYPE, "limit is 2"),
        (b'<a href="/simple/x/">x y</a>', "text/html", "not a valid project name"),
        (b'<a href="/a/">a</a><a href="/b/">b</a><a href="/c/">c</a>', "text/html", "limit is 2"),
        (b"[]", JSON_TYPE, "must be an object"),
        (
            b'<meta name="pypi:repository-version" content="2.1"><a href="/a/">a</a>',
            "text/html",
            "major version 1",
        ),
        (b'{"meta": {"api-version": "3.0"}, "projects": []}', JSON_TYPE, "major version 1"),
    ],
)
def test_hostile_index_is_refused(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(UpstreamPageError, match=message):
        parse_index_page(body, content_type, max_projects=2)


def test_index_byte_cap() -> None:
    with pytest.raises(UpstreamPageError, match="limit is 10"):
        parse_index_page(b'{"projects": []}', JSON_TYPE, max_bytes=10)


# ---------------------------------------------------------------------------------------------
# Fuzz: whatever arrives, the answer is a checked page or UpstreamPageError


_json_leaf = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
_json_any = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_file_keys = st.sampled_from(
    [
        "filename",
        "url",
        "hashes",
        "requires-python",
        "yanked",
        "core-metadata",
        "dist-info-metadata",
        "size",
        "upload-time",
        "provenance",
    ]
)
_hostile_files = st.lists(
    st.fixed_dictionaries(
        {
            "filename": st.sampled_from(["a.whl", "", "../a", "b.tar.gz"]) | st.text(max_size=8),
            "url": st.text(max_size=30),
            "hashes": _json_any,
        }
    ).flatmap(
        lambda base: st.dictionaries(_file_keys, _json_any, max_size=4).map(lambda extra: {**base, **extra})
    ),
    max_size=4,
)


def _check_invariants(page: UpstreamProject | tuple[str, ...]) -> None:
    if isinstance(page, tuple):
        assert all(isinstance(name, str) and name for name in page)
        return
    for f in page.files:
        assert f.url.startswith(("http://", "https://")) and "#" not in f.url
        assert f.filename and "/" not in f.filename and "\\" not in f.filename
        assert all(set(v) <= set("0123456789abcdef") for v in f.hashes.values())
        assert f.size is None or f.size >= 0


def _parse_or_refuse(body: bytes, content_type: str) -> None:
    with contextlib.suppress(UpstreamPageError):
        _check_invariants(parse_project_page(body, content_type, PAGE, "demo-pkg", max_files=50))
    with contextlib.suppress(UpstreamPageError):
        _check_invariants(parse_index_page(body, content_type, max_projects=50))


_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.binary(max_size=300), st.sampled_from([JSON_TYPE, "text/html", "text/html; charset=latin-1"]))
def test_fuzz_random_bytes(body: bytes, content_type: str) -> None:
    _parse_or_refuse(body, content_type)


@_FUZZ
@given(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["demo-pkg", "Demo_Pkg", "other"]) | _json_any,
            "files": _hostile_files | _json_any,
        },
        optional={
            "meta": _json_any,
            "versions": _json_any,
            "project-status": _json_any,
            "projects": _json_any,
        },
    )
)
def test_fuzz_json_shaped_bodies(doc: dict[str, Any]) -> None:
    _parse_or_refuse(json.dumps(doc).encode(), JSON_TYPE)


_html_token = st.sampled_from(
    [
        "<a ",
        "<a href=",
        'href="x.whl"',
        "href='https://h/d.whl#sha256=" + "a" * 64 + "'",
        "data-yanked",
        'data-core-metadata="',
        "sha256=",
        "true",
        'data-size="',
        "data-provenance=",
        "javascript:",
        "file:",
        ">",
        "</a>",
        "<",
        "&",
        "&gt;",
        "&#0;",
        '"',
        "'",
        "=",
        "<!--",
        "-->",
        "<base href=",
        '<meta name="pypi:repository-version" content="',
        "1.4",
        "2.0",
        "<script>",
        "</script>",
        "%2F",
        "/",
        "\\",
        " ",
        "\x00",
    ]
)


@_FUZZ
@given(st.lists(_html_token | st.text(max_size=5), max_size=40).map("".join))
def test_fuzz_html_shaped_bodies(text: str) -> None:
    _parse_or_refuse(text.encode("utf-8", "surrogatepass"), "text/html")
