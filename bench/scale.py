"""The PyPI-scale stage (issue 15): one index at 1,000 → 700,000 projects, default settings.

For each size a fresh store is written directly (sidecars and the root index's snapshot, as
``registry-index`` itself writes them; building 700,000 projects through uploads would take
hours), from a PyPI-shaped distribution: most projects have one to a few releases of one or
two files, a long tail has hundreds, and two fixed projects are measured at every size
(``scale-page-50``, 50 files, and ``scale-big-10k``, 10,000 files). Then
``registry-index serve --storage DIR --port P`` runs with nothing else set (the defaults a
user gets, access log included), pinned to core 0, and wrk on core 1 measures:

- start-up: process start to the first 200 of /simple/ (the root index loaded and rendered);
- the root page and the 50-file project page, HTML, warm: req/s and p99, beside nginx
  serving the same bytes in the same run;
- search: ``/api/search?q=...`` p99;
- uploads (a real wheel through the legacy API, median of 5): a new project, and a new file
  into the 10,000-file project;
- RSS of the server after all of it.

Run: ``make bench-scale`` (= ``python -m bench --only scale``); ``BENCH_SCALE_STAGES`` picks
the sizes (default 1000,10000,100000,700000).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from registry_index.domain import keys
from registry_index.domain.model import Project, Release, to_json
from registry_index.domain.root_index import SHARDS, Entry, pointer_to_json, shard_of, shard_to_json
from registry_index.names import canonical_version
from registry_index.testing import WheelSpec, build_wheel, legacy_form, placeholder_entry
from tests.support.servers import free_port

from .load import LoadGenerator, LoadResult, pin_tree, tree_rss
from .servers import Nginx

PAGE_50 = "scale-page-50"
BIG = "scale-big-10k"
BIG_FILES = 10_000
USER, PASSWORD = "bench", "bench-password-not-secret"
CREATED = "2026-01-01T00:00:00.000000Z"
Say = Callable[[str], None]


# -- the corpus ------------------------------------------------------------------------------


def files_per_project(rnd: random.Random) -> int:
    """PyPI's shape: the median project has a few files, one in a hundred has hundreds."""
    roll = rnd.random()
    if roll < 0.55:
        return rnd.randint(1, 3)
    if roll < 0.90:
        return rnd.randint(4, 20)
    if roll < 0.99:
        return rnd.randint(21, 150)
    return rnd.randint(151, 1500)


def project_of(name: str, files: int) -> Project:
    versions = max(1, files // 2)
    releases: dict[str, Release] = {}
    entries = []
    for v in range(versions):
        version = f"{v // 100}.{v % 100}.0"
        releases[canonical_version(version)] = Release(version, summary=f"{name} does things")
        stem = name.replace("-", "_")
        entries.append(placeholder_entry(f"{stem}-{version}-py3-none-any.whl", version))
        if len(entries) < files:
            entries.append(placeholder_entry(f"{stem}-{version}.tar.gz", version))
    return Project(name, name, CREATED, owners=(USER,), serial=1, releases=releases, files=tuple(entries))


def _write_range(args: tuple[str, int, int, int]) -> list[tuple[str, int]]:
    root, start, stop, seed = args
    out = []
    folder = Path(root) / keys.SIDECARS
    for n in range(start, stop):
        rnd = random.Random(seed * 1_000_003 + n)
        name = f"pkg{n:07d}-{rnd.choice(('utils', 'client', 'sdk', 'tools', 'core', 'cli', 'api'))}"
        files = files_per_project(rnd)
        (folder / f"{name}.json").write_bytes(to_json(project_of(name, files)))
        out.append((name, files))
    return out


def write_store(root: Path, projects: int, say: Say, seed: int = 15) -> int:
    """A store of ``projects`` projects; returns the number of files listed."""
    (root / keys.SIDECARS).mkdir(parents=True)
    fixed = [(PAGE_50, 50), (BIG, BIG_FILES)]
    for name, files in fixed:
        (root / keys.sidecar(name)).write_bytes(to_json(project_of(name, files)))
    step = 5000
    ranges = [(str(root), s, min(s + step, projects - len(fixed)), seed) for s in range(0, projects - len(fixed), step)]
    names = list(fixed)
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        for done, chunk in enumerate(pool.imap_unordered(_write_range, ranges), 1):
            names += chunk
            if done % 20 == 0 or done == len(ranges):
                say(f"  corpus: {len(names):,}/{projects:,} projects ({time.monotonic() - started:.0f} s)")
    shards: list[dict[str, Entry]] = [{} for _ in range(SHARDS)]
    for name, _ in names:
        shards[shard_of(name)][name] = Entry(name, True, False, CREATED, 1)
    shard_keys = []
    for i, entries in enumerate(shards):
        key = keys.root_shard(i, 0)
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(shard_to_json(i, 0, entries))
        shard_keys.append(key)
    (root / keys.ROOT_INDEX).write_bytes(pointer_to_json(0, shard_keys))
    return sum(files for _, files in names)


# -- the measurements ------------------------------------------------------------------------


@dataclass
class StageResult:
    projects: int
    files: int
    corpus_s: float
    startup_s: float
    root: LoadResult | None = None
    root_bytes: int = 0
    root_nginx: LoadResult | None = None
    page: LoadResult | None = None
    page_nginx: LoadResult | None = None
    search: LoadResult | None = None
    upload_new_ms: float = 0.0
    upload_big_ms: float = 0.0
    rss_mib: float = 0.0
    notes: list[str] = field(default_factory=list)


BIN = Path(sys.executable).parent


@contextlib.contextmanager
def serve(store: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_INDEX_")}
    env["XDG_STATE_HOME"] = str(log.parent / "state")
    started = time.monotonic()
    with open(log, "ab") as fh:
        process = subprocess.Popen(
            [BIN / "registry-index", "serve", "--storage", str(store), "--port", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"registry-index exited ({process.returncode}); see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/simple/", timeout=120).status_code == 200:
                    break
            time.sleep(0.05)
        ready = time.monotonic() - started
        pin_tree(process.pid)
        yield url, process, ready
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


SEARCH_BUDGET = float(os.environ.get("BENCH_SCALE_SEARCH_BUDGET", "600"))


def wait_for_search(url: str, projects: int, budget: float = SEARCH_BUDGET) -> float | None:
    """Seconds until search has read every sidecar; None when ``budget`` ran out first."""
    started = time.monotonic()
    while time.monotonic() - started < budget:
        resp = httpx.get(f"{url}/api/search", params={"q": "does", "per_page": 1}, timeout=120)
        if resp.status_code == 200 and resp.json()["total"] >= projects:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def timed_uploads(url: str, wheels: list[Path]) -> float:
    times = []
    for wheel in wheels:
        fields, files = legacy_form(wheel)
        started = time.perf_counter()
        resp = httpx.post(f"{url}/legacy/", data=fields, files=files, auth=(USER, PASSWORD), timeout=300)
        times.append((time.perf_counter() - started) * 1000)
        if resp.status_code != 200:
            raise RuntimeError(f"upload of {wheel.name} failed: {resp.status_code} {resp.text[:200]}")
    return statistics.median(times)


def run_stage(projects: int, work: Path, gen: LoadGenerator, say: Say) -> StageResult:
    store = work / f"store-{projects}"
    shutil.rmtree(store, ignore_errors=True)
    say(f"scale: writing a {projects:,}-project store")
    started = time.monotonic()
    files = write_store(store, projects, say)
    corpus_s = time.monotonic() - started
    subprocess.run(
        [BIN / "registry-index", "user", "add", USER, "--password-stdin", "--storage", str(store)],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
        env={**os.environ, "XDG_STATE_HOME": str(work / "state")},
    )
    wheels = work / f"wheels-{projects}"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir()
    new = [build_wheel(wheels, WheelSpec(f"fresh-{projects}-{n}", "1.0")) for n in range(5)]
    big = [build_wheel(wheels, WheelSpec(BIG, f"99.{n}.0")) for n in range(5)]
    with serve(store, work / f"server-{projects}.log") as (url, process, ready):
        result = StageResult(projects, files, corpus_s, ready)
        # The first search refresh reads every sidecar in the background: measure after it,
        # and say how long it took (the root page and project pages answer before).
        search_ready = wait_for_search(url, projects)
        if search_ready is None:
            result.notes.append(
                f"{projects:,}: search had not read every sidecar {SEARCH_BUDGET:.0f} s after start-up; "
                "measured anyway, with its first refresh still running"
            )
        else:
            result.notes.append(f"{projects:,}: search complete {search_ready:.1f} s after start-up")
        say(f"scale: {projects:,} projects ready in {ready:.2f} s, search in {search_ready} s; root page")
        root_body = httpx.get(f"{url}/simple/", timeout=120).content
        page_body = httpx.get(f"{url}/simple/{PAGE_50}/", timeout=60).content
        result.root_bytes = len(root_body)
        result.root = gen.measure(f"{url}/simple/")
        say("scale: project page")
        result.page = gen.measure(f"{url}/simple/{PAGE_50}/")
        say("scale: search")
        result.search = gen.measure(f"{url}/api/search?q=client&per_page=20")
        say("scale: uploads")
        result.upload_new_ms = timed_uploads(url, new)
        result.upload_big_ms = timed_uploads(url, big)
        result.rss_mib = tree_rss(process.pid) / 2**20
    with Nginx(work / f"nginx-{projects}") as nginx:
        result.root_nginx = gen.measure(nginx.add("root.html", root_body))
        result.page_nginx = gen.measure(nginx.add("page.html", page_body))
    shutil.rmtree(store, ignore_errors=True)
    return result


def run(work: Path, gen: LoadGenerator, say: Say, stages: tuple[int, ...]) -> list[StageResult]:
    work.mkdir(parents=True, exist_ok=True)
    return [run_stage(n, work, gen, say) for n in stages]


def stages_from_env() -> tuple[int, ...]:
    raw = os.environ.get("BENCH_SCALE_STAGES", "1000,10000,100000,700000")
    return tuple(int(s) for s in raw.split(",") if s)


# -- the report ------------------------------------------------------------------------------


def _rate(r: LoadResult | None) -> str:
    return "-" if r is None else f"{r.rate:,.0f}/s · p99 {r.p99_ms:,.2f} ms"


def _ratio(a: LoadResult | None, b: LoadResult | None) -> str:
    return "-" if a is None or b is None or not b.rate else f"{a.rate / b.rate:.2f}x"


def report(results: list[StageResult], command: str, gen: LoadGenerator) -> str:
    first = results[0]
    lines = [
        "## PyPI scale (issue 15)",
        "",
        f"Command: `{command}`. Default settings (`registry-index serve --storage DIR --port P`, "
        f"access log on); load: {gen.label}; nginx serves the same bytes in the same run.",
        "",
        "| projects (files) | start-up | root page | vs nginx | project page, 50 files | vs nginx | search | new project upload | new file into 10,000-file project | RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.projects:,} ({r.files:,}) | {r.startup_s:.2f} s | {_rate(r.root)} ({r.root_bytes / 2**20:.1f} MiB) "
            f"| {_ratio(r.root, r.root_nginx)} | {_rate(r.page)} | {_ratio(r.page, r.page_nginx)} "
            f"| {_rate(r.search)} | {r.upload_new_ms:,.0f} ms | {r.upload_big_ms:,.0f} ms | {r.rss_mib:,.0f} MiB |"
        )
    lines += ["", f"Growth from {first.projects:,} to {results[-1].projects:,} projects (flat = 1.00x):", ""]
    last = results[-1]
    if first.page and last.page:
        lines.append(f"- project page p99: {last.page.p99_ms / max(first.page.p99_ms, 1e-9):.2f}x")
    lines.append(f"- new-project upload: {last.upload_new_ms / max(first.upload_new_ms, 1e-9):.2f}x")
    lines.append(f"- new file into the 10,000-file project: {last.upload_big_ms / max(first.upload_big_ms, 1e-9):.2f}x")
    lines.append(
        "- nginx rates: "
        + "; ".join(f"{r.projects:,}: root {_rate(r.root_nginx)}, page {_rate(r.page_nginx)}" for r in results)
    )
    lines += [f"- {note}" for r in results for note in r.notes]
    lines.append(
        "- corpus written directly in: " + ", ".join(f"{r.projects:,}: {r.corpus_s:.0f} s" for r in results)
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    from .load import can_pin

    if can_pin():
        os.sched_setaffinity(0, {1})
    gen = LoadGenerator(
        duration=int(os.environ.get("BENCH_DURATION", "5")),
        connections=int(os.environ.get("BENCH_CONNECTIONS", "16")),
        runs=int(os.environ.get("BENCH_RUNS", "1")),
        fallback=shutil.which("wrk") is None,
    )
    here = Path(__file__).parent
    work = Path(os.environ.get("BENCH_WORK", here / ".work")) / f"scale-{os.getpid()}"
    stages = stages_from_env()
    results = run(work, gen, lambda m: print(f"[bench {time.strftime('%H:%M:%S')}] {m}", flush=True), stages)
    text = report(results, "make bench-scale", gen)
    out = here / "results" / "scale.md"
    out.write_text(text)
    print(text)
    print(f"written to {out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
