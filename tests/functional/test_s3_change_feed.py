"""The sharded root index and the change feed under two instances on one real bucket (SeaweedFS)."""

from __future__ import annotations

import contextlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from registry_index.domain import keys
from registry_index.testing import WheelSpec, build_wheel, legacy_form
from tests.conftest import make_account, new_bucket
from tests.support.s3 import S3Server
from tests.support.servers import cli, run_server

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
PROJECTS = 120


@pytest.mark.slow
def test_two_instances_creating_projects_at_once_lose_nothing(seaweedfs: S3Server, tmp_path: Path) -> None:
    bucket = new_bucket(seaweedfs)
    storage, env = f"s3://{bucket}", seaweedfs.env()
    alice = make_account(storage, "alice", env)
    names = [f"feed-{n}" for n in range(PROJECTS)]
    wheels = [build_wheel(tmp_path, WheelSpec(name, "1.0")) for name in names]
    # A snapshot every 1,000 changes is too rare for 120 projects: make it every 25, so
    # snapshots race with appends, and the two instances with each other.
    snapshot_env = {**env, "REGISTRY_INDEX_INDEX_SNAPSHOT_EVERY": "25"}
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(run_server(storage, tmp_path / f"s{n}.log", env=snapshot_env))
            for n in range(2)
        ]

        def upload(i: int) -> None:
            fields, files = legacy_form(wheels[i])
            resp = httpx.post(
                servers[i % 2].upload,
                data=fields,
                files=files,
                auth=(alice.name, alice.password),
                timeout=120,
            )
            assert resp.status_code == 200, resp.text

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(upload, range(PROJECTS)))
        time.sleep(1.5)  # the freshness bound, plus slack

        for server in servers:
            root = httpx.get(f"{server.url}/simple/", headers=JSON, timeout=30).json()
            assert sorted(p["name"] for p in root["projects"]) == sorted(names)
            feed = httpx.get(f"{server.url}/changes?limit=1000", timeout=30).json()
            serials = [c["serial"] for c in feed["changes"]]
            assert serials == list(range(1, len(serials) + 1))  # gap-free, each once
            assert {c["project"] for c in feed["changes"]} == set(names)
            assert feed["last_serial"] == serials[-1] >= PROJECTS

    s3 = seaweedfs.client()
    pointer = json.loads(s3.get_object(Bucket=bucket, Key=keys.ROOT_INDEX)["Body"].read())
    assert pointer["serial"] >= 25 and len(pointer["shards"]) == 256
    assert "index/projects.json" not in {
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="index/").get("Contents", [])
    }

    # A third instance, started afterwards, reads the snapshot and the feed after it.
    with run_server(storage, tmp_path / "s3.log", env=env) as late:
        root = httpx.get(f"{late.url}/simple/", headers=JSON, timeout=30).json()
        assert sorted(p["name"] for p in root["projects"]) == sorted(names)
    fsck = cli("fsck", "--no-hashes", storage=storage, env=env, check=False)
    assert "index:" not in fsck.stdout + fsck.stderr, fsck.stdout + fsck.stderr
