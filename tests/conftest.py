"""Fixtures shared by every layer: temp stores, a real server, client environments."""

from __future__ import annotations

import contextlib
import fcntl
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.clients import client_env
from tests.support.s3 import S3Server, run_seaweedfs
from tests.support.servers import Server, cli, run_server

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


def tool_venv(name: str, *requirements: str) -> Path:
    """A client with many dependencies of its own (poetry, hatch, pdm) in a side venv.

    Installed from PyPI once into ``.cache/<name>-venv`` (gitignored) and reused; a lock file
    keeps two test processes from building it at once. Returns the venv's bin directory.
    """
    venv = REPO / ".cache" / f"{name}-venv"
    venv.parent.mkdir(exist_ok=True)
    with open(venv.parent / f"{name}-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = venv / ".ready"
        wanted = "\n".join(requirements)
        if not stamp.exists() or stamp.read_text() != wanted:
            subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
            home = venv.parent / f"{name}-home"
            home.mkdir(exist_ok=True)
            subprocess.run(
                [venv / "bin" / "python", "-m", "pip", "install", "-q", "--index-url", "https://pypi.org/simple/",
                 *requirements],
                check=True,
                env=client_env(home),
            )  # fmt: skip
            stamp.write_text(wanted)
    return venv / "bin"


@dataclass
class Account:
    name: str
    password: str
    token: str


@dataclass
class Index:
    """A running server with its store and three accounts: owner, other, admin."""

    server: Server
    storage: str
    owner: Account
    other: Account
    admin: Account
    env: dict[str, str]
    home: Path
    backend: str = "local"
    server_env: dict[str, str] = field(default_factory=dict)  # AWS variables on S3

    @property
    def simple(self) -> str:
        return self.server.simple

    @property
    def upload(self) -> str:
        return self.server.upload

    @property
    def url(self) -> str:
        return self.server.url

    def cli(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return cli(*args, storage=self.storage, input=input, check=check, env=self.server_env)

    def objects(self) -> dict[str, bytes]:
        """Every object in the store with its bytes, on either backend (lock files excluded)."""
        if self.backend == "s3":
            import boto3

            bucket, _, prefix = self.storage.removeprefix("s3://").partition("/")
            client = boto3.client(
                "s3",
                endpoint_url=self.server_env["AWS_ENDPOINT_URL"],
                aws_access_key_id=self.server_env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=self.server_env["AWS_SECRET_ACCESS_KEY"],
                region_name="us-east-1",
            )
            start = f"{prefix}/" if prefix else ""
            out: dict[str, bytes] = {}
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=start):
                for obj in page.get("Contents", ()):
                    body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                    out[obj["Key"][len(start) :]] = body
            return out
        root = Path(self.storage)
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and ".locks" not in p.relative_to(root).parts
        }

    def start_server(self, log: Path, *args: str) -> contextlib.AbstractContextManager[Server]:
        """Another server process on the same store (restarts, several instances)."""
        return run_server(self.storage, log, *args, env=self.server_env)

    def run(
        self, *cmd: str | Path, check: bool = True, timeout: float = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a client tool (pip, uv, twine) in the isolated client environment (plus ``env``)."""
        return subprocess.run(
            [str(c) for c in cmd],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def twine(
        self, *files: Path, account: Account | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        acct = account or self.owner
        return self.run(
            BIN / "twine",
            "upload",
            "--disable-progress-bar",
            "--non-interactive",
            "--repository-url",
            self.upload,
            f"--username={acct.name}",
            f"--password={acct.password}",
            *files,
            check=check,
        )


def make_account(storage: str, name: str, env: dict[str, str], *, admin: bool = False) -> Account:
    password = "pw" + secrets.token_urlsafe(16)  # never starts with "-": CLIs would read a flag
    args = ["user", "add", name, "--password-stdin"] + (["--admin"] if admin else [])
    cli(*args, storage=storage, input=password + "\n", env=env)
    token = cli("token", "create", name, storage=storage, env=env).stdout.strip().splitlines()[-1]
    return Account(name, password, token)


def _start_index(tmp: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Index]:
    server_env: dict[str, str] = {}
    if backend == "s3":
        s3: S3Server = request.getfixturevalue("seaweedfs")
        storage = f"s3://{new_bucket(s3)}/index"
        server_env = s3.env()
    else:
        storage = str(tmp / "store")
    owner = make_account(storage, "alice", server_env)
    other = make_account(storage, "bob", server_env)
    admin = make_account(storage, "root", server_env, admin=True)
    home = tmp / "home"
    home.mkdir()
    with run_server(storage, tmp / "server.log", env=server_env) as server:
        yield Index(server, storage, owner, other, admin, client_env(home), home, backend, server_env)


BACKENDS = ["local", "s3"]


@pytest.fixture(scope="module", params=BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """One server per test module and backend; tests use distinct project names."""
    yield from _start_index(tmp_path_factory.mktemp("index"), request.param, request)


@pytest.fixture(params=BACKENDS)
def fresh_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Index]:
    """A server of the test's own, for tests that restart it or need an empty store."""
    yield from _start_index(tmp_path, request.param, request)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One real S3 server per test process; tests take their own buckets in it."""
    tmp = tmp_path_factory.mktemp("seaweedfs")
    with run_seaweedfs(tmp / "data", tmp / "weed.log") as server:
        yield server


def new_bucket(s3: S3Server) -> str:
    return s3.create_bucket("ri-" + secrets.token_hex(6))


def wait_until(check: Callable[[], bool], timeout: float = 15, what: str = "condition") -> None:
    """Admin CLI changes reach the server within its freshness window (1 s by default)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
