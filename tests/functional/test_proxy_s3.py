"""Two instances on one S3 bucket (SeaweedFS), one upstream: a relayed file is fetched once.

The upstream is a registry_index with its access log on, so its log shows every file GET.
Relayed files are stored create-only under ``upstream/<u>/blobs/<sha256>/<filename>`` in the
shared bucket, so the second instance serves the first one's copy instead of asking again;
two instances racing on one file may both fetch it, but only one object is ever stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from registry_index.server import access_log
from registry_index.testing import WheelSpec, build_wheel
from tests.conftest import new_bucket
from tests.support.s3 import S3Server
from tests.support.servers import Server, cli, run_server

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
BIG = 6 * 1024**2  # incompressible, so each transfer takes measurable time

pytestmark = pytest.mark.slow


@dataclass
class Fleet:
    upstream: Server
    a: Server
    b: Server
    bucket: str
    s3: S3Server
    wheels: dict[str, Path]  # filename -> the wheel as imported upstream


@pytest.fixture(scope="module")
def fleet(seaweedfs: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("proxy-s3")
    public = tmp / "public"
    public.mkdir()
    specs = [
        WheelSpec("seq-big", "1.0", files={"seq_big/blob.bin": os.urandom(BIG)}),
        WheelSpec("seq-small", "1.0"),
        WheelSpec("race-big", "1.0", files={"race_big/blob.bin": os.urandom(BIG)}),
        *(
            WheelSpec(f"race-{n}", "1.0", files={f"race_{n}/data.bin": os.urandom(256 * 1024)})
            for n in range(3)
        ),
    ]
    wheels = {w.name: w for w in (build_wheel(public, spec) for spec in specs)}
    up_store = str(tmp / "upstream-store")
    cli("import", str(public), storage=up_store)
    bucket = new_bucket(seaweedfs)
    storage, env = f"s3://{bucket}/index", seaweedfs.env()
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(run_server(up_store, tmp / "upstream.log", "--log-level", "info"))
        a, b = (
            stack.enter_context(run_server(storage, tmp / f"{n}.log", "--upstream", upstream.simple, env=env))
            for n in ("a", "b")
        )
        yield Fleet(upstream, a, b, bucket, seaweedfs, wheels)


def _page(server: Server, project: str) -> dict:  # type: ignore[type-arg]
    resp = httpx.get(f"{server.simple}{project}/", headers=JSON, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Registry-Upstream"].startswith("127-0-0-1-")
    return resp.json()  # type: ignore[no-any-return]


def _file_url(server: Server, project: str) -> tuple[str, str]:
    """The relayed file's URL on ``server`` and the sha256 its page lists."""
    (entry,) = _page(server, project)["files"]
    assert entry["url"].startswith("/upstream/"), entry["url"]
    return server.url + entry["url"], entry["hashes"]["sha256"]


def _file_gets(fleet: Fleet, filename: str) -> int:
    """How many times the upstream was asked for this file's bytes (its access log)."""
    time.sleep(access_log.FLUSH_SECONDS + 0.3)  # written in batches: wait out one flush
    lines = fleet.upstream.log.read_text().splitlines()
    return sum(1 for line in lines if '"GET /files/' in line and f"/{filename} HTTP" in line)


def _blobs(fleet: Fleet) -> dict[str, list[str]]:
    """Filename -> every relayed-file blob key holding it in the bucket."""
    client = fleet.s3.client()
    found: dict[str, list[str]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=fleet.bucket, Prefix="index/upstream/"
    ):
        for obj in page.get("Contents", ()):
            key = obj["Key"]
            parts = key.split("/")  # index/upstream/<u>/blobs/<sha256>/<filename>
            if len(parts) == 6 and parts[3] == "blobs":
                found.setdefault(parts[5], []).append(key)
    return found


def _download(url: str) -> bytes:
    resp = httpx.get(url, timeout=120)
    assert resp.status_code == 200, resp.text
    return resp.content


def _race(urls: list[str]) -> list[bytes | BaseException]:
    """GET every URL at once, one thread each, released together by a barrier."""
    results: list[bytes | BaseException] = [RuntimeError("not finished")] * len(urls)
    start = threading.Barrier(len(urls))

    def fetch(i: int) -> None:
        start.wait()
        try:
            results[i] = _download(urls[i])
        except BaseException as exc:  # reported by the caller, on the main thread
            results[i] = exc

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    return results


def test_second_instance_serves_the_first_ones_copy(fleet: Fleet) -> None:
    for project, filename in (("seq-big", "seq_big-1.0-py3-none-any.whl"),
                              ("seq-small", "seq_small-1.0-py3-none-any.whl")):  # fmt: skip
        original = fleet.wheels[filename].read_bytes()
        url_a, listed = _file_url(fleet.a, project)
        assert listed == hashlib.sha256(original).hexdigest()
        from_a = _download(url_a)
        assert from_a == original and hashlib.sha256(from_a).hexdigest() == listed
        assert _file_gets(fleet, filename) == 1

        url_b, listed_b = _file_url(fleet.b, project)
        assert listed_b == listed
        from_b = _download(url_b)
        assert from_b == original
        assert _file_gets(fleet, filename) == 1, "instance B asked the upstream again"
        assert _blobs(fleet)[filename] == [f"index/upstream/{url_a.split('/')[4]}/blobs/{listed}/{filename}"]


def test_racing_instances_store_one_blob_and_fetch_at_most_twice(fleet: Fleet) -> None:
    filenames = ["race_big-1.0-py3-none-any.whl"] + [f"race_{n}-1.0-py3-none-any.whl" for n in range(3)]
    for filename in filenames:
        project = filename.split("-")[0].replace("_", "-")
        original = fleet.wheels[filename].read_bytes()
        # Both pages first, so the race is on the file alone.
        urls = [_file_url(server, project)[0] for server in (fleet.a, fleet.b)]
        results = _race(urls)
        for i in range(2):
            got = results[i]
            assert not isinstance(got, BaseException), f"{filename} via {'ab'[i]}: {got!r}"
            assert got == original, f"{filename} via {'ab'[i]}: wrong bytes"
        assert 1 <= _file_gets(fleet, filename) <= 2, filename
        (key,) = _blobs(fleet)[filename]
        stored = fleet.s3.client().get_object(Bucket=fleet.bucket, Key=key)["Body"].read()
        assert stored == original, f"{key} holds other bytes"
    # And now both serve the stored copy: nothing more is asked upstream.
    before = {f: _file_gets(fleet, f) for f in filenames}
    for filename in filenames:
        project = filename.split("-")[0].replace("_", "-")
        for server in (fleet.a, fleet.b):
            assert _download(_file_url(server, project)[0]) == fleet.wheels[filename].read_bytes()
    assert {f: _file_gets(fleet, f) for f in filenames} == before


def test_both_instances_relay_the_same_page(fleet: Fleet) -> None:
    for project in ("seq-small", "race-1"):
        page_a, page_b = _page(fleet.a, project), _page(fleet.b, project)
        assert page_a["files"] == page_b["files"]
        assert page_a == page_b
        upstream = httpx.get(f"{fleet.upstream.simple}{project}/", headers=JSON, timeout=30).json()
        (ours,), (theirs,) = page_a["files"], upstream["files"]
        assert ours["filename"] == theirs["filename"] and ours["hashes"] == theirs["hashes"]
        assert ours["size"] == theirs["size"]
