"""Many instances over one real S3 bucket (SeaweedFS): nothing lost, nothing half-written."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from registry_index.testing import WheelSpec, build_wheel, legacy_form
from tests.conftest import BIN, make_account, new_bucket
from tests.support.clients import client_env
from tests.support.s3 import S3Server, run_seaweedfs
from tests.support.servers import cli, run_server

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def project_json(base: str, name: str) -> dict:  # type: ignore[type-arg]
    resp = httpx.get(f"{base}/simple/{name}/", headers=JSON, timeout=30)
    resp.raise_for_status()
    return resp.json()  # type: ignore[no-any-return]


@pytest.mark.slow
def test_three_instances_200_concurrent_uploads_with_yanks(seaweedfs: S3Server, tmp_path: Path) -> None:
    storage, env = f"s3://{new_bucket(seaweedfs)}", seaweedfs.env()
    alice = make_account(storage, "alice", env)
    projects = [f"fleet-{n}" for n in range(5)]
    wheels = [build_wheel(tmp_path, WheelSpec(projects[i % 5], f"1.{i // 5}.0")) for i in range(220)]
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(run_server(storage, tmp_path / f"s{n}.log", env=env)) for n in range(3)
        ]

        # The first release of each project comes first, so every project has one owner.
        def upload(i: int) -> int:
            fields, files = legacy_form(wheels[i])
            server = servers[i % 3]
            resp = httpx.post(
                server.upload, data=fields, files=files, auth=(alice.name, alice.password), timeout=120
            )
            assert resp.status_code == 200, resp.text
            return i

        with ThreadPoolExecutor(5) as pool:
            list(pool.map(upload, range(5)))
        yanked: set[tuple[str, str]] = set()

        def yank_some() -> None:
            # Yanks from separate CLI processes, racing the uploads on the same sidecars.
            for n in range(6):
                project, version = projects[n % 5], f"1.{n // 5}.0"
                cli("yank", project, version, "--reason", f"bad {n}", storage=storage, env=env)
                yanked.add((project, version))

        yanker = threading.Thread(target=yank_some)
        yanker.start()
        with ThreadPoolExecutor(24) as pool:
            done = list(pool.map(upload, range(5, len(wheels))))
        yanker.join()
        assert len(done) == 215

        time.sleep(1.5)  # the documented freshness bound (1 s) plus slack
        expected = {
            p: {
                w.name: hashlib.sha256(w.read_bytes()).hexdigest()
                for w in wheels
                if w.name.startswith(p.replace("-", "_") + "-")
            }
            for p in projects
        }
        for server in servers:
            for project in projects:
                doc = project_json(server.url, project)
                listed = {f["filename"]: f["hashes"]["sha256"] for f in doc["files"]}
                assert listed == expected[project], f"{server.url} {project}"
                for f in doc["files"]:
                    version = f["filename"].split("-")[1]
                    assert bool(f["yanked"]) == ((project, version) in yanked)
        # Every file downloads with the listed hash, from an instance that did not receive it.
        for i, wheel in enumerate(wheels[::7]):
            doc = project_json(servers[(i + 1) % 3].url, projects[(i * 7) % 5])
            entry = next(f for f in doc["files"] if f["filename"] == wheel.name)
            body = httpx.get(servers[(i + 2) % 3].url + entry["url"], timeout=30).content
            assert hashlib.sha256(body).hexdigest() == entry["hashes"]["sha256"]
    fsck = cli("fsck", storage=storage, env=env)
    assert "0 problems, 0 orphans" in fsck.stdout, fsck.stdout
    assert "checked 220 files" in fsck.stdout


@pytest.mark.slow
def test_killed_mid_upload_never_lists_a_broken_file(seaweedfs: S3Server, tmp_path: Path) -> None:
    storage, env = f"s3://{new_bucket(seaweedfs)}", seaweedfs.env()
    alice = make_account(storage, "alice", env)
    rng = random.Random(7)
    big = build_wheel(tmp_path, WheelSpec("crashy", "1.0", files={"crashy/blob.bin": os.urandom(24 * 2**20)}))
    fields, files = legacy_form(big)
    for attempt in range(5):
        with run_server(storage, tmp_path / f"k{attempt}.log", env=env) as server:

            def post() -> None:
                with contextlib.suppress(httpx.HTTPError):
                    httpx.post(
                        server.upload, data=fields, files=files, auth=(alice.name, alice.password), timeout=60
                    )

            thread = threading.Thread(target=post)
            thread.start()
            time.sleep(rng.uniform(0.05, 1.2))
            server.process.send_signal(signal.SIGKILL)
            thread.join()
        report = cli("fsck", storage=storage, env=env, check=False)
        assert " 0 problems" in report.stdout, report.stdout
    with run_server(storage, tmp_path / "final.log", env=env) as server:
        resp = httpx.get(f"{server.url}/simple/crashy/", headers=JSON)
        if resp.status_code == 200:  # some attempt finished before its kill: it must be whole
            entry = resp.json()["files"][0]
            body = httpx.get(server.url + entry["url"], timeout=60).content
            assert hashlib.sha256(body).hexdigest() == entry["hashes"]["sha256"]
        resp = httpx.post(
            server.upload, data=fields, files=files, auth=(alice.name, alice.password), timeout=120
        )
        assert resp.status_code == 200
    repaired = cli("fsck", "--repair", "--min-orphan-age", "0", storage=storage, env=env)
    assert "0 problems" in repaired.stdout
    assert "0 problems, 0 orphans" in cli("fsck", storage=storage, env=env).stdout


def test_redirect_downloads_install_with_pip_and_uv(seaweedfs: S3Server, tmp_path: Path) -> None:
    storage, env = f"s3://{new_bucket(seaweedfs)}/p", seaweedfs.env()
    alice = make_account(storage, "alice", env)
    wheel = build_wheel(tmp_path, WheelSpec("redir", "1.0"))
    home = tmp_path / "home"
    home.mkdir()
    with run_server(storage, tmp_path / "r.log", "--download", "redirect", env=env) as server:
        fields, files = legacy_form(wheel)
        assert (
            httpx.post(server.upload, data=fields, files=files, auth=(alice.name, alice.password)).status_code
            == 200
        )
        doc = project_json(server.url, "redir")
        url = doc["files"][0]["url"]
        assert url.startswith("/files/") and "?" not in url  # the page lists stable app URLs
        resp = httpx.get(server.url + url)
        assert resp.status_code == 307 and resp.headers["location"].startswith(seaweedfs.endpoint)
        assert httpx.get(resp.headers["location"]).content == wheel.read_bytes()
        # .metadata stays app-served (uv appends it to the path, pip to the whole URL).
        assert httpx.get(server.url + url + ".metadata").status_code == 200
        cenv = client_env(home)
        import subprocess

        subprocess.run(
            [
                BIN / "pip",
                "install",
                "--no-cache-dir",
                "--target",
                tmp_path / "t1",
                "--index-url",
                server.simple,
                "redir",
            ],
            env=cenv,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                BIN / "uv",
                "pip",
                "install",
                "--no-cache",
                "--python",
                BIN / "python",
                "--target",
                tmp_path / "t2",
                "--index-url",
                server.simple,
                "redir",
            ],
            env=cenv,
            check=True,
            capture_output=True,
        )
        assert (tmp_path / "t1" / "redir").is_dir() and (tmp_path / "t2" / "redir").is_dir()


@pytest.mark.slow
def test_store_outage_is_503_then_recovers(tmp_path: Path) -> None:
    data, log = tmp_path / "weed", tmp_path / "weed.log"
    auth_of = lambda a: (a.name, a.password)  # noqa: E731
    with run_seaweedfs(data, log) as s3:
        storage, env = f"s3://{new_bucket(s3)}", s3.env()
        alice = make_account(storage, "alice", env)
        srv_env = {**env, "REGISTRY_INDEX_FRESHNESS": "0.2"}
        with run_server(storage, tmp_path / "srv.log", env=srv_env) as server:
            wheel = build_wheel(tmp_path, WheelSpec("outage", "1.0"))
            fields, files = legacy_form(wheel)
            assert httpx.post(server.upload, data=fields, files=files, auth=auth_of(alice)).status_code == 200
            assert httpx.get(f"{server.url}/simple/outage/").status_code == 200

            s3.process.terminate()  # the store goes away under a running server
            s3.process.wait(30)
            time.sleep(0.5)
            cached = httpx.get(f"{server.url}/simple/outage/", timeout=30)
            assert cached.status_code == 200  # a recently confirmed page is still served
            unknown = httpx.get(f"{server.url}/simple/never-seen/", timeout=30)
            assert unknown.status_code == 503 and int(unknown.headers["retry-after"]) > 0
            assert "Traceback" not in unknown.text
            other = build_wheel(tmp_path, WheelSpec("outage", "2.0"))
            f2, files2 = legacy_form(other)
            refused = httpx.post(server.upload, data=f2, files=files2, auth=auth_of(alice), timeout=60)
            assert refused.status_code == 503 and "retry" in refused.text.lower()
            assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 503

            with run_seaweedfs(data, log, reuse=s3):
                deadline = time.monotonic() + 30
                while httpx.get(f"{server.url}/readyz", timeout=30).status_code != 200:
                    assert time.monotonic() < deadline, "server did not recover"
                    time.sleep(0.2)
                resp = httpx.post(server.upload, data=f2, files=files2, auth=auth_of(alice), timeout=60)
                assert resp.status_code == 200, resp.text
                names = {f["filename"] for f in project_json(server.url, "outage")["files"]}
                assert names == {wheel.name, other.name}
