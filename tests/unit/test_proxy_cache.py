"""The proxy's page cache with a scripted upstream: what is parsed, and against which URL."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from registry_index.app import create_app
from registry_index.registry import Registry
from registry_index.services import proxy as proxy_module
from registry_index.services.proxy import Proxy
from registry_index.settings import Settings
from registry_index.storage import MemoryStorage
from registry_index.upstream.client import Fetched
from registry_index.upstream.config import Upstream, parse_upstreams

ROOT = "http://upstream.test/simple/"
# Relative links, as a static index writes them; the upstream redirected the page elsewhere.
PAGE = b'<a href="../../packages/demo-1.0.tar.gz#sha256=' + b"a" * 64 + b'">demo-1.0.tar.gz</a>'
MOVED = "http://upstream.test/mirror/simple/demo/"


class Scripted:
    def __init__(self) -> None:
        self.pages = 0

    async def page(self, upstream: Upstream, project: str, etag: str | None) -> Fetched:
        self.pages += 1
        return Fetched(200, etag='"v1"', content_type="text/html", body=PAGE, url=MOVED)

    @contextlib.asynccontextmanager
    async def file(self, upstream: Upstream, url: str) -> AsyncIterator[AsyncIterator[bytes]]:
        raise AssertionError("no file is fetched here")
        yield  # pragma: no cover

    async def close(self) -> None:
        return None


async def test_a_page_is_parsed_once_and_its_links_keep_the_redirected_base(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = MemoryStorage()
    upstreams = parse_upstreams([ROOT])
    first = Proxy(storage, upstreams, Scripted())
    parses = 0
    real = proxy_module.parse_project_page

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal parses
        parses += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(proxy_module, "parse_project_page", counting)
    fetched = await first.page("demo")
    assert fetched is not None and parses == 1  # parsed once on the fetch, not again to relay
    expected = "http://upstream.test/mirror/packages/demo-1.0.tar.gz"
    assert [f.url for f in fetched.project.files] == [expected]

    source = Scripted()
    other = Proxy(storage, upstreams, source)  # another instance: the page from the store
    cached = await other.page("demo")
    assert source.pages == 0 and cached is not None
    assert [f.url for f in cached.project.files] == [expected]  # not resolved against ROOT


class HeldWrites(MemoryStorage):
    """A store whose writes wait until released: what is answered before a write lands."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.puts: list[str] = []

    async def put(self, key: str, data: bytes, **conditions: Any) -> str:
        self.puts.append(key)
        await self.release.wait()
        return await super().put(key, data, **conditions)


WHEEL = b"PK\x05\x06" + bytes(18) + b"relayed bytes"
WHEEL_PAGE = (
    b'<a href="demo-1.0-py3-none-any.whl#sha256='
    + hashlib.sha256(WHEEL).hexdigest().encode()
    + b'">demo-1.0-py3-none-any.whl</a>'
)


class Counting(Scripted):
    def __init__(self) -> None:
        super().__init__()
        self.files = 0
        self.etag_sent: list[str | None] = []

    async def page(self, upstream: Upstream, project: str, etag: str | None) -> Fetched:
        self.pages += 1
        self.etag_sent.append(etag)
        if etag == '"w1"':
            return Fetched(304, etag='"w1"')
        return Fetched(200, etag='"w1"', content_type="text/html", body=WHEEL_PAGE, url=ROOT + "demo/")

    @contextlib.asynccontextmanager
    async def file(self, upstream: Upstream, url: str) -> AsyncIterator[AsyncIterator[bytes]]:
        self.files += 1

        async def chunks() -> AsyncIterator[bytes]:
            yield WHEEL

        yield chunks()


async def test_a_cold_page_and_file_are_answered_before_their_store_writes_land() -> None:
    storage, source = HeldWrites(), Counting()
    proxy = Proxy(storage, parse_upstreams([ROOT]), source)
    page = await asyncio.wait_for(proxy.page("demo"), 5)  # the write is held: not waited for
    assert page is not None and page.stored is not None and not page.stored.done()
    again = await proxy.page("demo")  # meanwhile this process serves what it fetched
    assert source.pages == 1 and again is not None and again.version == page.version

    file = await proxy.find_file("upstream-test", "demo", "demo-1.0-py3-none-any.whl")
    opened = await asyncio.wait_for(proxy.open_file(file), 5)
    assert (
        await asyncio.wait_for(anext(opened.body), 5) == WHEEL[:-1]
    )  # all but the last byte: sent before it is stored
    second = await proxy.open_file(file, (0, 4))  # served from the verified copy, not refetched
    assert source.files == 1
    storage.release.set()
    assert b"".join([chunk async for chunk in second.body]) == WHEEL[:4]
    assert [chunk async for chunk in opened.body] == [WHEEL[-1:]]  # the last byte once stored
    assert (await storage.get(file.key)).data == WHEEL
    await page.stored
    await proxy.close()
    assert sorted(storage.puts) == sorted([file.key, "upstream/upstream-test/projects/demo.json"])


async def test_a_relayed_page_keeps_its_version_across_instances_and_revalidation() -> None:
    storage, source = MemoryStorage(), Counting()
    clock = [1000.0]
    first = Proxy(storage, parse_upstreams([ROOT]), source, clock=lambda: clock[0])
    fetched = await first.page("demo")
    assert fetched is not None and fetched.stored is not None
    await fetched.stored
    other = await Proxy(storage, parse_upstreams([ROOT]), Counting()).page("demo")
    assert other is not None and other.version == fetched.version  # one ETag for clients
    clock[0] += 601  # past the TTL: revalidated with the upstream's ETag, answered 304
    revalidated = await first.page("demo")
    assert source.etag_sent == [None, '"w1"']
    assert revalidated is not None and revalidated.version == fetched.version


async def test_the_page_route_sends_its_last_byte_once_the_page_is_stored() -> None:
    storage = HeldWrites()
    proxy = Proxy(storage, parse_upstreams([ROOT]), Counting())
    app = create_app(
        Settings(storage="memory:"), registry=Registry(storage, isolate_inspection=False, proxy=proxy)
    )
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {
        "type": "http", "method": "GET", "path": "/simple/demo/", "raw_path": b"/simple/demo/",
        "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
        "headers": [(b"host", b"here.test"), (b"accept", b"application/vnd.pypi.simple.v1+json")],
        "server": ("here.test", 80), "client": ("127.0.0.1", 1), "app": app,
    }  # fmt: skip
    async with app.router.lifespan_context(app):
        request = asyncio.ensure_future(app(scope, receive, send))
        for _ in range(500):
            if any(m["type"] == "http.response.body" for m in sent):
                break
            await asyncio.sleep(0.01)
        assert sent[0]["status"] == 200 and sent[-1].get("more_body") is True  # all but the last byte
        assert not request.done()
        storage.release.set()
        await asyncio.wait_for(request, 5)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body)["files"][0]["filename"] == "demo-1.0-py3-none-any.whl"
    assert "upstream/upstream-test/projects/demo.json" in storage.puts
