"""One index URL for private packages and an upstream: real servers, real pip and uv.

The upstream is a second registry_index with its access log on, so the log shows which
names this index asked it for: hosted ones never.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry_index.server import access_log
from registry_index.testing import WheelSpec, build_wheel
from tests.conftest import BIN
from tests.support.clients import client_env
from tests.support.servers import Server, cli, run_server


def _wheels(directory: Path, *specs: WheelSpec) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        build_wheel(directory, spec)
    return directory


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("proxy")
    up_store, here_store = str(tmp / "upstream-store"), str(tmp / "here-store")
    public = _wheels(
        tmp / "public",
        WheelSpec("pub-lib", "1.0", requires_dist=["pub-dep>=2"]),
        WheelSpec("pub-dep", "2.0"),
        # The dependency-confusion bait: a private name published upstream with a higher version.
        WheelSpec("corp-app", "99.0", files={"corp_app/evil.py": b"raise SystemExit('confused')\n"}),
    )
    private = _wheels(tmp / "private", WheelSpec("corp-app", "1.0", requires_dist=["pub-lib"]))
    cli("import", str(public), storage=up_store)
    cli("import", str(private), storage=here_store)
    with (
        run_server(up_store, tmp / "upstream.log", "--log-level", "info") as upstream,  # access log on
        run_server(here_store, tmp / "here.log", "--upstream", upstream.simple) as here,
    ):
        yield upstream, here


def _logged(server: Server) -> str:
    # The access log is written in batches: wait out one flush so the log is complete.
    time.sleep(access_log.FLUSH_SECONDS + 0.3)
    return server.log.read_text()


def _asked(upstream: Server) -> str:
    return _logged(upstream)


def _run(*args: str | Path, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], env=client_env(home), cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_pip_installs_private_and_upstream_packages_through_one_url(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    upstream, here = servers
    target = tmp_path / "pip"
    _run(BIN / "pip", "install", "--no-cache-dir", "--target", target, "--index-url", here.simple, "corp-app",
         home=tmp_path)  # fmt: skip
    installed = sorted(p.name for p in target.glob("*.dist-info"))
    assert installed == ["corp_app-1.0.dist-info", "pub_dep-2.0.dist-info", "pub_lib-1.0.dist-info"]
    assert not (target / "corp_app" / "evil.py").exists()
    log = _asked(upstream)
    assert "GET /simple/pub-lib/" in log and "GET /simple/pub-dep/" in log  # the log records requests
    assert "corp-app" not in log and "corp_app" not in log  # the hosted name was never asked


def test_uv_installs_and_locks_through_one_url(servers: tuple[Server, Server], tmp_path: Path) -> None:
    upstream, here = servers
    target = tmp_path / "uv"
    _run(BIN / "uv", "pip", "install", "--no-cache", "--python", BIN / "python", "--target", target,
         "--index-url", here.simple, "corp-app", home=tmp_path)  # fmt: skip
    assert (target / "pub_dep").is_dir() and not (target / "corp_app" / "evil.py").exists()
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "consumer"
            version = "0.1"
            requires-python = ">=3.9"
            dependencies = ["corp-app"]
            """
        )
    )
    # The index comes from the command line: client_env sets UV_NO_CONFIG, so [tool.uv] is not read.
    _run(BIN / "uv", "lock", "--no-cache", "--python", BIN / "python", "--default-index", here.simple,
         home=tmp_path, cwd=project)  # fmt: skip
    lock = (project / "uv.lock").read_text()
    assert 'name = "corp-app"\nversion = "1.0"' in lock and 'name = "pub-dep"\nversion = "2.0"' in lock
    assert "corp-app" not in _asked(upstream)


def test_relayed_pages_match_the_upstream_field_by_field(servers: tuple[Server, Server]) -> None:
    from pypi_simple import ACCEPT_JSON_ONLY, PyPISimple

    upstream, here = servers
    with (
        PyPISimple(upstream.simple, accept=ACCEPT_JSON_ONLY) as theirs,
        PyPISimple(here.simple, accept=ACCEPT_JSON_ONLY) as ours,
    ):
        original, relayed = theirs.get_project_page("pub-lib"), ours.get_project_page("pub-lib")
    assert relayed.versions == original.versions and relayed.last_serial == original.last_serial
    assert len(relayed.packages) == len(original.packages) == 1
    a, b = original.packages[0], relayed.packages[0]
    for field in ("filename", "project", "version", "package_type", "digests", "requires_python", "has_sig",
                  "is_yanked", "yanked_reason", "has_metadata", "metadata_digests", "size", "upload_time"):  # fmt: skip
        assert getattr(b, field) == getattr(a, field), field
    assert b.url.startswith(here.url + "/upstream/")
    wheel = httpx.get(b.url, timeout=30)
    assert wheel.status_code == 200 and len(wheel.content) == a.size


def test_cache_shows_and_prunes_and_pins_choose_the_upstream(servers: tuple[Server, Server]) -> None:
    _, here = servers
    page = httpx.get(
        f"{here.simple}pub-dep/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()
    url = here.url + page["files"][0]["url"]
    wheel = httpx.get(url, timeout=30).content
    shown = cli("cache", storage=here.storage).stdout
    assert re.search(r"^127-0-0-1-\d+: \d+ pages, [1-9]\d* files, [1-9]\d* bytes", shown, re.M), shown
    pruned = cli("cache", "prune", "--max-size", "0", storage=here.storage).stdout
    assert "freed" in pruned and "removed 0 objects" not in pruned, pruned
    assert httpx.get(url, timeout=30).content == wheel  # fetched and verified again
    refused = cli("cache", "prune", storage=here.storage, check=False)
    assert refused.returncode == 2 and "--older-than" in refused.stdout

    assert cli("pin", "pub-dep", "elsewhere", storage=here.storage).stdout.startswith("pinned pub-dep")
    try:
        pinned = httpx.get(f"{here.simple}pub-dep/", timeout=30)
        deadline = time.monotonic() + 10
        while pinned.status_code == 200 and time.monotonic() < deadline:  # the pin is read within 1 s
            time.sleep(0.2)
            pinned = httpx.get(f"{here.simple}pub-dep/", timeout=30)
        assert pinned.status_code == 404 and "'elsewhere', which is not configured" in pinned.text
    finally:
        cli("unpin", "pub-dep", storage=here.storage)
    audit = cli("audit", storage=here.storage).stdout
    assert "project:upstream:pin" in audit and "project:upstream:unpin" in audit


def test_reserved_names_are_never_asked_upstream(servers: tuple[Server, Server], tmp_path: Path) -> None:
    upstream, here = servers
    assert "reserved" in cli("reserve", "pub-dep-secret", storage=here.storage).stdout
    proc = subprocess.run(
        [str(BIN / "pip"), "install", "--no-cache-dir", "--target", str(tmp_path / "t"), "--index-url", here.simple,
         "pub-dep-secret"],
        env=client_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0  # reserved, no files yet: nothing to install, from anywhere
    assert httpx.get(f"{here.simple}pub-dep-secret/", timeout=30).status_code in (200, 404)
    assert "pub-dep-secret" not in _asked(upstream)


def test_credentials_for_a_private_upstream_come_from_the_environment(tmp_path: Path) -> None:
    store = str(tmp_path / "private-upstream")
    cli("import", str(_wheels(tmp_path / "w", WheelSpec("secret-lib", "1.0"))), storage=store)
    password = "pw-" + secrets.token_urlsafe(12)
    cli("user", "add", "mirror", "--password-stdin", storage=store, input=password + "\n")
    with run_server(store, tmp_path / "private.log", "--private") as private:
        upstream_id = "127-0-0-1-" + private.url.rsplit(":", 1)[1]
        env = {
            f"REGISTRY_INDEX_UPSTREAM_{upstream_id.upper().replace('-', '_')}_USERNAME": "mirror",
            f"REGISTRY_INDEX_UPSTREAM_{upstream_id.upper().replace('-', '_')}_PASSWORD": password,
        }
        with run_server(
            str(tmp_path / "a"), tmp_path / "a.log", "--upstream", private.simple, env=env
        ) as here:
            target = tmp_path / "t"
            _run(BIN / "pip", "install", "--no-cache-dir", "--target", target, "--index-url", here.simple,
                 "secret-lib", home=tmp_path)  # fmt: skip
            assert (target / "secret_lib-1.0.dist-info").is_dir()
            assert password not in _logged(here)
        with run_server(str(tmp_path / "b"), tmp_path / "b.log", "--upstream", private.simple) as bare:
            refused = httpx.get(f"{bare.simple}secret-lib/", timeout=30)
            assert refused.status_code == 503 and "cannot be reached" in refused.text
    refused = subprocess.run(
        [sys.executable, "-m", "registry_index", "serve", "--storage", str(tmp_path / "c"),
         "--upstream", f"http://mirror:{password}@127.0.0.1:1/simple/"],
        capture_output=True, text=True, timeout=60, env=client_env(tmp_path),
    )  # fmt: skip
    assert refused.returncode != 0 and password not in refused.stderr + refused.stdout
    assert "netrc" in refused.stderr or "REGISTRY_INDEX_UPSTREAM_" in refused.stderr


def test_a_stopped_upstream_leaves_cached_pages_and_files_served(tmp_path: Path) -> None:
    store = str(tmp_path / "upstream")
    cli(
        "import",
        str(_wheels(tmp_path / "w", WheelSpec("kept-lib", "1.0"), WheelSpec("other-lib", "1.0"))),
        storage=store,
    )
    json_accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
    with contextlib.ExitStack() as upstream:
        up = upstream.enter_context(run_server(store, tmp_path / "upstream.log"))
        # TTL 0: every request asks the upstream, so only the cache can answer once it stops.
        with run_server(str(tmp_path / "here"), tmp_path / "here.log", "--upstream", up.simple,
                        "--upstream-ttl", "0", "--upstream-timeout", "2") as here:  # fmt: skip
            page = httpx.get(f"{here.simple}kept-lib/", headers=json_accept, timeout=30).json()
            wheel = httpx.get(here.url + page["files"][0]["url"], timeout=30).content
            other = httpx.get(f"{here.simple}other-lib/", headers=json_accept, timeout=30).json()
            upstream.close()  # the upstream stops
            again = httpx.get(f"{here.simple}kept-lib/", headers=json_accept, timeout=30)
            assert again.status_code == 200 and again.headers["x-registry-upstream"].endswith("; stale")
            assert again.json()["files"] == page["files"]
            assert httpx.get(here.url + page["files"][0]["url"], timeout=30).content == wheel
            uncached = httpx.get(here.url + other["files"][0]["url"], timeout=30)
            assert uncached.status_code == 503 and uncached.headers["retry-after"]
            assert httpx.get(f"{here.simple}never-seen/", timeout=30).status_code == 503
