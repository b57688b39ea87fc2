"""Warm /simple/ hits answered by the fast path: the same bytes as the routes, no store reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry_index.app import create_app
from registry_index.registry import Registry
from registry_index.settings import Settings
from registry_index.storage import MemoryStorage
from registry_index.testing import WheelSpec, build_sdist, build_wheel, legacy_form

AUTH = ("alice", "alice-password")

REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/simple/", {}),
    ("GET", "/simple/", {"Accept": "application/vnd.pypi.simple.v1+json"}),
    ("GET", "/simple/fast-page/", {}),
    ("HEAD", "/simple/fast-page/", {}),
    ("GET", "/simple/fast-page/", {"Accept-Encoding": "gzip"}),
    ("GET", "/simple/fast-page/", {"Accept-Encoding": "gzip;q=0, identity"}),
    ("GET", "/simple/fast-page/", {"Accept-Encoding": "br, *"}),
    (
        "GET",
        "/simple/fast-page/",
        {
            "Accept": "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
            "text/html;q=0.01",
            "Accept-Encoding": "gzip, deflate, zstd",
        },
    ),
    ("GET", "/simple/fast-page/", {"Accept": "application/vnd.pypi.simple.v1+html"}),
    ("GET", "/simple/fast-page/", {"If-None-Match": "*"}),
    ("GET", "/simple/small/", {}),
]


async def _client(registry: Registry, **settings: Any) -> httpx.AsyncClient:
    app = create_app(Settings(storage="memory:", **settings), registry=registry)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture()
async def storage(tmp_path: Path) -> AsyncIterator[MemoryStorage]:
    storage = MemoryStorage()
    registry = Registry(storage)
    await registry.accounts.add_user("alice", "alice-password")
    async with await _client(registry) as client:
        uploads = [build_wheel(tmp_path, WheelSpec("fast-page", f"1.{n}")) for n in range(12)]
        uploads += [
            build_sdist(tmp_path, "fast-page", "2.0"),
            build_wheel(tmp_path, WheelSpec("small", "1")),
        ]
        for path in uploads:
            fields, files = legacy_form(path)
            assert (await client.post("/legacy/", data=fields, files=files, auth=AUTH)).status_code == 200
    yield storage


def _raw(resp: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    return resp.status_code, sorted(resp.headers.multi_items()), resp.content


async def _send(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    request = client.build_request(method, path, headers=headers)
    resp = await client.send(request, stream=True)
    resp._content = b"".join([chunk async for chunk in resp.aiter_raw()])  # bytes as sent, undecoded
    await resp.aclose()
    return resp


async def test_fast_path_sends_what_the_routes_send(storage: MemoryStorage) -> None:
    # freshness=0: nothing is ever fresh, so every request goes through the routes.
    async with (
        await _client(Registry(storage, freshness=0)) as slow,
        await _client(Registry(storage, freshness=60)) as fast,
    ):
        for method, path, headers in REQUESTS:
            expected = _raw(await _send(slow, method, path, headers))
            await _send(fast, method, path, headers)  # warms the sidecar cache
            answered = _raw(await _send(fast, method, path, headers))
            assert answered == expected, (method, path, headers)
            etag = dict(expected[1])["etag"]
            revalidated = await _send(fast, method, path, {**headers, "If-None-Match": etag})
            assert revalidated.status_code == 304 and revalidated.headers["etag"] == etag
            assert revalidated.content == b"" and "content-length" not in revalidated.headers


async def test_warm_hits_read_nothing(storage: MemoryStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry(storage, freshness=60)
    async with await _client(registry) as client:
        for _method, path, headers in REQUESTS:
            resp = await client.get(path, headers=headers)
            assert resp.status_code == (304 if "If-None-Match" in headers else 200), (path, headers)

        async def no_reads(*args: object, **kwargs: object) -> None:
            raise AssertionError("a warm /simple/ hit touched the metadata store")

        monkeypatch.setattr(registry.meta, "project", no_reads)
        monkeypatch.setattr(registry.meta, "project_index", no_reads)
        for method, path, headers in REQUESTS:
            resp = await client.request(method, path, headers=headers)
            assert resp.status_code == (304 if "If-None-Match" in headers else 200), (path, headers)


async def test_what_the_fast_path_leaves_to_the_routes(storage: MemoryStorage) -> None:
    async with await _client(Registry(storage, freshness=60)) as client:
        assert (await client.get("/simple/fast-page/")).status_code == 200  # warm
        moved = await client.get("/simple/Fast_Page/")
        assert moved.status_code == 301 and moved.headers["location"].endswith("/simple/fast-page/")
        for query in ("application/vnd.pypi.simple.v1%2Bjson", "application/vnd.pypi.simple.v1+json"):
            as_json = await client.get(f"/simple/fast-page/?format={query}")
            assert as_json.headers["content-type"] == "application/vnd.pypi.simple.v1+json", query
        assert (await client.get("/simple/missing/")).status_code == 404
        assert (await client.get("/simple/missing/")).status_code == 404  # known missing, still 404
        assert (await client.get("/simple/fast-page")).status_code in (307, 404)
        assert (await client.post("/simple/fast-page/")).status_code == 405
    async with await _client(Registry(storage, freshness=60), private=True) as private:
        assert (await private.get("/simple/fast-page/", auth=AUTH)).status_code == 200  # warm
        assert (await private.get("/simple/fast-page/")).status_code == 401
        assert (await private.get("/simple/")).status_code == 401
