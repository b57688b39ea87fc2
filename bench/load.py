"""Load generation (wrk, or a labelled Python fallback), core pinning and RSS sampling."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

SERVER_CPU = 0
CLIENT_CPU = 1
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
)


# -- pinning -----------------------------------------------------------------------------


# Read once at import, before the harness pins itself to the client core.
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def can_pin() -> bool:
    return _CORES >= 2


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except FileNotFoundError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
            except FileNotFoundError:
                continue
    return out


def pin_tree(pid: int, cpu: int = SERVER_CPU) -> None:
    """Pin a process, its threads and its children to one core (new threads inherit it)."""
    if not can_pin():
        return
    for proc in descendants(pid):
        try:
            tids = os.listdir(f"/proc/{proc}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), {cpu})
            except (ProcessLookupError, PermissionError):
                continue


def client_prefix() -> list[str]:
    """The command prefix that runs a client tool on the load-generator core."""
    return ["taskset", "-c", str(CLIENT_CPU)] if can_pin() and shutil.which("taskset") else []


# -- memory --------------------------------------------------------------------------------


def tree_rss(pid: int) -> int:
    """Resident memory of a process and its children, in bytes."""
    total = 0
    for proc in descendants(pid):
        try:
            with open(f"/proc/{proc}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except FileNotFoundError:
            continue
    return total


class RssSampler:
    """Samples a process tree's RSS every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.baseline = tree_rss(pid)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, tree_rss(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


# -- load ----------------------------------------------------------------------------------


@dataclass
class LoadResult:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    requests: int = 0
    errors: int = 0  # non-2xx/3xx answers, socket errors and timeouts
    runs: list[float] = field(default_factory=list)  # each run's rate, for the raw log


def warm_up(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 120
) -> tuple[int, dict[str, str]]:
    """One GET before measuring; returns the status and the response headers."""
    req = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read a wrk duration from {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(output: str) -> LoadResult:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    total = re.search(r"(\d+) requests in", output)
    if total is None or int(total[1]) == 0:  # nothing answered within the run
        return LoadResult(0.0, float("nan"), float("nan"), 0, 0)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non2xx[1]) if non2xx else 0
    return LoadResult(
        rate,
        _ms(p50[1]) if p50 else float("nan"),
        _ms(p99[1]) if p99 else float("nan"),
        int(total[1]),
        errors,
    )


@dataclass(frozen=True)
class LoadGenerator:
    """``wrk -t1 -cC -dDs --latency``, or the Python fallback when wrk is not installed."""

    duration: int = 10
    connections: int = 16
    runs: int = 3
    fallback: bool = False

    @property
    def label(self) -> str:
        if self.fallback:
            return (
                f"PYTHON FALLBACK (httpx, wrk not installed: figures far below wrk's), "
                f"{self.connections} connections, {self.duration}s, median of {self.runs}"
            )
        return f"wrk -t1 -c{self.connections} -d{self.duration}s --latency, median of {self.runs}"

    def measure(self, url: str, headers: Mapping[str, str] | None = None) -> LoadResult:
        """A warm-up GET, then ``runs`` bounded runs; medians of rate, p50 and p99."""
        warm_up(url, headers)
        results = [self._once(url, headers or {}) for _ in range(self.runs)]
        return LoadResult(
            statistics.median(r.rate for r in results),
            statistics.median(r.p50_ms for r in results),
            statistics.median(r.p99_ms for r in results),
            sum(r.requests for r in results),
            sum(r.errors for r in results),
            [r.rate for r in results],
        )

    def _once(self, url: str, headers: Mapping[str, str]) -> LoadResult:
        if self.fallback:
            return asyncio.run(python_load(url, headers, self.duration, self.connections))
        cmd = [*client_prefix(), "wrk", "-t1", f"-c{self.connections}", f"-d{self.duration}s"]
        cmd += ["--latency", "--timeout", "30s"]
        for key, value in headers.items():
            cmd += ["-H", f"{key}: {value}"]
        out = subprocess.run(
            [*cmd, url], capture_output=True, text=True, check=True, timeout=self.duration + 60
        )
        return parse_wrk(out.stdout)


async def python_load(
    url: str, headers: Mapping[str, str], duration: float, connections: int, max_requests: int = 2_000_000
) -> LoadResult:
    """A small closed-loop load generator on httpx: bounded by ``duration`` and ``max_requests``."""
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline and len(latencies) < max_requests:
                start = time.perf_counter()
                try:
                    resp = await client.get(url, headers=dict(headers))
                    await resp.aread()
                    if resp.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - start) * 1000)

        begin = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - begin
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return LoadResult(len(latencies) / elapsed, pct(0.50), pct(0.99), len(latencies), errors)


def timed_get(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 120
) -> tuple[float, bytes]:
    """One GET on a fresh connection: (milliseconds, body)."""
    req = urllib.request.Request(url, headers=dict(headers or {}))
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read()
    return (time.perf_counter() - start) * 1000, body
