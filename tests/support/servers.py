"""``registry-index serve`` and the admin CLI as subprocesses, as a user runs them.

``run_server`` and ``cli`` strip the caller's ``REGISTRY_INDEX_*`` variables, so a
developer's settings never leak into a test or a benchmark.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


def free_port(below: int = 65536) -> int:
    """A free loopback port; ``below`` leaves room for servers that derive port + 10000."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < below:
            return port


@dataclass
class Server:
    url: str  # base URL without a trailing slash
    storage: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def simple(self) -> str:
        return f"{self.url}/simple/"

    @property
    def upload(self) -> str:
        return f"{self.url}/legacy/"


def wait_ready(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            # Readiness only: an HTTPS test server's certificate is checked by the clients under test.
            context = ssl._create_unverified_context() if url.startswith("https:") else None
            with urllib.request.urlopen(f"{url}/healthz", timeout=1, context=context) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"server at {url} did not start within {timeout}s")


@contextlib.contextmanager
def run_server(
    storage: str,
    log: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
) -> Iterator[Server]:
    """``registry-index serve`` as a subprocess on a free loopback port."""
    port = port or free_port()
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_INDEX_")}
    # Its announcement (running.py) goes beside its log, not into the real user's state.
    run_env["XDG_STATE_HOME"] = str(log.parent / "state")
    run_env.update(env or {})
    with open(log, "ab") as log_fh:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "registry_index",
                "serve",
                "--storage",
                storage,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *args,
            ],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            env=run_env,
        )
    url = f"{'https' if '--tls-certfile' in args else 'http'}://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield Server(url, storage, process, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cli(
    *args: str,
    storage: str,
    input: str | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the registry-index CLI as a user would."""
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_INDEX_")}
    run_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "registry_index", *args, "--storage", storage],
        input=input,
        capture_output=True,
        text=True,
        check=check,
        env=run_env,
    )
