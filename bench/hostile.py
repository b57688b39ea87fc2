"""Hostile uploads: time to refusal, peak server RSS growth, and /healthz latency meanwhile.

    bench/.venv/bin/python -m bench.hostile [--record-lines N] [--members N]

The two archives of the outside review (issue 12), at the default upload limit: a wheel with
valid METADATA and WHEEL whose RECORD has 8 million lines (21 MB), and an sdist of one
million empty members (6 MB). Each is uploaded once to a fresh server with the default
settings while another thread asks ``/healthz`` every 10 ms; the server's VmRSS is sampled
every 10 ms, with its worker processes (where upload checks run). ``make bench`` runs it too and puts the figures in its report; pypiserver, in the
same run, shows what an index without these checks does with the same files.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from registry_index.testing import legacy_form, many_member_sdist, record_bomb_wheel
from tests.support.servers import cli, run_server

MiB = 1024 * 1024


def _rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) * 1024
    except (OSError, StopIteration):
        return 0  # the process ended between listing and reading


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def rss(pid: int) -> int:
    """The server's resident memory with its worker processes (upload checks run there)."""
    todo, total = [pid], 0
    while todo:
        current = todo.pop()
        total += _rss_of(current)
        todo += _children(current)
    return total


@dataclass
class Outcome:
    name: str
    status: int
    seconds: float
    rss_growth: int
    body_bytes: int
    health_p99_ms: float
    health_max_ms: float
    message: str

    def line(self) -> str:
        return (
            f"{self.name}: HTTP {self.status} in {self.seconds:.2f} s, peak RSS growth "
            f"+{self.rss_growth / MiB:.0f} MiB, a {self.body_bytes:,}-byte answer; /healthz meanwhile "
            f"p99 {self.health_p99_ms:.1f} ms, max {self.health_max_ms:.1f} ms ({self.message[:80]!r})"
        )


def measure(
    name: str, pid: int, upload_url: str, health_url: str, path: Path, auth: tuple[str, str]
) -> Outcome:
    """One upload of ``path`` with RSS sampling and a /healthz prober beside it."""
    fields, files = legacy_form(path)
    base = peak = rss(pid)
    done = threading.Event()
    latencies: list[float] = []

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss(pid))
            time.sleep(0.01)

    def probe() -> None:
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                started = time.perf_counter()
                client.get(health_url)
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.01)

    threads = [threading.Thread(target=sample), threading.Thread(target=probe)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        resp = httpx.post(upload_url, data=fields, files=files, auth=auth, timeout=900)
    finally:
        seconds = time.monotonic() - started
        done.set()
        for thread in threads:
            thread.join()
    quantiles = (
        statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) >= 2 else [0.0] * 99
    )
    return Outcome(
        name,
        resp.status_code,
        seconds,
        peak - base,
        len(resp.content),
        quantiles[98],
        max(latencies, default=0.0),
        resp.reason_phrase if resp.status_code >= 400 else resp.text.strip(),
    )


def archives(directory: Path, record_lines: int, members: int) -> dict[str, Path]:
    """The two archives, built once per size and reused by every server of a run."""
    record_dir, members_dir = directory / f"record-{record_lines}", directory / f"members-{members}"
    for folder in (record_dir, members_dir):
        folder.mkdir(parents=True, exist_ok=True)
    record = next(record_dir.glob("*.whl"), None) or record_bomb_wheel(record_dir, record_lines)
    sdist = next(members_dir.glob("*.tar.gz"), None) or many_member_sdist(members_dir, members)
    return {
        f"RECORD bomb ({record_lines:,} lines)": record,
        f"sdist of {members:,} empty members": sdist,
    }


def ours(tmp: Path, files: dict[str, Path]) -> list[Outcome]:
    """registry_index with the default settings, a fresh server per archive."""
    outcomes = []
    for n, (name, path) in enumerate(files.items()):
        storage = str(tmp / f"store-{n}")
        cli("user", "add", "bench", "--password-stdin", storage=storage, input="bench-password\n")
        with run_server(storage, tmp / f"server-{n}.log") as server:
            auth = ("bench", "bench-password")
            httpx.post(server.upload, auth=auth)  # the credential's first argon2 check, before measuring
            time.sleep(0.5)
            outcomes.append(
                measure(name, server.process.pid, server.upload, f"{server.url}/healthz", path, auth)
            )
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record-lines", type=int, default=8_000_000)
    parser.add_argument("--members", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as name:
        tmp = Path(name)
        print("building the archives ...", file=sys.stderr)
        files = archives(tmp / "archives", args.record_lines, args.members)
        for outcome in ours(tmp, files):
            print(outcome.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
