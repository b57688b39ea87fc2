"""The upstream proxy in-process: another registry_index app as the upstream, through the real
HTTP client (httpx over ASGI), with a transport that records, breaks or alters what it relays."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry_index.app import create_app
from registry_index.auth.accounts import User
from registry_index.errors import Conflict
from registry_index.registry import Registry
from registry_index.services import relay_files
from registry_index.services.proxy import Proxy
from registry_index.settings import Settings
from registry_index.storage import MemoryStorage
from registry_index.testing import WheelSpec, build_wheel
from registry_index.upstream.client import HttpUpstreams
from registry_index.upstream.config import parse_upstreams

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


class Relay(httpx.AsyncBaseTransport):
    """The wire between this index and its upstream: records paths, can go down or lie."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []
        self.down = False
        self.tamper = False
        self.pad = 0  # bytes added to every file: more than the page promised
        self.serial_override: int | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        if self.pad and request.url.path.startswith("/files/"):
            body = await response.aread() + b"\0" * self.pad
            headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
            return httpx.Response(response.status_code, headers=headers, content=body)
        if self.tamper and request.url.path.startswith("/files/"):
            body = await response.aread()
            altered = body[:-1] + bytes([body[-1] ^ 1])
            headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
            return httpx.Response(response.status_code, headers=headers, content=altered)
        if self.serial_override is not None and request.url.path.startswith("/simple/"):
            body = await response.aread()
            headers = {**response.headers, "x-pypi-last-serial": str(self.serial_override)}
            return httpx.Response(response.status_code, headers=headers, content=body)
        return response


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    client: httpx.AsyncClient  # talks to this index
    upstream: Registry
    here: Registry
    relay: Relay
    clock: Clock
    storage: MemoryStorage
    wheels: dict[str, bytes] = field(default_factory=dict)

    def asked(self, project: str) -> int:
        return sum(1 for p in self.relay.paths if p.rstrip("/").endswith("/" + project))

    async def stored(self, prefix: str) -> list[str]:
        return [i.key async for i in self.storage.list(prefix)]


async def _publish(registry: Registry, tmp: Path, name: str, version: str, **spec: Any) -> bytes:
    user = await registry.accounts.get_user("uploader") or await registry.add_user(
        "uploader", "uploader-pw-1"
    )
    path = build_wheel(tmp, WheelSpec(name, version, **spec))
    await registry.publish_path(path, User(user.name, user.password_hash, True, user.created))
    return path.read_bytes()


@pytest.fixture()
async def world(tmp_path: Path) -> AsyncIterator[World]:
    upstream = Registry(MemoryStorage(), freshness=0, isolate_inspection=False)
    wheels = {
        "pub_pkg-1.0-py3-none-any.whl": await _publish(upstream, tmp_path, "pub-pkg", "1.0"),
        "pub_pkg-1.1-py3-none-any.whl": await _publish(upstream, tmp_path, "pub-pkg", "1.1"),
    }
    await upstream.set_yank("pub-pkg", "1.0", True, "broken <build>")
    await _publish(upstream, tmp_path, "private-pkg", "99.0")  # the confusion attack's bait
    upstream_app = create_app(Settings(storage="memory:"), registry=upstream)
    relay = Relay(httpx.ASGITransport(app=upstream_app))
    upstreams = parse_upstreams(["http://upstream.test/simple/"])
    storage, clock = MemoryStorage(), Clock()
    proxy = Proxy(storage, upstreams, HttpUpstreams(upstreams, transport=relay, environ={}), clock=clock)
    here = Registry(storage, freshness=0, isolate_inspection=False, proxy=proxy)
    with pytest.raises(Conflict, match="registry-index reserve private-pkg"):
        await _publish(here, tmp_path, "private-pkg", "1.0")  # the upstream serves the name
    assert [k async for k in storage.list("files/")] == []
    await here.reserve("private-pkg")
    await _publish(here, tmp_path, "private-pkg", "1.0")
    relay.paths.clear()  # the guard asked about the new name; once hosted, it never is again
    app = create_app(Settings(storage="memory:"), registry=here)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://here.test"
    ) as client:
        yield World(client, upstream, here, relay, clock, storage, wheels)


async def test_relayed_page_keeps_every_field_clients_use(world: World) -> None:
    theirs = (await world.upstream.info("pub-pkg"))["info"]["name"]
    upstream_json = (
        await httpx.AsyncClient(transport=world.relay.inner, base_url="http://upstream.test").get(
            "/simple/pub-pkg/", headers=JSON
        )
    ).json()
    resp = await world.client.get("/simple/pub-pkg/", headers=JSON)
    assert resp.status_code == 200 and resp.headers["x-registry-upstream"] == "upstream-test"
    ours = resp.json()
    assert theirs == "pub-pkg" and ours["name"] == "pub-pkg"
    assert ours["versions"] == upstream_json["versions"]
    assert ours["meta"]["_last-serial"] == upstream_json["meta"]["_last-serial"]
    by_name = {f["filename"]: f for f in upstream_json["files"]}
    assert sorted(f["filename"] for f in ours["files"]) == sorted(by_name)
    for relayed in ours["files"]:
        original = by_name[relayed["filename"]]
        for key in ("hashes", "requires-python", "core-metadata", "size", "upload-time", "yanked"):
            assert relayed.get(key) == original.get(key), key
        assert relayed["url"].startswith("/upstream/upstream-test/pub-pkg/")
    yanked = next(f for f in ours["files"] if "1.0" in f["filename"])
    assert yanked["yanked"] == "broken <build>"
    html = (await world.client.get("/simple/pub-pkg/")).text
    assert 'data-yanked="broken &lt;build&gt;"' in html and "/upstream/upstream-test/pub-pkg/" in html


async def test_files_are_verified_stored_once_and_served_from_the_store(world: World) -> None:
    page = (await world.client.get("/simple/pub-pkg/", headers=JSON)).json()
    entry = next(f for f in page["files"] if f["filename"] == "pub_pkg-1.1-py3-none-any.whl")
    first = await world.client.get(entry["url"])
    assert first.status_code == 200 and first.content == world.wheels[entry["filename"]]
    assert hashlib.sha256(first.content).hexdigest() == entry["hashes"]["sha256"]
    fetched = len([p for p in world.relay.paths if p.startswith("/files/")])
    again = await world.client.get(entry["url"])
    assert again.content == first.content
    assert len([p for p in world.relay.paths if p.startswith("/files/")]) == fetched  # from the store
    assert await world.stored(f"upstream/upstream-test/blobs/{entry['hashes']['sha256']}/") == [
        f"upstream/upstream-test/blobs/{entry['hashes']['sha256']}/{entry['filename']}"
    ]
    metadata = await world.client.get(entry["url"] + ".metadata")
    assert hashlib.sha256(metadata.content).hexdigest() == entry["core-metadata"]["sha256"]


async def test_hosted_names_are_never_asked_upstream(world: World) -> None:
    resp = await world.client.get("/simple/private-pkg/", headers=JSON)
    assert resp.status_code == 200 and "x-registry-upstream" not in resp.headers
    assert [f["filename"] for f in resp.json()["files"]] == ["private_pkg-1.0-py3-none-any.whl"]
    await world.client.get("/simple/Private_Pkg/", follow_redirects=True)
    missing = await world.client.get("/upstream/upstream-test/private-pkg/private_pkg-99.0-py3-none-any.whl")
    assert missing.status_code == 404
    assert world.asked("private-pkg") == 0 and not any("private" in p for p in world.relay.paths)


async def test_unknown_names_are_a_cached_404(world: World) -> None:
    assert (await world.client.get("/simple/nowhere/")).status_code == 404
    assert (await world.client.get("/simple/nowhere/")).status_code == 404
    assert world.asked("nowhere") == 1  # negative cache
    world.clock.now += 61  # past the negative TTL
    assert (await world.client.get("/simple/nowhere/")).status_code == 404
    assert world.asked("nowhere") == 2


async def test_altered_bytes_are_refused_and_nothing_is_stored(world: World) -> None:
    page = (await world.client.get("/simple/pub-pkg/", headers=JSON)).json()
    world.relay.tamper = True
    resp = await world.client.get(page["files"][0]["url"])
    assert resp.status_code == 502 and "sha256 mismatch" in resp.text
    assert await world.stored("upstream/upstream-test/blobs/") == []


async def test_upstream_down_serves_the_cache_and_503_for_the_rest(world: World) -> None:
    page = (await world.client.get("/simple/pub-pkg/", headers=JSON)).json()
    cached = next(f for f in page["files"] if "1.1" in f["filename"])
    other = next(f for f in page["files"] if "1.0" in f["filename"])
    assert (await world.client.get(cached["url"])).status_code == 200
    world.relay.down = True
    world.clock.now += 601  # past the TTL: the upstream must be asked, and is down
    resp = await world.client.get("/simple/pub-pkg/", headers=JSON)
    assert resp.status_code == 200 and resp.headers["x-registry-upstream"] == "upstream-test; stale"
    assert resp.json()["files"] == page["files"]
    assert (await world.client.get(cached["url"])).content == world.wheels[cached["filename"]]
    uncached = await world.client.get(other["url"])
    assert uncached.status_code == 503 and uncached.headers["retry-after"]
    assert (await world.client.get("/simple/never-seen/")).status_code == 503


async def test_revalidation_and_a_serial_going_backwards(world: World) -> None:
    await world.client.get("/simple/pub-pkg/", headers=JSON)
    asked = world.asked("pub-pkg")
    await world.client.get("/simple/pub-pkg/", headers=JSON)
    assert world.asked("pub-pkg") == asked  # within the TTL: no upstream request
    world.relay.serial_override = 0  # a stale CDN copy: an older serial than the cached page
    world.clock.now += 601
    stale = (await world.client.get("/simple/pub-pkg/", headers=JSON)).json()
    assert world.asked("pub-pkg") == asked + 1
    assert stale["meta"]["_last-serial"] > 0  # the cached page is kept


async def test_the_web_ui_marks_upstream_projects(world: World) -> None:
    relayed = await world.client.get("/project/pub-pkg/")
    assert relayed.status_code == 200 and "upstream: upstream-test" in relayed.text
    assert "/upstream/upstream-test/pub-pkg/pub_pkg-1.1-py3-none-any.whl" in relayed.text
    assert "yanked: broken &lt;build&gt;" in relayed.text
    hosted = await world.client.get("/project/private-pkg/")
    assert hosted.status_code == 200 and "upstream:" not in hosted.text
    assert (await world.client.get("/project/nowhere-at-all/")).status_code == 404


async def test_warm_relayed_pages_take_the_fast_path(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.here.meta.sidecars.freshness = 60  # as a server would trust its cache (default 1 s)
    routed = await world.client.get("/simple/pub-pkg/?format=application/vnd.pypi.simple.v1+json")
    await world.client.get("/simple/pub-pkg/", headers=JSON)  # warms the "not hosted" answer

    async def no_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm relayed page read the store or the upstream")

    assert world.here.proxy is not None
    monkeypatch.setattr(world.here.proxy, "page", no_reads)
    monkeypatch.setattr(world.here, "relayed_page", no_reads)
    fast = await world.client.get("/simple/pub-pkg/", headers=JSON)
    assert fast.status_code == 200 and fast.content == routed.content
    assert (
        fast.headers["x-registry-upstream"] == "upstream-test"
        and fast.headers["etag"] == routed.headers["etag"]
    )


async def test_more_bytes_than_the_page_promised_are_refused(world: World) -> None:
    page = (await world.client.get("/simple/pub-pkg/", headers=JSON)).json()
    world.relay.pad = 4096
    for url in (page["files"][0]["url"], page["files"][0]["url"] + ".metadata"):
        resp = await world.client.get(url)
        assert resp.status_code == 502, url
    assert "more than" in resp.text or "sha256 mismatch" in resp.text
    assert await world.stored("upstream/upstream-test/blobs/") == []


async def test_relayed_files_are_served_like_hosted_ones_byte_ranges_included(world: World) -> None:
    page = (await world.client.get("/simple/pub-pkg/", headers=JSON)).json()
    entry = next(f for f in page["files"] if f["filename"] == "pub_pkg-1.1-py3-none-any.whl")
    wheel = world.wheels[entry["filename"]]
    head = await world.client.head(entry["url"])
    assert head.headers["accept-ranges"] == "bytes" and head.headers["content-length"] == str(len(wheel))
    assert head.headers["content-type"] == "application/zip"
    cold = await world.client.get(entry["url"], headers={"Range": "bytes=-22"})  # a zip's end record
    assert cold.status_code == 206 and cold.content == wheel[-22:]
    assert cold.headers["content-range"] == f"bytes {len(wheel) - 22}-{len(wheel) - 1}/{len(wheel)}"
    fetched = len([p for p in world.relay.paths if p.startswith("/files/")])
    warm = await world.client.get(entry["url"], headers={"Range": "bytes=10-19"})  # from the store
    assert warm.status_code == 206 and warm.content == wheel[10:20]
    assert len([p for p in world.relay.paths if p.startswith("/files/")]) == fetched
    beyond = await world.client.get(entry["url"], headers={"Range": f"bytes={len(wheel)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(wheel)}"


@pytest.mark.parametrize("tamper", [False, True])
async def test_a_file_too_big_for_memory_is_verified_on_disk(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tamper: bool
) -> None:
    monkeypatch.setattr(relay_files, "MEMORY_LIMIT", 100)  # every wheel here spills to disk
    monkeypatch.setattr(tempfile, "tempdir", str(_empty_dir(tmp_path / "spills")))
    page = (await world.client.get("/simple/pub-pkg/", headers=JSON)).json()
    entry = page["files"][0]
    world.relay.tamper = tamper
    resp = await world.client.get(entry["url"])
    if tamper:
        assert resp.status_code == 502 and "sha256 mismatch" in resp.text
        assert await world.stored("upstream/upstream-test/blobs/") == []
    else:
        assert resp.status_code == 200 and resp.content == world.wheels[entry["filename"]]
        assert len(await world.stored("upstream/upstream-test/blobs/")) == 1
    assert _leftovers(tmp_path / "spills") == []  # the spilled copy is gone either way


def _empty_dir(path: Path) -> Path:
    path.mkdir()
    return path


def _leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())
