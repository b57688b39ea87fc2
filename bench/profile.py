"""Profile registry_index with py-spy on the paths the benchmark measures.

    bench/.venv/bin/python -m bench.profile      (or: make bench-profile)

Each scenario samples the server process (or the CLI loader) with ``py-spy record`` while
the scenario runs (only threads holding the GIL, so waiting is not counted), then reports
the frames that held the CPU most: "self" (the frame on top of the stack) and "inclusive"
(registry_index's own frames anywhere on it). Raw collapsed stacks go to
bench/results/profile-*.txt for a flame graph.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from registry_index.testing import WheelSpec, build_wheel

from . import clients
from .corpus import PAGE_50, PAGE_BIG, CorpusSpec, big_wheel, build_corpus, upload_batch
from .load import PIP_ACCEPT, LoadGenerator, can_pin, client_prefix, timed_get
from .servers import BIN, RegistryIndex

HERE = Path(__file__).resolve().parent
PY_SPY = BIN / "py-spy"
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_SKIP = ("registry_index/cli/", "registry_index/__main__.py")


def say(message: str) -> None:
    print(f"[profile {time.strftime('%H:%M:%S')}] {message}", flush=True)


def short(frame: str) -> str:
    """``render_project (/x/registry_index/simple/render.py:41)`` → ``registry_index/simple/render.py:render_project``."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{match['func']}"


def summarize(raw: Path, top: int = 12) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [short(f) for f in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            if frame.startswith("registry_index/") and not frame.startswith(_SKIP):
                inclusive[frame] += count
    if not total:
        return "no samples (the process was idle)\n"
    lines = [f"{total} samples", "", "self (on top of the stack):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive, registry_index's own frames:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def record(pid: int, seconds: float, out: Path, action: Callable[[], object]) -> str:
    """Sample ``pid`` while ``action`` runs (bounded by ``seconds``); returns the summary."""
    cmd = [str(PY_SPY), "record", "-p", str(pid), "-r", "200", "-d", str(int(seconds)), "-f", "raw", "--gil"]
    spy = subprocess.Popen([*cmd, "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # let py-spy attach
    try:
        action()
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        spy.wait(30)
    return summarize(out) if out.exists() else "py-spy wrote nothing (is ptrace allowed here?)\n"


def main() -> int:
    out = HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    work = HERE / ".work" / f"profile-{os.getpid()}"
    work.mkdir(parents=True)
    if can_pin():
        os.sched_setaffinity(0, {1})
    big_files = int(os.environ.get("BENCH_PROFILE_BIG_FILES", "1000"))
    corpus = build_corpus(CorpusSpec(stages=(100,), big_files=big_files), HERE / ".work", say)
    gen = LoadGenerator(duration=8, connections=16, runs=1, fallback=not shutil.which("wrk"))
    report: list[str] = ["# registry_index profile (py-spy, 200 Hz, threads holding the GIL)", ""]

    def section(name: str, text: str) -> None:
        report.extend([f"## {name}", "", "```", text.rstrip(), "```", ""])
        say(f"{name}:\n{text}")

    target = RegistryIndex(work / "ri")
    with target:
        target.load(corpus.shards(0))
        # The loader's publish path: one process adding the large project file by file.
        cmd = [sys.executable, "-m", "registry_index", "import", "--storage", target.storage]
        loader = subprocess.Popen(
            [*cmd, "--owner", target.user, str(corpus.big())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        text = record(loader.pid, 60, out / "profile-import.txt", lambda: loader.wait(600))
        section(f"registry-index import of a {big_files:,}-file project (publish path, 60 s at most)", text)

        page = target.page(PAGE_50)
        for name, url, headers in (
            ("project page, 50 files, HTML, warm (wrk)", page, {}),
            ("project page, 50 files, JSON, warm (wrk)", page, {"Accept": PIP_ACCEPT}),
            ("root page, 100 projects, HTML, warm (wrk)", target.simple, {}),
        ):
            slug = re.sub(r"\W+", "-", name)[:40]
            action = functools.partial(gen.measure, url, headers)
            text = record(target.pid, 10, out / f"profile-{slug}.txt", action)
            section(name, text)

        (work / "changes").mkdir()

        def renders() -> None:
            deadline = time.monotonic() + 20
            for n in range(40):
                wheel = build_wheel(work / "changes", WheelSpec(PAGE_BIG, f"9000.{n}"))
                clients.upload_file(target.upload_url, target.user, target.password, wheel)
                timed_get(target.page(PAGE_BIG), {"Accept": PIP_ACCEPT})
                timed_get(target.page(PAGE_BIG))
                if time.monotonic() > deadline:
                    break

        text = record(target.pid, 30, out / "profile-render.txt", renders)
        section(f"upload to the {big_files:,}-file project, then its JSON and HTML page (cold)", text)

        files = upload_batch(work / "uploads", 200, prefix="profile-upload")
        home = clients.fresh_home(work, "home")
        text = record(
            target.pid,
            120,
            out / "profile-twine.txt",
            lambda: clients.twine_upload(target.upload_url, target.user, target.password, files, home),
        )
        section("twine upload of 200 small files", text)

        wheel = big_wheel(HERE / ".work" / "big", "big-upload-bench", 256 * 1024 * 1024)
        text = record(
            target.pid,
            120,
            out / "profile-big-upload.txt",
            lambda: clients.upload_file(target.upload_url, target.user, target.password, wheel),
        )
        section("upload of one 256 MiB wheel", text)
    shutil.rmtree(work, ignore_errors=True)
    (out / "profile.md").write_text("\n".join(report))
    say(f"written to {out / 'profile.md'} (client prefix: {' '.join(client_prefix()) or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
