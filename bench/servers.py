"""The servers under test, each behind one small interface: start, load a folder, stop.

Every server listens on 127.0.0.1 only, is started by the harness and is stopped by it.
Loading is not measured, so loaders run under ``eatmydata`` where it is installed (fsync
becomes a no-op); devpi, whose server does the writes itself, is restarted without it
before anything that writes is measured.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from packaging.utils import canonicalize_name

from tests.support.servers import cli, free_port, run_server

from .load import pin_tree

BIN = Path(sys.executable).parent


def eatmydata() -> list[str]:
    return ["eatmydata"] if shutil.which("eatmydata") else []


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_quiet(cmd: Sequence[str | Path], env: Mapping[str, str] | None = None, timeout: float = 3600) -> str:
    """Run a setup command; on failure raise with its output."""
    proc = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, env=dict(env or os.environ), timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def all_cores() -> list[str]:
    """Loading is not measured and the servers are idle then: let loaders use every core."""
    cores = os.cpu_count() or 1
    return ["taskset", "-c", f"0-{cores - 1}"] if cores > 1 and shutil.which("taskset") else []


def run_parallel(
    commands: Sequence[Sequence[str | Path]], env: Mapping[str, str], log: Path, budget: float
) -> bool:
    """Run loaders side by side; False when ``budget`` seconds ran out and they were stopped."""
    deadline = time.monotonic() + budget
    with open(log, "ab") as fh:
        procs = [
            subprocess.Popen(
                [*all_cores(), *(str(c) for c in cmd)], stdout=fh, stderr=subprocess.STDOUT, env=dict(env)
            )
            for cmd in commands
        ]
        try:
            codes = [p.wait(timeout=max(0.0, deadline - time.monotonic())) for p in procs]
        except subprocess.TimeoutExpired:
            for proc in procs:
                stop_process(proc)
            return False
    if any(codes):
        raise RuntimeError(f"loading failed ({codes}); see {log}")
    return True


class Target:
    """One server under test."""

    name = ""
    user = "bench"
    password = "pw-" + secrets.token_hex(12)  # never starts with "-", which CLIs read as a flag

    def __init__(self, work: Path) -> None:
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    # the URLs every client uses
    @property
    def simple(self) -> str:
        return f"{self.url}/simple/"

    @property
    def upload_url(self) -> str:
        return f"{self.url}/legacy/"

    def page(self, project: str) -> str:
        return f"{self.simple}{canonicalize_name(project)}/"

    @property
    def health_url(self) -> str:
        """The cheapest page: what a load balancer would probe."""
        return f"{self.url}/healthz"

    # lifecycle
    @property
    def pid(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def load(self, shards: Sequence[Path], budget: float = 7200) -> bool:
        """Add every file under ``shards`` to the index (not measured); False if out of time."""
        raise NotImplementedError

    def ready_for_writes(self) -> None:
        """Called once before uploads are measured."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RegistryIndex(Target):
    """Our server: ``registry-index serve`` via the test helper, loaded with ``registry-index import``."""

    def __init__(self, work: Path, storage: str | None = None, env: Mapping[str, str] | None = None) -> None:
        super().__init__(work)
        self.storage = storage or str(work / "store")
        self.env = dict(env or {})
        self.name = "registry_index" + (" (S3)" if self.storage.startswith("s3://") else "")
        self._stack = contextlib.ExitStack()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        cli(
            "user",
            "add",
            self.user,
            "--password-stdin",
            storage=self.storage,
            input=self.password + "\n",
            env=self.env,
        )
        server = self._stack.enter_context(
            run_server(
                self.storage,
                self.work / "server.log",
                "--max-upload-size",
                "2G",
                env=self.env,
                port=self.port,
            )
        )
        self._process = server.process
        self.url = server.url
        pin_tree(self.pid)

    def stop(self) -> None:
        self._stack.close()

    def load(self, shards: Sequence[Path], budget: float = 7200) -> bool:
        env = {**os.environ, **self.env}
        base: list[str | Path] = [
            *eatmydata(),
            sys.executable,
            "-m",
            "registry_index",
            "import",
            "--storage",
            self.storage,
        ]
        commands = [[*base, "--owner", self.user, shard] for shard in shards]
        return run_parallel(commands, env, self.work / "load.log", budget)


class Pypiserver(Target):
    """pypiserver as its image runs it: gunicorn, one gevent worker, cached-dir, no fallback."""

    name = "pypiserver"

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.packages = work / "packages"
        self.packages.mkdir(exist_ok=True)
        self._process: subprocess.Popen[bytes] | None = None
        # passlib logs a harmless traceback while probing bcrypt 4's version; keep it quiet.
        logging.getLogger("passlib").setLevel(logging.CRITICAL)
        from passlib.apache import HtpasswdFile  # type: ignore[import-untyped]

        htpasswd = HtpasswdFile(str(work / "htpasswd"), new=True)
        htpasswd.set_password(self.user, self.password)
        htpasswd.save()

    @property
    def upload_url(self) -> str:
        return f"{self.url}/"

    @property
    def health_url(self) -> str:
        return f"{self.url}/health"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        app = (
            f"pypiserver:app(root={str(self.packages)!r}, backend_arg='cached-dir', disable_fallback=True, "
            f"password_file={str(self.work / 'htpasswd')!r}, authenticate=['update'])"
        )
        cmd = [BIN / "gunicorn", "--workers", "1", "--worker-class", "gevent", "--preload"]
        cmd += ["--bind", f"127.0.0.1:{self.port}", "--control-socket", str(self.work / "gunicorn.ctl"), app]
        with open(self.work / "server.log", "ab") as log:
            self._process = subprocess.Popen([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT)
        wait_http(f"{self.url}/health", self._process)
        pin_tree(self.pid)

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None

    def load(self, shards: Sequence[Path], budget: float = 7200) -> bool:
        for shard in shards:
            for path in shard.iterdir():
                with contextlib.suppress(FileExistsError):
                    os.link(path, self.packages / path.name)
        # The cached-dir backend's watcher lives in gunicorn's master (--preload) and does not
        # see files added behind the worker's back; uploads through HTTP are seen at once.
        self.stop()
        self.start()
        return True


class Devpi(Target):
    """devpi-server in offline mode with no root/pypi mirror; loaded with ``devpi upload --from-dir``."""

    name = "devpi"
    index = "bench/dev"

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.serverdir = work / "server"
        self.client_env = {**os.environ, "DEVPI_CLIENTDIR": str(work / "client")}
        self._process: subprocess.Popen[bytes] | None = None
        self._fast = False

    @property
    def simple(self) -> str:
        return f"{self.url}/{self.index}/+simple/"

    @property
    def upload_url(self) -> str:
        return f"{self.url}/{self.index}/"

    @property
    def health_url(self) -> str:
        return f"{self.url}/+api"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def _devpi(self, *args: str) -> str:
        return run_quiet([BIN / "devpi", *args], self.client_env)

    def _launch(self, fast: bool) -> None:
        cmd: list[str | Path] = [*(eatmydata() if fast else []), BIN / "devpi-server", "--offline-mode"]
        cmd += ["--serverdir", self.serverdir, "--host", "127.0.0.1", "--port", str(self.port)]
        # waitress refuses bodies over 1 GiB by default; raised so the 1 GiB upload can be measured.
        cmd += ["--max-request-body-size", str(3 * 1024**3), "--secretfile", self.work / "secret"]
        with open(self.work / "server.log", "ab") as log:
            self._process = subprocess.Popen([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT)
        self._fast = fast
        wait_http(f"{self.url}/+api", self._process, timeout=180)
        pin_tree(self.pid)

    def start(self) -> None:
        if not self.serverdir.exists():
            run_quiet([BIN / "devpi-init", "--serverdir", self.serverdir, "--no-root-pypi"])
            run_quiet([BIN / "devpi-gen-secret", "--secretfile", self.work / "secret"])
        self._launch(fast=bool(eatmydata()))
        self._devpi("use", self.url)
        self._devpi("login", "root", "--password", "")
        self._devpi("user", "-c", self.user, f"password={self.password}")
        self._devpi("login", self.user, "--password", self.password)
        self._devpi("index", "-c", "dev", "bases=", "volatile=True")
        self._devpi("use", self.index)

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None

    def load(self, shards: Sequence[Path], budget: float = 7200) -> bool:
        # A login session token: no password hash per file (Basic auth costs argon2 each time).
        commands: list[list[str | Path]] = [[BIN / "devpi", "upload", "--from-dir", s] for s in shards]
        return run_parallel(commands, self.client_env, self.work / "load.log", budget)

    def ready_for_writes(self) -> None:
        if self._fast:
            stop_process(self._process)
            subprocess.run(["sync"], check=False)
            self._launch(fast=False)


class Nginx(Target):
    """nginx serving saved page bytes from disk: the ceiling for the same bytes."""

    name = "nginx"

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.root = work / "www"
        self.root.mkdir(exist_ok=True)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def add(self, name: str, body: bytes) -> str:
        (self.root / name).write_bytes(body)
        return f"{self.url}/{name}"

    def start(self) -> None:
        conf = self.work / "nginx.conf"
        conf.write_text(
            f"""user root;
worker_processes 1;
daemon off;
pid {self.work}/nginx.pid;
error_log {self.work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; application/vnd.pypi.simple.v1+json json; }}
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    etag on;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
    }}
}}
"""
        )
        temp = self.work / "tmp"
        temp.mkdir(exist_ok=True)
        cmd = ["nginx", "-p", str(temp), "-c", str(conf), "-e", str(self.work / "error.log")]
        with open(self.work / "server.log", "ab") as log:
            self._process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        (self.root / "ok").write_text("ok\n")
        wait_http(f"{self.url}/ok", self._process)
        pin_tree(self.pid)

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None
