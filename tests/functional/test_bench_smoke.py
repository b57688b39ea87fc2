"""The benchmark harness (bench/, issue 7) runs end to end against our server and reports numbers.

Only the registry_index part runs here (no peers, no S3, no apt-get): it needs the project's
dev dependencies and, when wrk is installed, wrk; without wrk the harness uses its Python
load generator and says so in the report. ``make bench`` runs the real thing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RATE = re.compile(r"[\d,]+/s · p50 [\d.]+ · p99 [\d.,]+ ms")


def _cells(report: str, label: str) -> list[str]:
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith(label):
            return cells
    raise AssertionError(f"no row {label!r} in the report:\n{report}")


@pytest.mark.slow
def test_bench_smoke_reports_numbers_for_registry_index(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BENCH_WORK": str(tmp_path / "work"),
        "BENCH_STAGES": "8,20",
        "BENCH_BIG_FILES": "40",
        "BENCH_UPLOAD_FILES": "10",
        "BENCH_BIG_UPLOAD_MIB": "8",
        "BENCH_QUIET_WAIT_S": "0",
    }
    cmd = [sys.executable, "-m", "bench", "--smoke", "--only-ours", "--no-s3", "--no-apt", "--out", tmp_path]
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=150
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = (tmp_path / "smoke.md").read_text()
    assert "wrk -t1 -c16 -d1s" in report or "PYTHON FALLBACK" in report

    for label in (
        "project page, 50 files, HTML, warm",
        "project page, 50 files, JSON (pip's Accept), warm",
        "project page, 50 files, If-None-Match → 304",
        "project page, 40 files, HTML, warm",
        "root page /simple/, 20 projects",
    ):
        assert RATE.fullmatch(_cells(report, label)[1]), _cells(report, label)
    assert re.fullmatch(r"[\d.]+ s", _cells(report, "pip install --no-cache-dir")[1])
    assert re.fullmatch(r"[\d.]+ s", _cells(report, "uv pip install --no-cache")[1])
    assert re.fullmatch(r"[\d.,]+ KiB \(\d+\)", _cells(report, "uv pip compile")[1])
    assert re.fullmatch(r"[\d.]+ ms", _cells(report, "project page, 50 files, HTML, first request")[1])
    assert re.fullmatch(r"[\d.]+ s \(\d+ files/s\)", _cells(report, "twine upload of 10 small files")[1])
    assert re.fullmatch(r"[\d.]+ s, \+\d+ MiB", _cells(report, "upload of one 8 MiB wheel")[1])
    hostile = r"HTTP 400 in [\d.]+ s, \+\d+ MiB, /healthz p99 \d+ ms"
    assert re.fullmatch(hostile, _cells(report, "hostile upload: RECORD bomb (200,000 lines)")[1])
    assert re.fullmatch(hostile, _cells(report, "hostile upload: sdist of 60,000 empty members")[1])
    assert "## Targets (issue 7)" in report
