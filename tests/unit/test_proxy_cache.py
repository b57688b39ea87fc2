"""The proxy's page cache with a scripted upstream: what is parsed, and against which URL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from registry_index.services import proxy as proxy_module
from registry_index.services.proxy import Proxy
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
