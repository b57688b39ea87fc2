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
- uploads (a real wheel through the legacy API, median of 9): a new project, and a new file
  into the 10,000-file project;
- RSS of the server after all of it.

Then, on the same store, the root page and the project page again for the workers table:
1 worker allowed on both cores, and ``--workers 2`` (a second server, default settings
otherwise) pinned to core 0 and allowed on both cores. Then each peer (pypiserver, devpi)
is given the stage's corpus, as much of it as it loads in ``BENCH_SCALE_PEER_BUDGET``
seconds (default 300), and measured on the same two pages.

Each stage's figures are written to bench/results/scale.md as soon as it ends; a stage that
fails is recorded with the reason and the next one runs.

Run: ``make bench-scale`` (= ``bench/.venv/bin/python -m bench.scale``); ``BENCH_SCALE_STAGES``
picks the sizes (default 1000,10000,100000,700000), ``BENCH_SCALE_PEERS`` the peers
(default pypiserver,devpi; ``none`` for none), ``BENCH_DURATION``/``BENCH_RUNS``/
``BENCH_CONNECTIONS`` wrk's run.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.metadata
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from registry_index.domain import keys
from registry_index.domain.model import Project, Release, to_json
from registry_index.domain.root_index import SHARDS, Entry, pointer_to_json, shard_of, shard_to_json
from registry_index.names import canonical_version
from registry_index.settings import Settings
from registry_index.testing import WheelSpec, build_wheel, legacy_form, placeholder_entry
from tests.support.servers import free_port

from .load import CLIENT_CPU, SERVER_CPU, LoadGenerator, LoadResult, can_pin, descendants, pin_tree, tree_rss
from .run import QUIET, other_load
from .servers import Devpi, Nginx, Pypiserver
from .servers import Target as Server

PAGE_50 = "scale-page-50"
BIG = "scale-big-10k"
BIG_FILES = 10_000
USER, PASSWORD = "bench", "bench-password-not-secret"
UPLOADS = 9  # of each kind, per stage: the figure is their median
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


def filenames(name: str, files: int) -> Iterator[tuple[str, str]]:
    """The project's ``files`` file names, with their versions: a wheel and an sdist per release."""
    stem = name.replace("-", "_")
    count = 0
    for v in range(max(1, files // 2)):
        version = f"{v // 100}.{v % 100}.0"
        yield f"{stem}-{version}-py3-none-any.whl", version
        count += 1
        if count < files:
            yield f"{stem}-{version}.tar.gz", version
            count += 1


def project_of(name: str, files: int) -> Project:
    releases: dict[str, Release] = {}
    entries = []
    for filename, version in filenames(name, files):
        releases[canonical_version(version)] = Release(version, summary=f"{name} does things")
        entries.append(placeholder_entry(filename, version))
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


def write_store(root: Path, projects: int, say: Say, seed: int = 15) -> list[tuple[str, int]]:
    """A store of ``projects`` projects; returns (name, file count) of each, the fixed two first."""
    (root / keys.SIDECARS).mkdir(parents=True)
    fixed = [(PAGE_50, 50), (BIG, BIG_FILES)]
    for name, files in fixed:
        (root / keys.sidecar(name)).write_bytes(to_json(project_of(name, files)))
    step = 5000
    ranges = [
        (str(root), s, min(s + step, projects - len(fixed)), seed)
        for s in range(0, projects - len(fixed), step)
    ]
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
    return [*fixed, *sorted(names[len(fixed) :])]


# -- the measurements ------------------------------------------------------------------------


@dataclass
class Pair:
    """The root page and the 50-file project page, measured on one server in one setting."""

    root: LoadResult | None = None
    page: LoadResult | None = None


@dataclass
class PeerResult:
    name: str
    version: str
    projects: int = 0  # loaded in the budget (all of the project's files)
    files: int = 0
    of_projects: int = 0  # what the stage had
    load_s: float = 0.0
    loaded: Pair | None = None  # None: nothing measured (see note)
    note: str = ""


@dataclass
class StageResult:
    projects: int
    files: int = 0
    corpus_s: float = 0.0
    startup_s: float = 0.0
    root: LoadResult | None = None
    root_bytes: int = 0
    root_nginx: LoadResult | None = None
    page: LoadResult | None = None
    page_nginx: LoadResult | None = None
    search: LoadResult | None = None
    upload_new_ms: float = 0.0
    upload_big_ms: float = 0.0
    rss_mib: float = 0.0
    # the workers table: "1 worker, core 0" is the main row's figures (root, page) above
    workers: dict[str, Pair] = field(default_factory=dict)
    rss_2w_mib: float = 0.0
    peers: list[PeerResult] = field(default_factory=list)
    failed: str = ""  # why the stage stopped part-way ("" when it ran to the end)
    notes: list[str] = field(default_factory=list)


BIN = Path(sys.executable).parent
DEFAULT_WORKERS = Settings().workers
ONE_CORE, TWO_CORES = f"core {SERVER_CPU}", "cores 0-1"
WORKER_ROWS = (  # (key, server flags, cores the server tree may use)
    ("1w-core0", (), ONE_CORE),
    ("2w-core0", ("--workers", "2"), ONE_CORE),
    ("1w-both", (), TWO_CORES),
    ("2w-both", ("--workers", "2"), TWO_CORES),
)


def allow_cores(pid: int, cores: str) -> None:
    """Every thread of a process tree on ``cores`` (like ``taskset -a -p -c 0,1 PID`` for each)."""
    if not can_pin():
        return
    if cores == ONE_CORE:
        pin_tree(pid, SERVER_CPU)
        return
    for proc in descendants(pid):
        with contextlib.suppress(FileNotFoundError):
            for tid in os.listdir(f"/proc/{proc}/task"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.sched_setaffinity(int(tid), {0, 1})


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process tree."""
    total = 0
    for proc in descendants(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, budget: float, busy: float = 0.10) -> float | None:
    """Seconds until the tree used under ``busy`` of a core for 2 s running; None past ``budget``."""
    started = time.monotonic()
    quiet = 0
    while time.monotonic() - started < budget:
        before = tree_cpu_s(pid)
        time.sleep(1)
        quiet = quiet + 1 if tree_cpu_s(pid) - before < busy else 0
        if quiet >= 2:
            return time.monotonic() - started
    return None


@contextlib.contextmanager
def serve(
    store: Path, log: Path, flags: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_INDEX_")}
    env["XDG_STATE_HOME"] = str(log.parent / "state")
    started = time.monotonic()
    with open(log, "ab") as fh:
        process = subprocess.Popen(
            [BIN / "registry-index", "serve", "--storage", str(store), "--port", str(port), *flags],
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
            process.wait()


SEARCH_BUDGET = float(os.environ.get("BENCH_SCALE_SEARCH_BUDGET", "600"))
PEER_BUDGET = float(os.environ.get("BENCH_SCALE_PEER_BUDGET", "300"))
PEERS = tuple(
    p for p in os.environ.get("BENCH_SCALE_PEERS", "pypiserver,devpi").split(",") if p and p != "none"
)
QUIET_WAIT_S = float(os.environ.get("BENCH_QUIET_WAIT_S", "30"))
FIRST_ANSWER_S = 120.0  # a peer's first answer after loading (pypiserver lists its directory then)
PLACEHOLDER = b"placeholder: the scale stage measures pages, not downloads\n"


def search_total(url: str) -> int:
    """How many projects match ``does`` (every corpus project's summary says "does things")."""
    resp = httpx.get(f"{url}/api/search", params={"q": "does", "per_page": 1}, timeout=120)
    return int(resp.json()["total"]) if resp.status_code == 200 else -1


def wait_for_search(url: str, expect: int, budget: float = SEARCH_BUDGET) -> float | None:
    """Seconds until search has read every sidecar; None when ``budget`` ran out first."""
    started = time.monotonic()
    while time.monotonic() - started < budget:
        if search_total(url) >= expect:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def settle(url: str, pid: int, projects: int, expect: int, label: str, result: StageResult) -> float | None:
    """Wait until search has read every sidecar (``expect`` hits for ``does``) and the tree is idle."""
    started = time.monotonic()
    search_ready = wait_for_search(url, expect)
    idle = wait_idle(pid, max(10.0, SEARCH_BUDGET - (time.monotonic() - started)))
    if search_ready is None or idle is None:
        result.notes.append(
            f"{projects:,}, {label}: search had not read every sidecar, or the server was still busy, "
            f"{SEARCH_BUDGET:.0f} s after start-up (`BENCH_SCALE_SEARCH_BUDGET`); measured anyway"
        )
        return None
    total = time.monotonic() - started
    result.notes.append(
        f"{projects:,}, {label}: search complete {search_ready:.1f} s after start-up, server idle at {total:.1f} s"
    )
    return search_ready


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


BUSY: set[int] = set()  # id() of the results measured on a busy machine, marked † in the report


def measure(gen: LoadGenerator, url: str, what: str, notes: list[str]) -> LoadResult:
    """``gen.measure`` once the machine is quiet (waiting up to ``BENCH_QUIET_WAIT_S``), or noted."""
    deadline = time.monotonic() + QUIET_WAIT_S
    while (busy := other_load(0.5)) > QUIET:
        if time.monotonic() > deadline:
            notes.append(
                f"{what} (marked †): measured while {busy:.0%} of a core was busy elsewhere (after waiting "
                f"{QUIET_WAIT_S:.0f} s for quiet), so it may read low"
            )
            break
        time.sleep(2)
    else:
        return gen.measure(url)
    result = gen.measure(url)
    BUSY.add(id(result))
    return result


def measure_pair(gen: LoadGenerator, root_url: str, page_url: str, what: str, notes: list[str]) -> Pair:
    return Pair(
        measure(gen, root_url, f"{what}, root page", notes),
        measure(gen, page_url, f"{what}, project page", notes),
    )


def run_stage(
    projects: int, work: Path, gen: LoadGenerator, say: Say, result: StageResult, skip: dict[str, str]
) -> None:
    """Measure one stage into ``result`` (filled in as it goes, so a failure keeps what was done)."""
    store = work / f"store-{projects}"
    shutil.rmtree(store, ignore_errors=True)
    say(f"scale: writing a {projects:,}-project store")
    started = time.monotonic()
    names = write_store(store, projects, say)
    # What the pages list: an odd count draws one file fewer (a wheel and an sdist per release).
    result.files = sum(1 for name, files in names for _ in filenames(name, files))
    result.corpus_s = time.monotonic() - started
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
    # Nine of each: the first upload of a server also starts its inspection worker (about
    # 0.5 s), and single uploads here move by ±30% between runs; a median of nine holds still.
    new = [build_wheel(wheels, WheelSpec(f"fresh-{projects}-{n}", "1.0")) for n in range(UPLOADS)]
    big = [build_wheel(wheels, WheelSpec(BIG, f"99.{n}.0")) for n in range(UPLOADS)]
    with serve(store, work / f"server-{projects}.log") as (url, process, ready):
        result.startup_s = ready
        # The first search refresh reads every sidecar in the background: measure after it,
        # and say how long it took (the root page and project pages answer before).
        search_ready = settle(
            url, process.pid, projects, projects, f"{DEFAULT_WORKERS} worker (default)", result
        )
        say(f"scale: {projects:,} projects ready in {ready:.2f} s, search in {search_ready} s; root page")
        root_body = httpx.get(f"{url}/simple/", timeout=120).content
        page_body = httpx.get(f"{url}/simple/{PAGE_50}/", timeout=60).content
        result.root_bytes = len(root_body)
        result.root = measure(gen, f"{url}/simple/", f"{projects:,}: root page", result.notes)
        say("scale: project page")
        result.page = measure(gen, f"{url}/simple/{PAGE_50}/", f"{projects:,}: project page", result.notes)
        result.workers["1w-core0"] = Pair(result.root, result.page)
        say(f"scale: root and project page, 1 worker, {TWO_CORES}")
        allow_cores(process.pid, TWO_CORES)
        result.workers["1w-both"] = measure_pair(
            gen,
            f"{url}/simple/",
            f"{url}/simple/{PAGE_50}/",
            f"{projects:,}: 1 worker, {TWO_CORES}",
            result.notes,
        )
        allow_cores(process.pid, ONE_CORE)
        say("scale: search")
        result.search = measure(
            gen, f"{url}/api/search?q=client&per_page=20", f"{projects:,}: search", result.notes
        )
        say("scale: uploads")
        result.upload_new_ms = timed_uploads(url, new)
        result.upload_big_ms = timed_uploads(url, big)
        result.rss_mib = tree_rss(process.pid) / 2**20
        # The uploads changed what matches (the 10,000-file project's newest summary is the
        # wheel's): what the second server must find once its search is complete.
        expect = search_total(url)
    with Nginx(work / f"nginx-{projects}") as nginx:
        result.root_nginx = measure(
            gen, nginx.add("root.html", root_body), f"{projects:,}: nginx root", result.notes
        )
        result.page_nginx = measure(
            gen, nginx.add("page.html", page_body), f"{projects:,}: nginx page", result.notes
        )
    two_workers(store, projects, expect, work, gen, say, result)
    shutil.rmtree(store, ignore_errors=True)
    for peer in PEERS:
        if peer in skip:
            result.peers.append(PeerResult(peer, peer_version(peer), of_projects=projects, note=skip[peer]))
            continue
        outcome = run_peer(peer, names, work / f"{peer}-{projects}", gen, say, result.notes)
        result.peers.append(outcome)
        if outcome.projects < projects:
            skip[peer] = (
                f"not tried: it loaded {outcome.projects:,} of {outcome.of_projects:,} projects "
                f"in the budget at the {outcome.of_projects:,} stage"
            )


def two_workers(
    store: Path, projects: int, expect: int, work: Path, gen: LoadGenerator, say: Say, result: StageResult
) -> None:
    """The same store (plus the uploads above) behind ``--workers 2``, default settings otherwise."""
    say("scale: --workers 2")
    with serve(store, work / f"server-{projects}-2w.log", ("--workers", "2")) as (url, process, _):
        settle(url, process.pid, projects, expect, "--workers 2", result)
        workers = len(descendants(process.pid)) - 1
        if workers < 2:
            result.notes.append(
                f"{projects:,}, --workers 2: {workers} child processes seen in the server tree"
            )
        for key, _flags, cores in WORKER_ROWS:
            if key.startswith("2w"):
                say(f"scale: root and project page, 2 workers, {cores}")
                allow_cores(process.pid, cores)
                result.workers[key] = measure_pair(
                    gen,
                    f"{url}/simple/",
                    f"{url}/simple/{PAGE_50}/",
                    f"{projects:,}: 2 workers, {cores}",
                    result.notes,
                )
        result.rss_2w_mib = tree_rss(process.pid) / 2**20


# -- the peers at scale ----------------------------------------------------------------------


def peer_version(peer: str) -> str:
    dist = {"pypiserver": "pypiserver", "devpi": "devpi-server"}[peer]
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


def load_order(names: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The 50-file project first (so it is there to measure), the 10,000-file project last."""
    return [names[0], *names[2:], names[1]]


def run_peer(
    peer: str, names: list[tuple[str, int]], work: Path, gen: LoadGenerator, say: Say, notes: list[str]
) -> PeerResult:
    version = peer_version(peer)
    out = PeerResult(peer, version, of_projects=len(names))
    if not version:
        out.note = "not installed in the bench venv (make bench-scale installs bench/requirements-peers.txt)"
        return out
    shutil.rmtree(work, ignore_errors=True)
    say(f"scale: {peer}: loading {len(names):,} projects (budget {PEER_BUDGET:.0f} s)")
    target: Server = Pypiserver(work) if peer == "pypiserver" else Devpi(work)
    started = time.monotonic()
    deadline = started + PEER_BUDGET
    try:
        if isinstance(target, Pypiserver):
            write_placeholders(target.packages, names, deadline, out)
            target.start()
        else:
            target.start()
            upload_placeholders(target, names, deadline, out)
        # pypiserver lists its directory on the first request: that is part of loading it.
        for url in (target.page(PAGE_50), target.simple):
            resp = httpx.get(url, timeout=FIRST_ANSWER_S)
            if resp.status_code != 200:
                raise RuntimeError(f"HTTP {resp.status_code} from {url}")
        out.load_s = time.monotonic() - started
        say(
            f"scale: {peer}: {out.projects:,} projects ({out.files:,} files) in {out.load_s:.0f} s; measuring"
        )
        out.loaded = measure_pair(gen, target.simple, target.page(PAGE_50), f"{len(names):,}: {peer}", notes)
    except httpx.TimeoutException as exc:
        out.load_s = time.monotonic() - started
        out.note = (
            f"loaded {out.projects:,} projects ({out.files:,} files) but did not answer within "
            f"{FIRST_ANSWER_S:.0f} s ({type(exc).__name__}): not measured"
        )
    except Exception as exc:  # a peer falling over is a result, not a crash
        out.load_s = time.monotonic() - started
        out.note = f"failed after {out.projects:,} projects ({out.files:,} files): {str(exc)[:200]}"
    finally:
        target.stop()
        if out.note:
            with contextlib.suppress(OSError):
                tail = (work / "server.log").read_text(errors="replace").splitlines()[-15:]
                say(f"scale: {peer}: the end of its log:\n" + "\n".join(tail))
        shutil.rmtree(work, ignore_errors=True)
    if out.note:
        say(f"scale: {peer}: {out.note}")
    return out


def write_placeholders(folder: Path, names: list[tuple[str, int]], deadline: float, out: PeerResult) -> None:
    """pypiserver's store is a directory of files: write the corpus's names, placeholder bytes."""
    for name, count in load_order(names):
        if time.monotonic() > deadline:
            return
        for filename, _ in filenames(name, count):
            (folder / filename).write_bytes(PLACEHOLDER)
            out.files += 1
        out.projects += 1


def upload_placeholders(
    target: Server, names: list[tuple[str, int]], deadline: float, out: PeerResult
) -> None:
    """devpi's store is its own database: upload each file (placeholder bytes) through its API.

    Four client threads on the harness's core, devpi on both cores while it loads (and run
    under eatmydata, as the main bench loads it), pinned back to core 0 to be measured.
    """
    resp = httpx.post(
        f"{target.url}/+login",
        json={"user": target.user, "password": target.password},
        headers={"Accept": "application/json"},
        timeout=60,
    )
    resp.raise_for_status()
    token = resp.json()["result"]["password"]
    auth = base64.b64encode(f"{target.user}:{token}".encode()).decode()
    headers = {"X-Devpi-Auth": auth, "Accept": "application/json"}
    todo = list(load_order(names))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(headers=headers, timeout=120) as client:
            while time.monotonic() < deadline and not errors:
                with lock:
                    if not todo:
                        return
                    name, count = todo.pop(0)
                for filename, version in filenames(name, count):
                    if time.monotonic() > deadline:
                        return
                    form = {
                        ":action": "file_upload",
                        "name": name,
                        "version": version,
                        "protocol_version": "1",
                    }
                    for attempt in range(3):  # a 5xx is retried twice, then loading stops there
                        answer = client.post(
                            target.upload_url, data=form, files={"content": (filename, PLACEHOLDER)}
                        )
                        if answer.status_code < 500:
                            break
                        time.sleep(1 + attempt)
                    if answer.status_code != 200:
                        text = " ".join(answer.text.split())[:120]
                        errors.append(f"upload of {filename}: HTTP {answer.status_code} {text}")
                        return
                    with lock:
                        out.files += 1
                with lock:
                    out.projects += 1

    allow_cores(target.pid, TWO_CORES)
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    allow_cores(target.pid, ONE_CORE)
    if errors:  # measured at the size it reached, with the reason loading stopped
        out.note = (
            f"loading stopped at the first failed upload ({errors[0]}; its log's tail is in the run's output)"
        )


# -- the run ---------------------------------------------------------------------------------


def run(
    work: Path,
    gen: LoadGenerator,
    say: Say,
    stages: tuple[int, ...],
    done: Callable[[list[StageResult]], None] = lambda _: None,
) -> list[StageResult]:
    """Every stage in turn; ``done`` is called after each (a failed stage too) with all so far."""
    work.mkdir(parents=True, exist_ok=True)
    results: list[StageResult] = []
    skip: dict[str, str] = {}  # peers that ran out of budget at a smaller stage
    for n in stages:
        result = StageResult(n)
        results.append(result)
        try:
            run_stage(n, work, gen, say, result, skip)
        except Exception as exc:
            result.failed = f"{type(exc).__name__}: {str(exc)[:300]}"
            result.notes.append(
                f"{n:,}: the stage FAILED part-way ({result.failed}); figures above are what it had"
            )
            say(f"scale: the {n:,} stage FAILED: {result.failed}")
        finally:
            shutil.rmtree(work / f"store-{n}", ignore_errors=True)
        done(results)
    return results


def stages_from_env() -> tuple[int, ...]:
    raw = os.environ.get("BENCH_SCALE_STAGES", "1000,10000,100000,700000")
    return tuple(int(s) for s in raw.split(",") if s)


def command_line() -> str:
    """The command that reproduces this run: ``make bench-scale`` and the BENCH_* variables set."""
    env = " ".join(
        f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("BENCH_") and k != "BENCH_WORK"
    )
    return f"{env} make bench-scale".strip()


# -- the report ------------------------------------------------------------------------------


def _rate(r: LoadResult | None) -> str:
    if r is None:
        return "-"
    text = f"{r.rate:,.0f}/s · p99 {r.p99_ms:,.2f} ms" + (" †" if id(r) in BUSY else "")
    return text + (f" ({r.errors:,} errors)" if r.errors else "")


def _ratio(a: LoadResult | None, b: LoadResult | None) -> str:
    if a is None or b is None or not b.rate:
        return "-"
    value = a.rate / b.rate
    return f"{value:.2f}x" if value < 100 else f"{value:,.0f}x"


def _main_row(r: StageResult) -> str:
    if r.root is None and r.page is None and not r.startup_s:
        return f"| {r.projects:,} ({r.files:,}) | failed: {r.failed or 'not run'} |" + " |" * 8
    failed = " **FAILED part-way** (see notes)" if r.failed else ""
    return (
        f"| {r.projects:,} ({r.files:,}){failed} | {r.startup_s:.2f} s | {_rate(r.root)} ({r.root_bytes / 2**20:.1f} MiB) "
        f"| {_ratio(r.root, r.root_nginx)} | {_rate(r.page)} | {_ratio(r.page, r.page_nginx)} "
        f"| {_rate(r.search)} | {r.upload_new_ms:,.0f} ms | {r.upload_big_ms:,.0f} ms | {r.rss_mib:,.0f} MiB |"
    )


def _workers_rows(r: StageResult) -> list[str]:
    out = []
    for what, attr in (("root page", "root"), ("project page, 50 files", "page")):
        cells: dict[str, LoadResult | None] = {
            key: getattr(r.workers[key], attr) if key in r.workers else None for key, _, _ in WORKER_ROWS
        }
        out.append(
            f"| {r.projects:,} | {what} | {_rate(cells['1w-core0'])} | {_rate(cells['2w-core0'])} "
            f"| {_ratio(cells['2w-core0'], cells['1w-core0'])} | {_rate(cells['1w-both'])} "
            f"| {_rate(cells['2w-both'])} | {_ratio(cells['2w-both'], cells['1w-both'])} |"
        )
    return out


def _peer_rows(r: StageResult, notes: list[str]) -> list[str]:
    out = []
    for p in r.peers:
        name = f"{p.name} {p.version}".strip()
        if p.loaded is None:
            out.append(f"| {r.projects:,} | {name} | {' '.join(p.note.split())} | | | | |")
            continue
        if p.note:
            notes.append(f"{r.projects:,}, {name}: {p.note}")
        size = f"{p.projects:,} of {p.of_projects:,} projects ({p.files:,} files) in {p.load_s:.0f} s"
        if p.projects < p.of_projects:
            size = f"**{size}** (budget {PEER_BUDGET:.0f} s)"
        out.append(
            f"| {r.projects:,} | {name} | {size} | {_rate(p.loaded.root)} | {_ratio(r.root, p.loaded.root)} "
            f"| {_rate(p.loaded.page)} | {_ratio(r.page, p.loaded.page)} |"
        )
    return out


def report(results: list[StageResult], command: str, gen: LoadGenerator) -> str:
    pinning = (
        f"server on core {SERVER_CPU} (every thread of its process tree, like `taskset -a -p -c {SERVER_CPU}`), "
        f"wrk and the harness on core {CLIENT_CPU} (`taskset -c {CLIENT_CPU}`)"
        if can_pin()
        else "none (fewer than 2 cores)"
    )
    lines = [
        "## PyPI scale (issue 15)",
        "",
        f"Command: `{command}`. Default settings (`registry-index serve --storage DIR --port P`, "
        f"{DEFAULT_WORKERS} worker, access log on); load: {gen.label}; pinning: {pinning}; "
        "nginx (1 worker process, same core) serves the same bytes in the same run.",
        "",
        "| projects (files) | start-up | root page | vs nginx | project page, 50 files | vs nginx | search | new project upload | new file into 10,000-file project | RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(_main_row(r) for r in results),
    ]
    measured = [r for r in results if r.page is not None]
    if len(measured) >= 2:
        first, last = measured[0], measured[-1]
        lines += [
            "",
            f"Growth from {first.projects:,} to {last.projects:,} projects (flat = 1.00x):",
            "",
        ]
        if first.page and last.page:
            lines.append(f"- project page p99: {last.page.p99_ms / max(first.page.p99_ms, 1e-9):.2f}x")
        if first.upload_new_ms and last.upload_new_ms:
            lines.append(f"- new-project upload: {last.upload_new_ms / first.upload_new_ms:.2f}x")
        if first.upload_big_ms and last.upload_big_ms:
            lines.append(
                f"- new file into the 10,000-file project: {last.upload_big_ms / first.upload_big_ms:.2f}x"
            )
    if any(r.workers for r in results):
        lines += [
            "",
            "### Workers",
            "",
            f"The same store behind `registry-index serve --storage DIR --port P` ({DEFAULT_WORKERS} worker, "
            "the default) and behind the same command with `--workers 2` (a second server, started after "
            "the first is stopped; its store also holds the first server's measured uploads). "
            f'"{ONE_CORE}": every thread of the server\'s process tree (the uvicorn supervisor and both '
            f"workers) pinned to core {SERVER_CPU}, so the two workers share the one core the single worker "
            f'had; the "1 worker, {ONE_CORE}" figures are the main table\'s. "{TWO_CORES}": the tree may run '
            f"on both cores (`taskset -a -p -c 0,1`) while wrk stays on core {CLIENT_CPU}, so the server "
            "competes with the load generator for core 1: this machine has 2 cores, so no row here shows "
            "2 workers on 2 cores of their own. Ratio = 2 workers ÷ 1 worker.",
            "",
            f"| projects | page | 1 worker, {ONE_CORE} | 2 workers, {ONE_CORE} | ratio | 1 worker, {TWO_CORES} "
            f"| 2 workers, {TWO_CORES} | ratio |",
            "|---|---|---|---|---|---|---|---|",
            *(row for r in results if r.workers for row in _workers_rows(r)),
        ]
        if any(r.rss_2w_mib for r in results):
            lines += [
                "",
                "- RSS after the 2-worker measurements (supervisor and both workers): "
                + ", ".join(f"{r.projects:,}: {r.rss_2w_mib:,.0f} MiB" for r in results if r.rss_2w_mib),
            ]
    peer_notes: list[str] = []
    if any(r.peers for r in results):
        lines += [
            "",
            "### Peers at scale",
            "",
            "Each peer gets the stage's corpus (the same project names and file names) as far as it loads "
            f"within `BENCH_SCALE_PEER_BUDGET` ({PEER_BUDGET:.0f} s), in this order: the 50-file project, the "
            "other projects, the 10,000-file project last; loading stops when the budget runs out, then the "
            f"peer's first answers to the project page and `/simple/` get up to {FIRST_ANSWER_S:.0f} s each. pypiserver (gunicorn, one gevent worker, "
            "cached-dir backend, as bench/servers.py runs it) gets a directory of placeholder files named "
            "as in the corpus, written by the harness (it lists the directory on its first answer, which "
            "counts in its load time). devpi-server (offline, under eatmydata "
            "while loading, as bench/servers.py runs it) gets each file uploaded through its API by four "
            "client threads. Files hold placeholder bytes, so a peer that hashes files hashes 59 bytes. "
            "Peers are measured pinned to core 0 like our server; ratio = registry_index ÷ peer, our "
            "figure being the main table's at the full stage size (>1x: ours faster). A peer that loaded "
            "only part of a stage is measured at that size (in bold) and not tried at larger stages.",
            "",
            "| stage | peer | loaded | root page | ours ÷ peer | project page, 50 files | ours ÷ peer |",
            "|---|---|---|---|---|---|---|",
            *(row for r in results for row in _peer_rows(r, peer_notes)),
        ]
    lines += ["", "Notes:", ""]
    lines.append(
        "- nginx rates: "
        + "; ".join(
            f"{r.projects:,}: root {_rate(r.root_nginx)}, page {_rate(r.page_nginx)}" for r in results
        )
    )
    if DEFAULT_WORKERS != 1:
        lines.append(
            f"- the default worker count is {DEFAULT_WORKERS}, not 1: the workers table's labels say 1"
        )
    lines += [f"- {note}" for r in results for note in r.notes]
    lines += [f"- {note}" for note in peer_notes]
    lines.append(
        "- corpus written directly in: " + ", ".join(f"{r.projects:,}: {r.corpus_s:.0f} s" for r in results)
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    if can_pin():
        os.sched_setaffinity(0, {CLIENT_CPU})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    gen = LoadGenerator(
        duration=int(os.environ.get("BENCH_DURATION", "5")),
        connections=int(os.environ.get("BENCH_CONNECTIONS", "16")),
        runs=int(os.environ.get("BENCH_RUNS", "1")),
        fallback=shutil.which("wrk") is None,
    )
    here = Path(__file__).parent
    work = Path(os.environ.get("BENCH_WORK", here / ".work")) / f"scale-{os.getpid()}"
    out = here / "results" / "scale.md"
    command = command_line()

    def stage_done(results: list[StageResult]) -> None:
        """Each stage's figures on disk as soon as it ends: a later stage's failure keeps them."""
        out.write_text(report(results, command, gen))
        print(report(results[-1:], command, gen), flush=True)
        print(f"{len(results)} stage(s) so far written to {out}", flush=True)

    stages = stages_from_env()

    def say(message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    results = run(work, gen, say, stages, stage_done)
    text = report(results, command, gen)
    out.write_text(text)
    print(text)
    print(f"written to {out}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
