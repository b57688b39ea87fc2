"""The app in-process over httpx: routing, auth, negotiation, errors mapped at the edge."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from registry_index.app import create_app
from registry_index.registry import Registry
from registry_index.settings import Settings
from registry_index.storage import Blob, MemoryStorage, ObjectInfo, StorageError
from registry_index.testing import WheelSpec, build_wheel, legacy_form


class Outage(MemoryStorage):
    down = False

    async def get(self, key: str) -> Blob:
        if self.down:
            raise StorageError("connection refused")
        return await super().get(key)

    async def get_if_changed(self, key: str, etag: str) -> Blob | None:
        if self.down:
            raise StorageError("connection refused")
        return await super().get_if_changed(key, etag)

    async def head(self, key: str) -> ObjectInfo:
        if self.down:
            raise StorageError("connection refused")
        return await super().head(key)


@pytest.fixture()
async def setup() -> AsyncIterator[tuple[httpx.AsyncClient, Registry, Outage]]:
    storage = Outage()
    registry = Registry(storage, freshness=0)
    await registry.accounts.add_user("alice", "alice-password")
    app = create_app(Settings(storage="memory:", max_upload_size=64 * 1024), registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, registry, storage


def form_for(path: Path) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    return legacy_form(path)


async def test_upload_requires_credentials(
    setup: tuple[httpx.AsyncClient, Registry, Outage], tmp_path: Path
) -> None:
    client, _, _ = setup
    fields, files = form_for(build_wheel(tmp_path, WheelSpec("p", "1.0")))
    resp = await client.post("/legacy/", data=fields, files=files)
    assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Basic")
    resp = await client.post("/legacy/", data=fields, files=files, auth=("alice", "nope-nope"))
    assert resp.status_code == 403
    resp = await client.post("/legacy", data=fields, files=files, auth=("alice", "alice-password"))
    assert resp.status_code == 200, resp.text  # no redirect for the slashless form


async def test_json_errors_for_clients_preferring_json(
    setup: tuple[httpx.AsyncClient, Registry, Outage], tmp_path: Path
) -> None:
    client, _, _ = setup
    fields, files = form_for(build_wheel(tmp_path, WheelSpec("p", "1.0")))
    fields["sha256_digest"] = "0" * 64
    resp = await client.post(
        "/legacy/",
        data=fields,
        files=files,
        auth=("alice", "alice-password"),
        headers={"Accept": "application/json;q=0.9, text/plain;q=0.8"},
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/json"
    assert "sha256_digest" in resp.json()["message"]


async def test_upload_over_limit_is_400_and_streams(
    setup: tuple[httpx.AsyncClient, Registry, Outage], tmp_path: Path
) -> None:
    client, registry, _ = setup
    big = build_wheel(tmp_path, WheelSpec("big", "1.0", files={"big/blob.bin": os.urandom(200 * 1024)}))
    fields, files = form_for(big)
    resp = await client.post("/legacy/", data=fields, files=files, auth=("alice", "alice-password"))
    assert resp.status_code == 400 and "File too large" in resp.text
    assert [i async for i in registry.storage.list("files/")] == []


async def test_redirects_and_404(setup: tuple[httpx.AsyncClient, Registry, Outage], tmp_path: Path) -> None:
    client, _, _ = setup
    fields, files = form_for(build_wheel(tmp_path, WheelSpec("Foo.Bar_baz", "1.0")))
    fields["name"] = "Foo.Bar_baz"
    assert (
        await client.post("/", data=fields, files=files, auth=("alice", "alice-password"))
    ).status_code == 200
    resp = await client.get("/simple/Foo.Bar_baz/?format=x")
    assert resp.status_code == 301 and resp.headers["location"].endswith("/simple/foo-bar-baz/?format=x")
    assert (await client.get("/simple/foo-bar-baz/")).status_code == 200
    assert (await client.get("/simple/unknown/")).status_code == 404
    assert (await client.get("/simple/foo-bar-baz/")).headers["vary"] == "Accept, Accept-Encoding"


async def test_store_outage_is_503_with_retry_after(
    setup: tuple[httpx.AsyncClient, Registry, Outage],
) -> None:
    client, _, storage = setup
    storage.down = True
    resp = await client.get("/simple/")
    assert resp.status_code == 503 and resp.headers["retry-after"]
    assert "Traceback" not in resp.text
    assert (await client.get("/readyz")).status_code == 503
    assert (await client.get("/healthz")).status_code == 200
    storage.down = False
    assert (await client.get("/simple/")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


async def test_simple_post_is_405(setup: tuple[httpx.AsyncClient, Registry, Outage]) -> None:
    client, _, _ = setup
    assert (await client.post("/simple/")).status_code == 405


async def test_large_pages_are_gzipped_once_with_their_own_etag(
    setup: tuple[httpx.AsyncClient, Registry, Outage], tmp_path: Path
) -> None:
    import gzip

    client, _, _ = setup
    for n in range(30):  # enough files for a page worth compressing
        fields, files = form_for(build_wheel(tmp_path, WheelSpec("bigpage", f"1.{n}")))
        assert (
            await client.post("/legacy/", data=fields, files=files, auth=("alice", "alice-password"))
        ).status_code == 200
    plain = await client.get("/simple/bigpage/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    request = client.build_request("GET", "/simple/bigpage/", headers={"Accept-Encoding": "gzip"})
    raw = await client.send(request, stream=True)
    packed = b"".join([chunk async for chunk in raw.aiter_raw()])  # the bytes on the wire
    await raw.aclose()
    assert raw.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed) == plain.content
    assert len(packed) < len(plain.content) / 3
    assert raw.headers["etag"] != plain.headers["etag"]
    again = await client.get(
        "/simple/bigpage/", headers={"Accept-Encoding": "gzip", "If-None-Match": raw.headers["etag"]}
    )
    assert again.status_code == 304
    decoded = await client.get("/simple/bigpage/", headers={"Accept-Encoding": "gzip"})
    assert decoded.content == plain.content  # httpx decodes: same page either way


async def test_changes_lists_every_change_in_order_and_pages_on(
    setup: tuple[httpx.AsyncClient, Registry, Outage], tmp_path: Path
) -> None:
    client, registry, _ = setup
    for name in ("first", "second", "third"):
        fields, files = form_for(build_wheel(tmp_path, WheelSpec(name, "1.0")))
        resp = await client.post("/legacy/", data=fields, files=files, auth=("alice", "alice-password"))
        assert resp.status_code == 200, resp.text
    await registry.delete("second")
    resp = await client.get("/changes")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["last_serial"] == 4 and resp.headers["x-pypi-last-serial"] == "4"
    assert [(c["serial"], c["project"], c["action"]) for c in doc["changes"]] == [
        (1, "first", "update"),
        (2, "second", "update"),
        (3, "third", "update"),
        (4, "second", "delete"),
    ]
    assert doc["changes"][0]["listed"] is True and doc["changes"][0]["name"] == "first"
    assert "next" not in doc
    paged = (await client.get("/changes?since=1&limit=2")).json()
    assert [c["serial"] for c in paged["changes"]] == [2, 3]
    assert paged["next"] == "http://testserver/changes?since=3&limit=2"
    assert (await client.get("/changes?since=4")).json()["changes"] == []
    root = await client.get("/simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert [p["name"] for p in root.json()["projects"]] == ["first", "third"]
    bad = await client.get("/changes?since=-1")
    assert bad.status_code == 400 and "since" in bad.text
