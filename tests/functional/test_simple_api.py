"""The Simple API on the wire (PEP 503, 592, 629, 658, 691, 700, 714, 792) against a real server."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypi_simple import DistributionPackage, ProjectPage, PyPISimple

from registry_index.testing import WheelSpec, build_sdist, build_wheel, legacy_form, metadata_text
from tests.conftest import BIN, Account, Index, wait_until

V1_JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
)
UV_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
YANK_REASON = 'broken & "bad" <build>'
UPLOAD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


# -- helpers ---------------------------------------------------------------------------------


class Page(HTMLParser):
    """Anchors and meta tags of an HTML page, attribute values unescaped."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.metas: dict[str, str | None] = {}
        self._open: dict[str, str | None] | None = None
        self._text = ""
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), ""
        elif tag == "meta":
            values = dict(attrs)
            if values.get("name"):
                self.metas[str(values["name"])] = values.get("content")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, self._text))
            self._open = None

    def by_text(self) -> dict[str, dict[str, str | None]]:
        return {text: attrs for attrs, text in self.anchors}


def get(url: str, accept: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if accept is not None:
        headers["Accept"] = accept
    return httpx.get(url, headers=headers, timeout=30, **kwargs)


def project_json(index: Index, name: str) -> dict[str, Any]:
    resp = get(f"{index.simple}{name}/", V1_JSON)
    assert resp.status_code == 200, (resp.status_code, resp.text)
    doc: dict[str, Any] = resp.json()
    return doc


def absolute(index: Index, url: str) -> str:
    return str(httpx.URL(index.simple).join(url))


def post_upload(url: str, path: Path, auth: tuple[str, str]) -> httpx.Response:
    fields, files = legacy_form(path)
    return httpx.post(url, data=fields, files=files, auth=auth, timeout=60)


def twine(index: Index, *files: Path, account: Account | None = None, check: bool = True) -> Any:
    return index.twine(*files, account=account, check=check)


def wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        (member,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return zf.read(member)


# -- the published project every test reads -------------------------------------------------


@dataclass
class Demo:
    wheel: Path
    sdist: Path
    yanked: Path
    metadata: bytes

    @property
    def all(self) -> list[Path]:
        return [self.wheel, self.sdist, self.yanked]


@pytest.fixture(scope="module")
def demo(index: Index, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    tmp = tmp_path_factory.mktemp("demo")
    # Unusual but valid bytes: non-ASCII, CRLF line ends, trailing blanks in the description.
    text = metadata_text("api-demo", "1.0", summary="Démo ünïcode ✓", requires_python=">=3.9")
    text = text.replace("\n", "\r\n") + "A description  \r\n\twith odd   spacing.  \r\n"
    wheel = build_wheel(tmp, WheelSpec("api-demo", "1.0", metadata=text))
    sdist = build_sdist(tmp, "api-demo", "1.0", requires_python=">=3.9")
    yanked = build_wheel(tmp, WheelSpec("api-demo", "2.0"))
    twine(index, wheel, sdist, yanked)
    index.cli("yank", "api-demo", "2.0", "--reason", YANK_REASON)
    wait_until(
        lambda: any(f["yanked"] for f in project_json(index, "api-demo")["files"]),
        what="the yank to show",
    )
    return Demo(wheel, sdist, yanked, text.encode())


# -- content negotiation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [
        PIP_ACCEPT,
        UV_ACCEPT,
        V1_JSON,
        "application/vnd.pypi.simple.latest+json",
        "text/html;q=0.5, application/vnd.pypi.simple.v1+json",  # q-values, not list order
    ],
)
@pytest.mark.parametrize("path", ["", "api-demo/"])
def test_json_for_json_preferring_clients(index: Index, demo: Demo, accept: str, path: str) -> None:
    resp = get(index.simple + path, accept)
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0].strip() == V1_JSON
    doc = resp.json()
    assert doc["meta"]["api-version"] == "1.4"
    assert ("files" in doc) == bool(path)


@pytest.mark.parametrize("accept", [None, "", "*/*", "text/html", "text/*", "text/html, */*;q=0.1"])
@pytest.mark.parametrize("path", ["", "api-demo/"])
def test_html_by_default(index: Index, demo: Demo, accept: str | None, path: str) -> None:
    resp = get(index.simple + path, accept)
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0].strip() == "text/html"
    assert resp.text.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize("accept", [V1_HTML, "application/vnd.pypi.simple.latest+html"])
def test_v1_html_is_answered_as_v1_html(index: Index, demo: Demo, accept: str) -> None:
    resp = get(index.simple + "api-demo/", accept)
    assert resp.headers["content-type"].split(";")[0].strip() == V1_HTML
    assert "<a " in resp.text


def test_format_query_parameter_takes_precedence(index: Index, demo: Demo) -> None:
    as_json = get(index.simple + "api-demo/", "text/html", params={"format": V1_JSON})
    assert as_json.headers["content-type"].split(";")[0] == V1_JSON
    assert as_json.json()["name"] == "api-demo"
    as_html = get(index.simple + "api-demo/", PIP_ACCEPT, params={"format": "text/html"})
    assert as_html.headers["content-type"].split(";")[0] == "text/html"
    root = get(index.simple, None, params={"format": V1_JSON})
    assert root.headers["content-type"].split(";")[0] == V1_JSON


def test_vary_etag_and_conditional_requests(index: Index, demo: Demo) -> None:
    url = index.simple + "api-demo/"
    as_json = get(url, PIP_ACCEPT)
    as_html = get(url, "text/html")
    for resp in (as_json, as_html):
        assert "accept" in [v.strip().lower() for v in resp.headers["vary"].split(",")]
        assert resp.headers.get("etag")
    assert as_json.headers["etag"] != as_html.headers["etag"]

    again = get(url, PIP_ACCEPT, headers={"If-None-Match": as_json.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == as_json.headers["etag"]
    # The JSON ETag must not validate the HTML representation.
    other = get(url, "text/html", headers={"If-None-Match": as_json.headers["etag"]})
    assert other.status_code == 200
    assert other.content == as_html.content
    stale = get(url, PIP_ACCEPT, headers={"If-None-Match": '"not-the-etag"'})
    assert stale.status_code == 200 and stale.content == as_json.content

    root = get(index.simple, UV_ACCEPT)
    assert root.headers.get("etag")
    assert get(index.simple, UV_ACCEPT, headers={"If-None-Match": root.headers["etag"]}).status_code == 304


def test_keep_alive_connection_answers_head_304_and_get_in_turn(index: Index, demo: Demo) -> None:
    """The server holds a response head to send it with the body: a HEAD or a 304 (no body)
    must still reach the client at once, and the next response on the connection follow."""
    url = httpx.URL(index.simple + "api-demo/")
    etag = get(str(url), "text/html", headers={"Accept-Encoding": "identity"}).headers["etag"]
    requests = [
        f"HEAD {url.path} HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET {url.path} HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n",
        f"GET {url.path} HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    with socket.create_connection((url.host, url.port or 80), timeout=5) as sock:
        answers = []
        for request in requests:
            sock.sendall(request.encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)  # a held head would time out here
                assert chunk, "connection closed"
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = (
                int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
                if b"content-length" in head.lower()
                else 0
            )  # type: ignore[union-attr]
            if request.startswith("GET") and b" 200 " in head.split(b"\r\n")[0]:
                while len(body) < length:
                    body += sock.recv(65536)
            answers.append((head.split(b"\r\n")[0], len(body)))
    assert answers[0][0] == b"HTTP/1.1 200 OK" and answers[0][1] == 0
    assert answers[1][0] == b"HTTP/1.1 304 Not Modified" and answers[1][1] == 0
    assert answers[2][0] == b"HTTP/1.1 200 OK" and answers[2][1] > 0


def _raw_exchange(host: str, port: int, request: bytes) -> tuple[list[bytes], bytes]:
    """One request on a fresh connection: the head's lines and the body (by content-length)."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "connection closed"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed"
            body += chunk
    return head.split(b"\r\n"), body


@pytest.mark.parametrize("accept", ["text/html", V1_JSON])
def test_a_warm_page_written_by_the_server_matches_the_routes_answer(
    index: Index, demo: Demo, accept: str
) -> None:
    """A keep-alive GET of a warm page is written by the server protocol itself; with
    ``Connection: close`` the same request goes through the routes. Same status, fields
    and body, but for the Date and the Connection field."""
    url = httpx.URL(index.simple + "api-demo/")
    get(str(url), accept)  # warm
    request = f"GET {url.path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n"
    fast = _raw_exchange(url.host, url.port or 80, (request + "\r\n").encode())
    routed = _raw_exchange(url.host, url.port or 80, (request + "Connection: close\r\n\r\n").encode())

    def fields(head: list[bytes]) -> set[bytes]:
        return {line.lower() for line in head[1:] if not line.lower().startswith((b"date:", b"connection:"))}

    assert fast[0][0] == routed[0][0] == b"HTTP/1.1 200 OK"
    assert fields(fast[0]) == fields(routed[0])
    assert any(line.lower().startswith(b"date: ") for line in fast[0])
    assert fast[1] == routed[1] and fast[1]


def test_repository_version_is_advertised(index: Index, demo: Demo) -> None:
    for url in (index.simple, index.simple + "api-demo/"):
        page = Page(get(url, "text/html").text)
        assert page.metas["pypi:repository-version"] == "1.4"
        assert get(url, V1_JSON).json()["meta"]["api-version"] == "1.4"


# -- page contents ---------------------------------------------------------------------------


def test_json_project_page(index: Index, demo: Demo) -> None:
    resp = get(index.simple + "api-demo/", V1_JSON)
    doc = resp.json()
    assert doc["name"] == "api-demo"
    assert sorted(doc["versions"]) == ["1.0", "2.0"]
    assert "dist-info-metadata" not in resp.text and "data-dist-info-metadata" not in resp.text
    files = {f["filename"]: f for f in doc["files"]}
    assert set(files) == {p.name for p in demo.all}
    for path in demo.all:
        f = files[path.name]
        data = path.read_bytes()
        assert f["hashes"] == {"sha256": hashlib.sha256(data).hexdigest()}
        assert f["size"] == len(data) and isinstance(f["size"], int)
        assert isinstance(f["upload-time"], str) and UPLOAD_TIME.match(f["upload-time"]), f["upload-time"]
        for key in ("size", "upload-time", "yanked", "hashes", "filename", "url"):
            assert f.get(key) is not None, (key, f)
        assert "dist-info-metadata" not in f
        body = get(absolute(index, f["url"])).content
        assert body == data
    assert files[demo.wheel.name]["yanked"] is False
    assert files[demo.sdist.name]["yanked"] is False
    assert files[demo.yanked.name]["yanked"] == YANK_REASON
    assert files[demo.wheel.name]["requires-python"] == ">=3.9"  # no HTML escaping in JSON
    assert files[demo.sdist.name]["requires-python"] == ">=3.9"
    assert files[demo.wheel.name]["core-metadata"] == {"sha256": hashlib.sha256(demo.metadata).hexdigest()}
    assert files[demo.yanked.name]["core-metadata"] == {
        "sha256": hashlib.sha256(wheel_metadata(demo.yanked)).hexdigest()
    }
    assert files[demo.sdist.name]["core-metadata"] is False


def test_json_root_lists_projects(index: Index, demo: Demo) -> None:
    doc = get(index.simple, V1_JSON).json()
    assert {"name": "api-demo"} in doc["projects"]
    assert all(
        set(p) == {"name"} or all(k.startswith("_") for k in set(p) - {"name"}) for p in doc["projects"]
    )
    page = Page(get(index.simple).text)
    assert page.by_text()["api-demo"]["href"] in (
        "/simple/api-demo/",
        index.simple + "api-demo/",
        "api-demo/",
    )


def test_html_project_page(index: Index, demo: Demo) -> None:
    resp = get(index.simple + "api-demo/", "text/html")
    text = resp.text
    page = Page(text)
    anchors = page.by_text()
    assert set(anchors) == {p.name for p in demo.all}
    assert len(page.anchors) == 3
    for path in demo.all:
        attrs = anchors[path.name]
        href = str(attrs["href"])
        url, _, fragment = href.partition("#")
        assert fragment == f"sha256={hashlib.sha256(path.read_bytes()).hexdigest()}"
        assert url.rsplit("/", 1)[-1] == path.name
        assert get(absolute(index, url)).content == path.read_bytes()

    # Raw text: the specifier is escaped, as PEP 503 requires.
    assert text.count('data-requires-python="&gt;=3.9"') == 2
    assert ">=3.9" not in text
    assert anchors[demo.wheel.name]["data-requires-python"] == ">=3.9"
    assert "data-requires-python" not in anchors[demo.yanked.name]

    # data-yanked only on the yanked file, with the reason escaped in the markup.
    assert "data-yanked" not in anchors[demo.wheel.name]
    assert "data-yanked" not in anchors[demo.sdist.name]
    assert anchors[demo.yanked.name]["data-yanked"] == YANK_REASON
    assert text.count("data-yanked") == 1
    assert 'data-yanked="broken &amp; &quot;bad&quot; &lt;build&gt;"' in text

    # PEP 658 / 714: both names, same value, wheels only.
    for wheel in (demo.wheel, demo.yanked):
        attrs = anchors[wheel.name]
        expected = f"sha256={hashlib.sha256(wheel_metadata(wheel)).hexdigest()}"
        assert attrs["data-core-metadata"] == expected
        assert attrs["data-dist-info-metadata"] == attrs["data-core-metadata"]
    assert "data-core-metadata" not in anchors[demo.sdist.name]
    assert "data-dist-info-metadata" not in anchors[demo.sdist.name]


def test_metadata_file_is_the_wheels_own_bytes(index: Index, demo: Demo, tmp_path: Path) -> None:
    files = {f["filename"]: f for f in project_json(index, "api-demo")["files"]}
    for wheel in (demo.wheel, demo.yanked):
        entry = files[wheel.name]
        resp = get(absolute(index, entry["url"]) + ".metadata")
        assert resp.status_code == 200
        assert resp.content == wheel_metadata(wheel)
        assert hashlib.sha256(resp.content).hexdigest() == entry["core-metadata"]["sha256"]
        assert resp.headers.get("etag")
        assert "immutable" in resp.headers["cache-control"]
    wheel_url = absolute(index, files[demo.wheel.name]["url"])
    assert get(wheel_url + ".metadata").content == demo.metadata
    assert b"\r\n" in demo.metadata and "ü".encode() in demo.metadata
    # pip checks the .metadata against the wheel it then downloads (an error if they differ).
    target = tmp_path / "target"
    index.run(BIN / "pip", "install", "--no-cache-dir", "--target", target, "--index-url", index.simple,
              "api-demo==1.0")  # fmt: skip
    assert (target / "api_demo" / "__init__.py").read_text() == "__version__ = '1.0'\n"
    # Never for sdists (PEP 658 as PyPI applies it).
    sdist_url = absolute(index, files[demo.sdist.name]["url"])
    assert get(sdist_url + ".metadata").status_code == 404


# -- file downloads --------------------------------------------------------------------------


def _max_age(cache_control: str) -> int:
    match = re.search(r"max-age=(\d+)", cache_control)
    assert match, cache_control
    return int(match[1])


def test_file_download_headers_head_and_range(index: Index, demo: Demo) -> None:
    files = {f["filename"]: f for f in project_json(index, "api-demo")["files"]}
    types = {demo.wheel.name: {"application/zip", "application/octet-stream", "binary/octet-stream"}}
    types[demo.sdist.name] = {
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/octet-stream",
    }
    for path in (demo.wheel, demo.sdist):
        data = path.read_bytes()
        url = absolute(index, files[path.name]["url"])
        resp = get(url)
        assert resp.status_code == 200
        assert resp.content == data
        assert resp.headers["content-type"].split(";")[0] in types[path.name]
        assert int(resp.headers["content-length"]) == len(data)
        etag = resp.headers["etag"]
        assert etag
        cache = resp.headers["cache-control"]
        assert "immutable" in cache and _max_age(cache) >= 30 * 86400

        head = httpx.head(url)
        assert head.status_code == 200
        assert head.content == b""
        assert int(head.headers["content-length"]) == len(data)
        assert head.headers["etag"] == etag
        assert head.headers["content-type"] == resp.headers["content-type"]

        part = get(url, headers={"Range": "bytes=0-9"})
        assert part.status_code == 206
        assert part.content == data[:10]
        assert part.headers["content-range"] == f"bytes 0-9/{len(data)}"
        assert int(part.headers["content-length"]) == 10
        tail = get(url, headers={"Range": "bytes=-7"})
        assert tail.status_code == 206 and tail.content == data[-7:]
        beyond = get(url, headers={"Range": f"bytes={len(data) + 5}-"})
        assert beyond.status_code == 416

        assert get(url, headers={"If-None-Match": etag}).status_code == 304

    page_head = httpx.head(index.simple + "api-demo/", headers={"Accept": V1_JSON})
    assert page_head.status_code == 200 and page_head.content == b""
    assert page_head.headers["content-type"].startswith(V1_JSON) and page_head.headers["etag"]


def test_unknown_project_and_file_give_404(index: Index, demo: Demo) -> None:
    for accept in (None, "text/html", PIP_ACCEPT, UV_ACCEPT):
        assert get(index.simple + "no-such-project/", accept).status_code == 404
    assert get(index.simple + "No_Such.Project/", follow_redirects=True).status_code == 404
    wheel_url = absolute(index, project_json(index, "api-demo")["files"][0]["url"])
    base, name = wheel_url.rsplit("/", 1)
    assert get(base + "/missing-1.0-py3-none-any.whl").status_code == 404
    wrong_digest = re.sub(r"/[0-9a-f]{64}/", "/" + "0" * 64 + "/", wheel_url)
    assert wrong_digest != wheel_url
    assert get(wrong_digest).status_code == 404
    assert get(f"{index.url}/files/no-such-project/{'0' * 64}/{name}").status_code == 404


def test_slashless_and_local_version_urls(index: Index, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, WheelSpec("plus-local", "1.0+abc"))
    twine(index, wheel)
    slashless = get(index.simple + "plus-local", V1_JSON, follow_redirects=True)
    assert slashless.status_code == 200 and slashless.url.path == "/simple/plus-local/"
    assert get(index.simple + "plus-local", follow_redirects=False).status_code in (301, 307, 308)
    (attrs, text), *_ = Page(get(index.simple + "plus-local/").text).anchors
    assert text == wheel.name == "plus_local-1.0+abc-py3-none-any.whl"
    url = absolute(index, str(attrs["href"]).partition("#")[0])
    assert "%2B" in url and "+" not in url.rsplit("/", 1)[-1]
    for variant in (url, url.replace("%2B", "+")):
        resp = get(variant)
        assert resp.status_code == 200 and resp.content == wheel.read_bytes(), variant
        assert get(variant + ".metadata").content == wheel_metadata(wheel)
    target = tmp_path / "target"
    index.run(BIN / "pip", "install", "--no-cache-dir", "--target", target, "--index-url", index.simple,
              "plus-local==1.0+abc")  # fmt: skip
    assert (target / "plus_local" / "__init__.py").read_text() == "__version__ = '1.0+abc'\n"
    assert httpx.post(index.simple, data={"a": "b"}).status_code == 405


# -- PEP 792 project statuses ----------------------------------------------------------------


def _status(index: Index, name: str) -> Any:
    return project_json(index, name).get("project-status", {}).get("status", "active")


def test_project_status_markers(index: Index, tmp_path: Path) -> None:
    wheels = {
        status: build_wheel(tmp_path, WheelSpec(f"st-{status}", "1.0"))
        for status in ("archived", "quarantined", "deprecated")
    }
    twine(index, *wheels.values())
    before = {s: project_json(index, f"st-{s}")["files"][0] for s in wheels}
    active = project_json(index, "st-archived")
    assert active.get("project-status", {"status": "active"})["status"] == "active"
    metas = Page(get(index.simple + "st-archived/").text).metas
    assert metas.get("pypi:project-status", "active") == "active"

    for status in wheels:
        index.cli("status", f"st-{status}", status, "--reason", f"{status} because <reasons> & more")
    for status in wheels:
        wait_until(lambda s=status: _status(index, f"st-{s}") == s, what=f"status {status}")  # type: ignore[misc]

    for status in wheels:
        name = f"st-{status}"
        reason = f"{status} because <reasons> & more"
        doc = project_json(index, name)
        assert doc["project-status"] == {"status": status, "reason": reason}
        assert "project-status" not in doc["meta"]
        assert doc["meta"]["api-version"] == "1.4"
        html = get(index.simple + name + "/").text
        page = Page(html)
        assert page.metas["pypi:project-status"] == status
        assert page.metas["pypi:project-status-reason"] == reason
        assert page.metas["pypi:repository-version"] == "1.4"
        assert "<reasons>" not in html

    # Quarantined: no files listed, none served, not in the root listing.
    assert project_json(index, "st-quarantined")["files"] == []
    assert Page(get(index.simple + "st-quarantined/").text).anchors == []
    quarantined_url = absolute(index, before["quarantined"]["url"])
    assert get(quarantined_url).status_code == 404
    assert get(quarantined_url + ".metadata").status_code == 404
    wait_until(
        lambda: {"name": "st-quarantined"} not in get(index.simple, V1_JSON).json()["projects"],
        what="the quarantined project to leave the root",
    )
    assert "st-quarantined" not in Page(get(index.simple).text).by_text()
    assert {"name": "st-archived"} in get(index.simple, V1_JSON).json()["projects"]

    # Archived: still served, but closed to uploads. Quarantined is closed too.
    assert [f["filename"] for f in project_json(index, "st-archived")["files"]] == [wheels["archived"].name]
    assert get(absolute(index, before["archived"]["url"])).content == wheels["archived"].read_bytes()
    owner = (index.owner.name, index.owner.password)
    for status in ("archived", "quarantined"):
        newer = build_wheel(tmp_path, WheelSpec(f"st-{status}", "1.1"))
        resp = post_upload(index.upload, newer, owner)
        assert 400 <= resp.status_code < 500, (status, resp.status_code, resp.text)
        assert resp.status_code not in (401, 404), resp.text
    assert len(project_json(index, "st-archived")["files"]) == 1

    # Deprecated: like active.
    assert len(project_json(index, "st-deprecated")["files"]) == 1
    newer = build_wheel(tmp_path, WheelSpec("st-deprecated", "1.1"))
    assert post_upload(index.upload, newer, owner).status_code == 200
    assert len(project_json(index, "st-deprecated")["files"]) == 2

    # Back to active: the files and the listing come back.
    index.cli("status", "st-quarantined", "active")
    wait_until(lambda: len(project_json(index, "st-quarantined")["files"]) == 1, what="unquarantine")
    wait_until(
        lambda: {"name": "st-quarantined"} in get(index.simple, V1_JSON).json()["projects"],
        what="the project to return to the root",
    )
    assert get(quarantined_url).content == wheels["quarantined"].read_bytes()


# -- a third-party parser --------------------------------------------------------------------


def _key(pkg: DistributionPackage) -> tuple[Any, ...]:
    return (
        pkg.filename,
        pkg.url,
        pkg.project,
        pkg.version,
        pkg.package_type,
        pkg.digests,
        pkg.requires_python,
        pkg.is_yanked,
        pkg.yanked_reason,
        bool(pkg.has_metadata),  # HTML can only say "absent", JSON says false
        pkg.metadata_digests or None,
    )


def test_pypi_simple_parses_html_and_json_alike(index: Index, demo: Demo) -> None:
    url = index.simple + "api-demo/"
    from_html = ProjectPage.from_html("api-demo", get(url, "text/html").text, base_url=url)
    from_json = ProjectPage.from_json_data(get(url, V1_JSON).json(), base_url=url)
    assert from_html.repository_version == from_json.repository_version == "1.4"
    assert sorted(map(_key, from_html.packages)) == sorted(map(_key, from_json.packages))
    assert sorted(from_json.versions or []) == ["1.0", "2.0"]

    sizes = {p.name: p.stat().st_size for p in demo.all}
    packages = {p.filename: p for p in from_json.packages}
    assert set(packages) == set(sizes)
    for name, size in sizes.items():
        pkg = packages[name]
        assert pkg.size == size
        assert pkg.upload_time is not None and pkg.upload_time.tzinfo is not None
        html_pkg = next(p for p in from_html.packages if p.filename == name)
        assert html_pkg.size in (None, size)
    assert packages[demo.wheel.name].has_metadata is True
    assert packages[demo.wheel.name].metadata_digests == {"sha256": hashlib.sha256(demo.metadata).hexdigest()}
    assert packages[demo.sdist.name].has_metadata is False
    assert packages[demo.yanked.name].is_yanked and packages[demo.yanked.name].yanked_reason == YANK_REASON
    assert packages[demo.wheel.name].requires_python == ">=3.9"

    with PyPISimple(endpoint=index.simple) as client:
        live = client.get_project_page("api-demo")
        assert sorted(map(_key, live.packages)) == sorted(map(_key, from_json.packages))
        assert live.repository_version == "1.4"
        html_live = client.get_project_page("api-demo", accept="text/html")
        assert sorted(map(_key, html_live.packages)) == sorted(map(_key, from_json.packages))


# -- private mode ----------------------------------------------------------------------------


def test_private_mode_requires_credentials(fresh_index: Index, tmp_path: Path) -> None:
    alice = fresh_index.owner
    wheel = build_wheel(tmp_path, WheelSpec("secret-pkg", "1.0"))
    fresh_index.server.process.terminate()
    fresh_index.server.process.wait(10)
    with fresh_index.start_server(tmp_path / "private.log", "--private") as server:
        assert post_upload(server.upload, wheel, (alice.name, alice.password)).status_code == 200
        good = (alice.name, alice.password)

        for url in (server.simple, server.simple + "secret-pkg/"):
            anonymous = get(url)
            assert anonymous.status_code == 401
            assert anonymous.headers["www-authenticate"].lower().startswith("basic")
            assert get(url, PIP_ACCEPT).status_code == 401
            assert get(url, auth=good).status_code == 200
            assert get(url, auth=("__token__", alice.token)).status_code == 200
            assert get(url, auth=(alice.name, "wrong")).status_code == 403
            assert get(url, auth=("nobody", "nothing")).status_code == 403
        file_url = str(
            httpx.URL(server.simple).join(
                get(server.simple + "secret-pkg/", V1_JSON, auth=good).json()["files"][0]["url"]
            )
        )
        assert get(file_url).status_code == 401
        assert get(file_url, auth=good).content == wheel.read_bytes()

        host = server.url.removeprefix("http://")
        with_creds = f"http://{alice.name}:{alice.password}@{host}/simple/"

        def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
            return fresh_index.run(*cmd, check=False)

        target = tmp_path / "pip"
        ok = run(BIN / "pip", "install", "--no-cache-dir", "--target", target, "--index-url", with_creds,
                 "secret-pkg")  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        assert (target / "secret_pkg" / "__init__.py").read_text() == "__version__ = '1.0'\n"

        uv_target = tmp_path / "uv"
        uv = run(
            BIN / "uv", "pip", "install", "--no-cache", "--python", BIN / "python", "--target", uv_target,
            "--index-url", with_creds, "secret-pkg",
        )  # fmt: skip
        assert uv.returncode == 0, uv.stderr
        assert (uv_target / "secret_pkg" / "__init__.py").exists()

        anon = run(BIN / "pip", "install", "--no-cache-dir", "--target", tmp_path / "anon", "--index-url",
                   server.simple, "secret-pkg")  # fmt: skip
        assert anon.returncode != 0
        assert not (tmp_path / "anon" / "secret_pkg").exists()
        bad = f"http://{alice.name}:wrong@{host}/simple/"
        denied = run(BIN / "pip", "install", "--no-cache-dir", "--target", tmp_path / "bad", "--index-url",
                     bad, "secret-pkg")  # fmt: skip
        assert denied.returncode != 0
        assert "No matching distribution" in denied.stderr, denied.stderr
        assert not (tmp_path / "bad" / "secret_pkg").exists()
