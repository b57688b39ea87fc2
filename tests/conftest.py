"""Fixtures shared by every layer: temp stores, a real server, client environments."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry_index.testing import S3Server, Server, cli, client_env, run_seaweedfs, run_server

BIN = Path(sys.executable).parent


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
        return cli(*args, storage=self.storage, input=input, check=check)

    def run(
        self, *cmd: str | Path, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a client tool (pip, uv, twine) in the isolated client environment."""
        return subprocess.run(
            [str(c) for c in cmd], env=self.env, capture_output=True, text=True, check=check, timeout=timeout
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
            "-u",
            acct.name,
            "-p",
            acct.password,
            *files,
            check=check,
        )


def make_account(storage: str, name: str, *, admin: bool = False) -> Account:
    password = secrets.token_urlsafe(16)
    args = ["user", "add", name, "--password-stdin"] + (["--admin"] if admin else [])
    cli(*args, storage=storage, input=password + "\n")
    token = cli("token", "create", name, storage=storage).stdout.strip().splitlines()[-1]
    return Account(name, password, token)


def _start_index(tmp: Path, *extra: str) -> Iterator[Index]:
    storage = str(tmp / "store")
    owner = make_account(storage, "alice")
    other = make_account(storage, "bob")
    admin = make_account(storage, "root", admin=True)
    home = tmp / "home"
    home.mkdir()
    with run_server(storage, tmp / "server.log", *extra) as server:
        yield Index(server, storage, owner, other, admin, client_env(home), home)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """One server per test module; tests use distinct project names."""
    yield from _start_index(tmp_path_factory.mktemp("index"))


@pytest.fixture()
def fresh_index(tmp_path: Path) -> Iterator[Index]:
    """A server of the test's own, for tests that restart it or need an empty store."""
    yield from _start_index(tmp_path)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One real S3 server per test process; tests take their own buckets in it."""
    tmp = tmp_path_factory.mktemp("seaweedfs")
    with run_seaweedfs(tmp / "data", tmp / "weed.log") as server:
        yield server


def new_bucket(s3: S3Server) -> str:
    return s3.create_bucket("ri-" + secrets.token_hex(6))
