"""Peak server RSS growth while one large wheel is uploaded, on the local store or on S3.

    .venv/bin/python bench/upload_rss.py [SIZE_MIB] [--s3]

Starts a real server (and, with --s3, a real SeaweedFS on loopback), warms up the
credential cache with one small request, uploads a wheel with one SIZE_MIB random member,
and samples the server's VmRSS every 20 ms. Not a test: a figure for docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

# Run as a script (bench/ is sys.path[0]): tests.support is found from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry_index.testing import WheelSpec, build_wheel
from tests.support.s3 import run_seaweedfs
from tests.support.servers import cli, run_server


def rss_mib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) // 1024


@contextlib.contextmanager
def store(tmp: Path, s3: bool) -> Iterator[tuple[str, dict[str, str]]]:
    if not s3:
        yield str(tmp / "store"), {}
        return
    with run_seaweedfs(tmp / "weed", tmp / "weed.log") as server:
        yield f"s3://{server.create_bucket('rss-bench')}", server.env()


def main() -> None:
    size = int(next((a for a in sys.argv[1:] if a.isdigit()), "1024"))
    s3 = "--s3" in sys.argv
    with tempfile.TemporaryDirectory() as name, store(Path(name), s3) as (storage, env):
        tmp = Path(name)
        cli("user", "add", "bench", "--password-stdin", storage=storage, input="bench-password\n", env=env)
        wheel = build_wheel(
            tmp, WheelSpec("big-upload", "1.0", files={"big_upload/blob.bin": os.urandom(size * 2**20)})
        )
        data = wheel.read_bytes()
        fields = {
            ":action": "file_upload",
            "protocol_version": "1",
            "name": "big-upload",
            "version": "1.0",
            "filetype": "bdist_wheel",
            "pyversion": "py3",
            "sha256_digest": hashlib.sha256(data).hexdigest(),
        }
        auth = ("bench", "bench-password")
        with run_server(storage, tmp / "server.log", "--max-upload-size", "4G", env=env) as server:
            httpx.post(server.upload, auth=auth)  # the first credential check (argon2) happens here
            pid = server.process.pid
            time.sleep(0.5)
            base = peak = rss_mib(pid)
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss_mib(pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            start = time.monotonic()
            resp = httpx.post(
                server.upload, data=fields, files={"content": (wheel.name, data)}, auth=auth, timeout=1800
            )
            took = time.monotonic() - start
            done.set()
            sampler.join()
        where = "S3 (SeaweedFS)" if s3 else "local store"
        print(
            f"{size} MiB upload to the {where}: HTTP {resp.status_code} in {took:.1f} s; "
            f"server RSS {base} MiB before, peak {peak} MiB, growth +{peak - base} MiB"
        )


if __name__ == "__main__":
    main()
