"""pypiserver as the upstream: an HTML-only index (PEP 503, ``#sha256=`` fragments, no sizes).

pypiserver runs from a side venv with its request log on (``-v``), so the log shows every
name this index asked it for. Real pip and uv install through this index; the relayed JSON
page is API version 1.0 (pypiserver gives no sizes, and none are invented), its sha256s
are the wheels' own, and a name hosted here is never asked of pypiserver.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from registry_index.testing import WheelSpec, build_wheel
from tests.conftest import BIN, tool_venv
from tests.support.clients import client_env
from tests.support.servers import Server, cli, free_port, run_server

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}

pytestmark = pytest.mark.slow


@dataclass
class Setup:
    here: Server
    pypiserver_log: Path
    packages: Path  # pypiserver's package directory


def _wait_answers(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pypiserver exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"pypiserver did not answer within {timeout}s: {log.read_text()}")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("proxy-pypiserver")
    packages = tmp / "packages"
    packages.mkdir()
    build_wheel(packages, WheelSpec("pps-app", "1.0", requires_dist=["pps-dep>=2"]))
    build_wheel(packages, WheelSpec("pps-dep", "2.0"))
    # The dependency-confusion bait: upstream has a higher version of a name hosted here.
    build_wheel(
        packages, WheelSpec("pps-private", "9.0", files={"pps_private/evil.py": b"raise SystemExit(1)\n"})
    )
    private = tmp / "private"
    private.mkdir()
    build_wheel(private, WheelSpec("pps-private", "1.0"))
    store = str(tmp / "store")
    cli("import", str(private), storage=store)

    bin_dir = tool_venv("pypiserver", "pypiserver==2.4.2", "bcrypt<5")
    port = free_port()
    log = tmp / "pypiserver.log"
    with open(log, "ab") as log_fh:
        process = subprocess.Popen(
            [str(bin_dir / "pypi-server"), "run", "-v", "-i", "127.0.0.1", "-p", str(port),
             "-a", ".", "-P", ".", "--hash-algo", "sha256", "--disable-fallback", str(packages)],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        upstream = f"http://127.0.0.1:{port}"
        _wait_answers(f"{upstream}/health", process, log)
        with run_server(store, tmp / "here.log", "--upstream", f"{upstream}/simple/") as here:
            yield Setup(here, log, packages)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _run(*args: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], env=client_env(home), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _asked(setup: Setup) -> str:
    return setup.pypiserver_log.read_text()


def test_pip_installs_a_package_and_its_dependency_from_pypiserver(setup: Setup, tmp_path: Path) -> None:
    target = tmp_path / "pip"
    _run(BIN / "pip", "install", "--no-cache-dir", "--target", target, "--index-url", setup.here.simple,
         "pps-app", home=tmp_path)  # fmt: skip
    installed = sorted(p.name for p in target.glob("*.dist-info"))
    assert installed == ["pps_app-1.0.dist-info", "pps_dep-2.0.dist-info"]
    log = _asked(setup)
    assert "GET /simple/pps-app/" in log and "GET /packages/pps_dep-2.0-py3-none-any.whl" in log


def test_uv_installs_a_package_and_its_dependency_from_pypiserver(setup: Setup, tmp_path: Path) -> None:
    target = tmp_path / "uv"
    _run(BIN / "uv", "pip", "install", "--no-cache", "--python", BIN / "python", "--target", target,
         "--index-url", setup.here.simple, "pps-app", home=tmp_path)  # fmt: skip
    assert (target / "pps_app").is_dir() and (target / "pps_dep").is_dir()


def test_relayed_page_is_api_1_0_with_the_wheels_own_sha256(setup: Setup) -> None:
    for project in ("pps-app", "pps-dep"):
        resp = httpx.get(f"{setup.here.simple}{project}/", headers=JSON, timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/vnd.pypi.simple.v1+json")
        assert resp.headers["X-Registry-Upstream"].startswith("127-0-0-1-")
        page = resp.json()
        assert page["meta"]["api-version"] == "1.0", page["meta"]  # pypiserver gives no sizes
        assert page["files"], page
        for entry in page["files"]:
            assert "size" not in entry, entry  # not invented
            wheel = setup.packages / entry["filename"]
            assert entry["hashes"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
            assert entry["url"].startswith("/upstream/"), entry["url"]
            relayed = httpx.get(setup.here.url + entry["url"], timeout=30)
            assert relayed.status_code == 200 and relayed.content == wheel.read_bytes()


def test_a_hosted_name_is_never_asked_of_pypiserver(setup: Setup, tmp_path: Path) -> None:
    page = httpx.get(f"{setup.here.simple}pps-private/", headers=JSON, timeout=30)
    assert page.status_code == 200 and "X-Registry-Upstream" not in page.headers
    assert [f["filename"] for f in page.json()["files"]] == ["pps_private-1.0-py3-none-any.whl"]
    target = tmp_path / "pip"
    _run(BIN / "pip", "install", "--no-cache-dir", "--target", target, "--index-url", setup.here.simple,
         "pps-private", home=tmp_path)  # fmt: skip
    assert (target / "pps_private-1.0.dist-info").is_dir()
    assert not (target / "pps_private" / "evil.py").exists()
    log = _asked(setup)
    assert "GET /health" in log  # the log records every request
    assert "pps-private" not in log and "pps_private" not in log
