"""The benchmark plan: every server in turn, the same corpus, the same measurements.

Servers run one at a time (every other one is stopped, so idle), pinned to core 0; wrk and
every client tool run on core 1. Each index grows stage by stage (100 → 1,000 → 10,000
projects by default) and is measured at each size.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import math
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from registry_index.testing import WheelSpec, build_wheel
from tests.support.s3 import run_seaweedfs

from . import clients, hostile
from .corpus import CHAIN, PAGE_50, PAGE_BIG, Corpus, CorpusSpec, big_wheel, build_corpus, upload_batch
from .load import PIP_ACCEPT, LoadGenerator, LoadResult, RssSampler, can_pin, pin_tree, timed_get, warm_up
from .proxy import ProxyStage, proxy_targets
from .report import OURS, Results, Target, ms, num
from .servers import Devpi, Nginx, Pypiserver, RegistryIndex
from .servers import Target as Server

HERE = Path(__file__).resolve().parent
MiB = 1024 * 1024
JSON = {"Accept": PIP_ACCEPT}
QUIET = 0.25  # cores' worth of CPU used elsewhere that counts as a busy machine
PINNING = "server (and its S3 server) on core 0, load generator and client tools on core 1 (taskset)"


@dataclass(frozen=True)
class Config:
    stages: tuple[int, ...] = (100, 1000, 10000)
    versions: int = 1
    big_files: int = 2000
    chain_payload_kib: int = 256
    duration: int = 10
    runs: int = 3
    connections: int = 16
    install_runs: int = 3
    upload_files: int = 200
    big_upload_mib: int = 1024
    hostile_record_lines: int = 8_000_000  # the outside review's RECORD bomb (issue 12)
    hostile_members: int = 1_000_000
    cold_changes: int = 5
    cold_budget_s: float = 90.0  # per page and format: a slow peer stops sooner
    big_load_budget_s: float = 600.0  # devpi slows down with every version it holds
    quiet_wait_s: float = 30.0  # how long to wait for other processes to calm down
    peers: tuple[str, ...] = ("pypiserver", "devpi")
    proxy_peers: tuple[str, ...] = ("devpi", "proxpi")  # the upstream-proxy stage (issue 14)
    proxy: bool = True
    s3: bool = True
    nginx: bool = True
    fallback_load: bool = False
    smoke: bool = False

    @classmethod
    def from_env(cls, smoke: bool) -> Config:
        base = cls.smoke_defaults() if smoke else cls()
        env = os.environ

        def get(name: str, default: str) -> str:
            return env.get(f"BENCH_{name}", default)

        return replace(
            base,
            stages=tuple(int(s) for s in get("STAGES", ",".join(map(str, base.stages))).split(",")),
            versions=int(get("VERSIONS", str(base.versions))),
            big_files=int(get("BIG_FILES", str(base.big_files))),
            chain_payload_kib=int(get("CHAIN_PAYLOAD_KIB", str(base.chain_payload_kib))),
            duration=int(get("DURATION", str(base.duration))),
            runs=int(get("RUNS", str(base.runs))),
            connections=int(get("CONNECTIONS", str(base.connections))),
            install_runs=int(get("INSTALL_RUNS", str(base.install_runs))),
            upload_files=int(get("UPLOAD_FILES", str(base.upload_files))),
            big_upload_mib=int(get("BIG_UPLOAD_MIB", str(base.big_upload_mib))),
            cold_changes=int(get("COLD_CHANGES", str(base.cold_changes))),
            big_load_budget_s=float(get("BIG_LOAD_BUDGET_S", str(base.big_load_budget_s))),
            quiet_wait_s=float(get("QUIET_WAIT_S", str(base.quiet_wait_s))),
            peers=tuple(p for p in get("PEERS", ",".join(base.peers)).split(",") if p and p != "none"),
            s3=get("S3", "1" if base.s3 else "0") == "1",
            proxy_peers=tuple(
                p for p in get("PROXY_PEERS", ",".join(base.proxy_peers)).split(",") if p and p != "none"
            ),
            proxy=get("PROXY", "1" if base.proxy else "0") == "1",
        )

    @classmethod
    def smoke_defaults(cls) -> Config:
        return cls(
            stages=(15, 40),
            big_files=100,
            chain_payload_kib=16,
            duration=1,
            runs=1,
            install_runs=1,
            upload_files=20,
            big_upload_mib=20,
            hostile_record_lines=200_000,
            hostile_members=60_000,
            cold_changes=2,
            cold_budget_s=20,
            big_load_budget_s=60,
            quiet_wait_s=3,
            # the proxy stage's tiny version: 3 wheels built here behind python -m http.server
            smoke=True,
        )

    def corpus_spec(self) -> CorpusSpec:
        return CorpusSpec(self.stages, self.versions, self.big_files, self.chain_payload_kib)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def other_load(seconds: float = 1.0) -> float:
    """Cores' worth of CPU time used by anything over ``seconds`` while the harness is idle."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields[:8]) - idle, sum(fields[:8])

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    cores = os.cpu_count() or 1
    return (busy1 - busy0) / max(1, total1 - total0) * cores


# -- tools from Debian -----------------------------------------------------------------------

DEBIAN = {"wrk": "wrk", "nginx": "nginx-light", "eatmydata": "eatmydata"}


def ensure_tools(install: bool) -> None:
    missing = [tool for tool in DEBIAN if not shutil.which(tool)]
    if not missing:
        return
    packages = [DEBIAN[t] for t in missing]
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"installing {' '.join(packages)} from Debian (apt-get install -y): {', '.join(missing)} missing")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env, check=False, timeout=900)
    for tool in missing:
        if not shutil.which(tool):
            say(f"{tool} is not installed (apt-get install {DEBIAN[tool]}); see the notes in the report")


# -- measurements --------------------------------------------------------------------------


def load_cell(result: LoadResult) -> str:
    text = f"{num(result.rate)}/s · p50 {ms(result.p50_ms)} · p99 {ms(result.p99_ms)} ms"
    return text + (f" ({result.errors} errors)" if result.errors else "")


class Bench:
    def __init__(self, cfg: Config, out: Path, work: Path) -> None:
        self.cfg = cfg
        self.out = out
        self.work = work
        self.results = Results()
        self.gen = LoadGenerator(cfg.duration, cfg.connections, cfg.runs, cfg.fallback_load)
        self.pages: dict[str, bytes] = {}  # our page bytes, served again by nginx
        self.corpus: Corpus | None = None
        self._change = 0
        self.noisy: list[str] = []
        self.elapsed = 0.0
        self.background = "not measured"
        self.proxy_results: Results | None = None

    # rows ---------------------------------------------------------------------------------

    def load_row(
        self,
        key: str,
        label: str,
        server: str,
        url: str,
        headers: dict[str, str] | None = None,
        note: str = "",
    ) -> None:
        say(f"{server}: {label}")
        self.wait_quiet(f"{server}: {label}")
        status, _ = warm_up(url, headers)
        if status >= 400:
            self.results.put(key, label, "higher", server, None, f"HTTP {status}")
            return
        result = self.gen.measure(url, headers)
        self.results.put(key, label, "higher", server, result.rate, load_cell(result) + note)
        self.results.put(key + ":p50", "", "lower", server, result.p50_ms, "")  # kept for targets only
        self.results.put(key + ":p99", "", "lower", server, result.p99_ms, "")

    def wait_quiet(self, what: str) -> None:
        """Wait (bounded) until nothing else uses the CPU, so a measurement is not disturbed."""
        deadline = time.monotonic() + self.cfg.quiet_wait_s
        while (busy := other_load(0.5)) > QUIET:
            if time.monotonic() > deadline:
                self.noisy.append(f"{what} ({busy:.0%} of a core busy elsewhere)")
                say(f"the machine is busy ({busy:.0%} of a core): measuring anyway")
                return
            time.sleep(2)

    def save_page(self, target: Server, name: str, url: str, headers: dict[str, str] | None = None) -> None:
        if target.name == OURS:
            self.pages[name] = timed_get(url, headers)[1]

    def page_rows(self, target: Server, project: str, files: str, tag: str, note: str = "") -> None:
        url = target.page(project)
        self.load_row(f"{tag}-html", f"project page, {files} files, HTML, warm", target.name, url, note=note)
        label = f"project page, {files} files, JSON (pip's Accept), warm"
        self.load_row(f"{tag}-json", label, target.name, url, JSON, note=note)
        self.save_page(target, f"{tag}.html", url)
        self.save_page(target, f"{tag}.json", url, JSON)
        label = f"project page, {files} files, If-None-Match → 304"
        _, headers = warm_up(url)
        etag = headers.get("etag")
        if etag is None:
            self.results.put(f"{tag}-304", label, "higher", target.name, None, "no ETag")
        else:
            self.load_row(f"{tag}-304", label, target.name, url, {"If-None-Match": etag}, note=note)

    def cold_rows(self, target: Server, project: str, files: str, tag: str, note: str = "") -> None:
        """First request after a change: upload a new release, then time one GET."""
        for fmt, headers in (("HTML", {}), ("JSON", JSON)):
            label = f"project page, {files} files, {fmt}, first request after an upload (median ms)"
            say(f"{target.name}: {label}")
            times: list[float] = []
            deadline = time.monotonic() + self.cfg.cold_budget_s
            (self.work / "changes").mkdir(exist_ok=True)
            for _ in range(self.cfg.cold_changes):
                self._change += 1
                wheel = build_wheel(self.work / "changes", WheelSpec(project, f"9000.{self._change}"))
                clients.upload_file(target.upload_url, target.user, target.password, wheel)
                elapsed, body = timed_get(target.page(project), headers)
                if wheel.name.encode() not in body:
                    raise RuntimeError(f"{target.name}: the page does not list {wheel.name} after its upload")
                times.append(elapsed)
                if time.monotonic() > deadline:
                    break
            median = statistics.median(times)
            text = (
                f"{ms(median)} ms"
                + (f" (n={len(times)})" if len(times) < self.cfg.cold_changes else "")
                + note
            )
            self.results.put(f"{tag}-cold-{fmt.lower()}", label, "lower", target.name, median, text)

    def install_rows(self, target: Server) -> None:
        home = clients.fresh_home(self.work, f"home-{target.port}")
        requirement = CHAIN[0]
        runs = self.cfg.install_runs
        for key, label, fn in (
            (
                "pip",
                f"pip install --no-cache-dir, {len(CHAIN)}-package chain (s, median of {runs})",
                clients.pip_install,
            ),
            (
                "uv",
                f"uv pip install --no-cache, {len(CHAIN)}-package chain (s, median of {runs})",
                clients.uv_install,
            ),
        ):
            say(f"{target.name}: {label}")
            seconds = statistics.median(fn(target.simple, requirement, home) for _ in range(runs))
            self.results.put(key, label, "lower", target.name, seconds, f"{seconds:.2f} s")
        label = "uv pip compile of the chain: bytes downloaded (requests)"
        say(f"{target.name}: {label}")
        with clients.counting_proxy(target.port) as (port, counts):
            clients.uv_compile(clients.proxied(target.simple, port), requirement, home)
        text = f"{counts.down / 1024:,.1f} KiB ({counts.requests})"
        self.results.put("compile-bytes", label, "lower", target.name, counts.down, text)

    def upload_rows(self, target: Server, suffix: str = "") -> None:
        files = upload_batch(self.work / f"uploads-{self.cfg.upload_files}", self.cfg.upload_files)
        label = f"twine upload of {len(files)} small files (s){suffix}"
        say(f"{target.name}: {label}")
        home = clients.fresh_home(self.work, f"home-twine-{target.port}")
        seconds = clients.twine_upload(target.upload_url, target.user, target.password, files, home)
        text = f"{seconds:.2f} s ({len(files) / seconds:.0f} files/s)"
        self.results.put(
            f"twine{suffix}",
            label,
            "lower",
            OURS if target.name.startswith(OURS) else target.name,
            seconds,
            text,
        )

    def big_upload_rows(self, target: Server, suffix: str = "") -> None:
        size = self.cfg.big_upload_mib * MiB
        what = f"{self.cfg.big_upload_mib} MiB" if size < 1024 * MiB else f"{size / 1024**3:g} GiB"
        wheel = big_wheel(self.work.parent / "big", "big-upload-bench", size)
        label = f"upload of one {what} wheel: time, peak server RSS growth{suffix}"
        say(f"{target.name}: {label}")
        column = OURS if target.name.startswith(OURS) else target.name
        try:
            with RssSampler(target.pid) as rss:
                seconds = clients.upload_file(target.upload_url, target.user, target.password, wheel)
        except Exception as exc:  # a peer refusing a large file is a result, not a crash
            self.results.put(f"big{suffix}", label, "lower", column, None, f"failed: {str(exc)[:80]}")
            return
        growth = rss.growth / MiB
        text = f"{seconds:.1f} s, +{growth:.0f} MiB"
        self.results.put(f"big{suffix}", label, "lower", column, growth, text)
        self.results.put(f"big{suffix}:time", "", "lower", column, seconds, "")

    # servers ------------------------------------------------------------------------------

    def run_server(self, target: Server) -> None:
        corpus = self.corpus
        assert corpus is not None
        stages = self.cfg.stages
        with target:
            for index, count in enumerate(stages):
                say(f"{target.name}: loading stage {index + 1}/{len(stages)} (to {count:,} projects)")
                started = time.monotonic()
                target.load(corpus.shards(index))
                say(f"{target.name}: loaded in {time.monotonic() - started:.0f} s")
                if index == 0:
                    key = "page50-first"
                    label = f"project page, 50 files, HTML, at {count:,} projects"
                    self.load_row(key, label, target.name, target.page(PAGE_50))
                else:
                    label = f"root page /simple/, {count:,} projects, HTML"
                    self.load_row(f"root-{count}", label, target.name, target.simple)
                    self.save_page(target, f"root-{count}.html", target.simple)
            note = self.load_big(target)
            self.page_rows(target, PAGE_50, "50", "page50")
            self.page_rows(target, PAGE_BIG, f"{self.cfg.big_files:,}", "pagebig", note)
            first = self.results.value("page50-first:p50", target.name)
            last = self.results.value("page50-html:p50", target.name)
            if first and last:
                label = f"project page p50 at {stages[-1]:,} ÷ at {stages[0]:,} projects (flat = 1)"
                self.results.put("growth", label, "lower", target.name, last / first, f"{last / first:.2f}")
            self.install_rows(target)
            target.ready_for_writes()
            self.cold_rows(target, PAGE_50, "50", "page50")
            self.cold_rows(target, PAGE_BIG, f"{self.cfg.big_files:,}", "pagebig", note)
            self.upload_rows(target)
            self.big_upload_rows(target)
            self.hostile_rows(target)

    def hostile_rows(self, target: Server) -> None:
        """Issue 12's hostile archives: time to the answer, RSS growth, /healthz p99 meanwhile."""
        files = hostile.archives(
            self.work.parent / "hostile", self.cfg.hostile_record_lines, self.cfg.hostile_members
        )
        column = OURS if target.name.startswith(OURS) else target.name
        for n, (name, path) in enumerate(files.items()):
            say(f"{target.name}: hostile upload: {name}")
            try:
                out = hostile.measure(
                    name,
                    target.pid,
                    target.upload_url,
                    target.health_url,
                    path,
                    (target.user, target.password),
                )
            except Exception as exc:  # a peer falling over is a result
                self.results.put(
                    f"hostile-{n}", f"hostile upload: {name}", "lower", column, None, f"failed: {exc}"[:90]
                )
                continue
            text = (
                f"HTTP {out.status} in {out.seconds:.2f} s, +{out.rss_growth / MiB:.0f} MiB, "
                f"/healthz p99 {out.health_p99_ms:.0f} ms"
            )
            label = f"hostile upload: {name} (answer, peak RSS growth, health p99)"
            self.results.put(f"hostile-{n}", label, "lower", column, out.seconds, text)

    def load_big(self, target: Server) -> str:
        """Load the large project within a time budget; a note for its cells if it fell short."""
        assert self.corpus is not None
        if not self.cfg.big_files:
            return ""
        say(f"{target.name}: loading the {self.cfg.big_files:,}-file project")
        started = time.monotonic()
        finished = target.load([self.corpus.big()], self.cfg.big_load_budget_s)
        elapsed = time.monotonic() - started
        say(f"{target.name}: loaded in {elapsed:.0f} s")
        if finished:
            return ""
        _, body = timed_get(target.page(PAGE_BIG), JSON, timeout=600)
        listed = body.count(b'"filename"') or body.count(b"<a ")
        self.results.notes.append(
            f"{target.name}: loading the {self.cfg.big_files:,}-file project was stopped after "
            f"{elapsed / 60:.0f} min with {listed:,} files listed (each upload got slower as the project "
            f"grew); its large-page figures are for {listed:,} files."
        )
        return f" [{listed:,} files]"

    def run_nginx(self) -> None:
        with Nginx(self.work / "nginx") as nginx:
            for name, body in self.pages.items():
                url = nginx.add(name, body)
                tag, kind = name.rsplit(".", 1)
                if tag.startswith("root-"):
                    count = int(tag.removeprefix("root-"))
                    self.load_row(tag, f"root page /simple/, {count:,} projects, HTML", "nginx", url)
                else:
                    key = f"{tag}-{kind}"
                    row = self.results.rows.get(key)
                    self.load_row(
                        key, row.label if row else key, "nginx", url, JSON if kind == "json" else None
                    )

    def run_s3(self) -> None:
        corpus = self.corpus
        assert corpus is not None
        s3_dir = self.work / "s3"
        with run_seaweedfs(s3_dir / "data", s3_dir / "weed.log") as s3:
            # The S3 server counts as server side: it shares core 0 with the index.
            pin_tree(s3.process.pid)
            bucket = s3.create_bucket("bench-" + secrets.token_hex(4))
            target = RegistryIndex(self.work / "ri-s3", f"s3://{bucket}/index", s3.env())
            with target:
                say(f"{target.name}: loading stage 1 ({self.cfg.stages[0]} projects)")
                target.load(corpus.shards(0))
                label = "project page, 50 files, HTML, warm, on S3"
                self.load_row("s3-page50-html", label, OURS, target.page(PAGE_50))
                self.upload_rows(target, " on S3")
                self.big_upload_rows(target, " on S3")

    # the whole run --------------------------------------------------------------------------

    def run_proxy(self, only_ours: bool = False) -> None:
        peers = () if only_ours else self.cfg.proxy_peers
        self.proxy_results = ProxyStage(self, say).run(peers)

    def run(self, only_ours: bool = False, only: str | None = None) -> Results:
        started = time.monotonic()
        before = other_load()
        if only == "proxy":
            self.run_proxy(only_ours)
            self.elapsed = time.monotonic() - started
            self.background = f"{before:.0%} of a core busy before the run, {other_load():.0%} after it"
            self.noise_note(self.proxy_results)
            return self.results
        self.corpus = build_corpus(self.cfg.corpus_spec(), self.work.parent, say)
        targets: list[Callable[[], Server]] = [lambda: RegistryIndex(self.work / "registry_index")]
        peers = () if only_ours else self.cfg.peers
        available = peer_versions()
        for peer in peers:
            if peer not in available:
                self.results.notes.append(f"{peer} skipped: it is not installed in this environment.")
                say(f"{peer} is not installed here: skipped")
            elif peer == "pypiserver":
                targets.append(lambda: Pypiserver(self.work / "pypiserver"))
            elif peer == "devpi":
                targets.append(lambda: Devpi(self.work / "devpi"))
        for make in targets:
            target = make()
            try:
                self.run_server(target)
            except Exception as exc:
                if target.name == OURS:
                    raise
                self.results.notes.append(f"{target.name} failed part-way: {exc}")
                say(f"{target.name} FAILED: {exc}")
        if self.cfg.nginx and not only_ours and shutil.which("nginx"):
            self.run_nginx()
        elif self.cfg.nginx and not only_ours:
            self.results.notes.append("nginx skipped: not installed (apt-get install nginx-light).")
        if self.cfg.s3:
            self.run_s3()
        if self.cfg.proxy:
            self.run_proxy(only_ours)
        else:
            self.results.notes.append(
                "The upstream-proxy stage (issue 14) was not run: `python -m bench --only proxy` runs it."
            )
        self.elapsed = time.monotonic() - started
        self.background = f"{before:.0%} of a core busy before the run, {other_load():.0%} after it"
        self.noise_note(self.results)
        return self.results

    def noise_note(self, results: Results | None) -> None:
        if self.noisy and results is not None:
            results.notes.append(
                f"{len(self.noisy)} load measurements began while other processes kept the CPU busy "
                f"(after waiting up to {self.cfg.quiet_wait_s:.0f} s for quiet), so they may read low: "
                + "; ".join(self.noisy)
            )


# -- targets of issue 7 --------------------------------------------------------------------


def _ratio_target(key: str, peer: str, need: float) -> Callable[[Results], tuple[bool | None, str]]:
    def check(results: Results) -> tuple[bool | None, str]:
        row = results.rows.get(key)
        adv = row.advantage(peer) if row else None
        if adv is None:
            return None, "-"
        return adv >= need, f"{adv:.3g}x {peer} (need ≥ {need:.3g}x)"

    return check


def _max_target(
    key: str, limit: float, unit: str, server: str = OURS
) -> Callable[[Results], tuple[bool | None, str]]:
    def check(results: Results) -> tuple[bool | None, str]:
        value = results.value(key, server)
        if value is None or math.isnan(value):
            return None, "-"
        return value <= limit, f"{value:.3g} {unit} (need ≤ {limit:g})"

    return check


def _all(
    *checks: Callable[[Results], tuple[bool | None, str]],
) -> Callable[[Results], tuple[bool | None, str]]:
    def check(results: Results) -> tuple[bool | None, str]:
        outcomes = [c(results) for c in checks]
        verdicts = [m for m, _ in outcomes]
        met = None if any(v is None for v in verdicts) else all(verdicts)
        return met, "; ".join(e for _, e in outcomes)

    return check


def _304_check(results: Results) -> tuple[bool | None, str]:
    ok, page = results.value("page50-304"), results.value("page50-html")
    if ok is None or page is None:
        return None, "-"
    return ok >= page, f"304: {num(ok)}/s vs 200: {num(page)}/s"


def targets(cfg: Config) -> list[Target]:
    largest, smallest = cfg.stages[-1], cfg.stages[0]
    root_key = "root-10000" if 10000 in cfg.stages else f"root-{largest}"
    root_n = f"{int(root_key.split('-')[1]):,}"
    out = [
        Target(
            "Project page (50 files), HTML and JSON: ≥ 1/3 of nginx's rate, p99 < 5 ms",
            _all(
                _ratio_target("page50-html", "nginx", 1 / 3),
                _ratio_target("page50-json", "nginx", 1 / 3),
                _max_target("page50-html:p99", 5, "ms"),
                _max_target("page50-json:p99", 5, "ms"),
            ),
        ),
        Target(
            f"Root page at {root_n} projects: ≥ 1/2 of nginx's rate, p99 < 20 ms",
            _all(_ratio_target(root_key, "nginx", 0.5), _max_target(f"{root_key}:p99", 20, "ms")),
        ),
        Target("A 304 revalidation at least as fast as a 200 for the same page", _304_check),
        Target(
            f"Project-page p50 at {largest:,} projects within 1.2x of its p50 at {smallest:,}",
            _max_target("growth", 1.2, "x"),
        ),
        Target(
            "uv pip compile downloads ≤ 5% of the bytes it downloads from pypiserver",
            _ratio_target("compile-bytes", "pypiserver", 20),
        ),
        Target("uv pip install no slower than against devpi", _ratio_target("uv", "devpi", 1.0)),
        Target(
            f"{cfg.upload_files}-file twine upload no slower than pypiserver",
            _ratio_target("twine", "pypiserver", 1.0),
        ),
        Target(
            f"{cfg.big_upload_mib} MiB upload: server RSS growth ≤ 32 MiB, local store and S3",
            _all(_max_target("big", 32, "MiB"), _max_target("big on S3", 32, "MiB")),
        ),
    ]
    if 100000 in cfg.stages:
        out.append(
            Target("Root page at 100k projects: p99 < 1 s", _max_target("root-100000:p99", 1000, "ms"))
        )
    return out


# -- output --------------------------------------------------------------------------------


def peer_versions() -> dict[str, str]:
    found = {}
    for name, dist in (("pypiserver", "pypiserver"), ("devpi", "devpi-server"), ("proxpi", "proxpi")):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(dist)
    return found


def _tool_version(cmd: list[str]) -> str:
    """``wrk debian/4.1.0-3+b2``, ``nginx/1.22.1``: the first word with a digit in it."""
    if not shutil.which(cmd[0]):
        return f"{cmd[0]} not installed"
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    words = (proc.stdout + proc.stderr).split()
    version = next((w for w in words if any(c.isdigit() for c in w)), "?")
    return version if version.startswith(cmd[0]) else f"{cmd[0]} {version}"


def render(bench: Bench, cfg: Config) -> str:
    versions = peer_versions()
    for dist in ("registry-index", "uvicorn", "starlette", "pip", "uv", "twine"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    corpus = (
        f"- corpus: stages {', '.join(f'{s:,}' for s in cfg.stages)} projects; {cfg.versions} version(s) "
        f"(wheel + sdist) per filler project; `{PAGE_50}` has 50 files, `{PAGE_BIG}` {cfg.big_files:,}; "
        f"a {len(CHAIN)}-package chain `{CHAIN[0]}` → … → `{CHAIN[-1]}` "
        f"with {cfg.chain_payload_kib} KiB wheels"
    )
    lines = [
        f"# registry_index benchmark{' (SMOKE: tiny sizes, not comparable)' if cfg.smoke else ''}",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; run took {bench.elapsed / 60:.1f} min",
        f"- machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- pinning: {PINNING if can_pin() else 'none (fewer than 2 cores)'}",
        f"- load: {bench.gen.label}; {_tool_version(['wrk', '-v'])}; warm-up GET first; loopback only",
        f"- other load on the machine: {bench.background}",
        *([corpus] if bench.results.rows else []),
        "- versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; {_tool_version(['nginx', '-v'])}",
        "- ratios: registry_index's advantage, >1x means registry_index is better (higher rate, or lower "
        "time/bytes/memory); against nginx it is the fraction of nginx's rate",
    ]
    if bench.results.rows:
        lines += [
            "",
            bench.results.markdown(),
            "",
            "## Targets (issue 7)",
            "",
            bench.results.targets_markdown(targets(cfg)),
        ]
        if bench.results.notes:
            lines += ["", "## Notes", "", *(f"- {n}" for n in bench.results.notes)]
    proxy = bench.proxy_results
    if proxy is not None:
        lines += [
            "",
            "## Upstream proxy (issue 14)",
            "",
            "Each proxy relays the same local upstream; `upstream` is the upstream itself (nginx; "
            "python -m http.server in the smoke version), "
            "asked directly (its latency is what one round trip costs; against it the ratio is the "
            "fraction of its speed).",
            "",
            proxy.markdown(),
            "",
            "### Targets (issue 14)",
            "",
            proxy.targets_markdown(proxy_targets()),
        ]
        if proxy.notes:
            lines += ["", "### Notes", "", *(f"- {n}" for n in proxy.notes)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, wrk -d1s, one run (< 2 min)")
    parser.add_argument("--only-ours", action="store_true", help="registry_index alone (no peers, no nginx)")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (SeaweedFS) part")
    parser.add_argument("--no-apt", action="store_true", help="never apt-get install wrk/nginx (fall back)")
    parser.add_argument("--out", type=Path, help="where the report goes (default bench/results/)")
    parser.add_argument(
        "--only", choices=["proxy"], help="one stage alone: proxy (issue 14) writes bench/results/proxy.md"
    )
    parser.add_argument("--no-proxy", action="store_true", help="skip the upstream-proxy stage")
    args = parser.parse_args(argv)
    cfg = Config.from_env(args.smoke)
    ensure_tools(install=not args.no_apt)
    if not shutil.which("wrk"):
        cfg = replace(cfg, fallback_load=True)
        say("wrk is not installed: using the Python (httpx) fallback load generator, labelled as such")
    if args.no_s3:
        cfg = replace(cfg, s3=False)
    if args.no_proxy:
        cfg = replace(cfg, proxy=False)
    out = args.out or HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    if can_pin():
        os.sched_setaffinity(0, {1})  # the harness and every client it starts: core 1
    work = Path(os.environ.get("BENCH_WORK", HERE / ".work")) / f"run-{os.getpid()}"
    work.mkdir(parents=True)
    bench = Bench(cfg, out, work)
    bench.run(only_ours=args.only_ours, only=args.only)
    shutil.rmtree(work, ignore_errors=True)  # kept after a failure, for its logs
    report = render(bench, cfg)
    name = "proxy.md" if args.only == "proxy" else "smoke.md" if cfg.smoke else "latest.md"
    (out / name).write_text(report)
    print()
    print(report)
    print(f"written to {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
