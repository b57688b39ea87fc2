"""The documented library example runs as users would run it, and does what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_registry_usage_example_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run = subprocess.run(
        [sys.executable, str(REPO / "docs" / "examples" / "registry_usage.py"), str(store)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "problems in the app wheel: none" in out
    assert "published example_app-2.0-py3-none-any.whl (new: True)" in out
    assert "search 'example': ['example-app', 'example-base']" in out
    assert "latest example-app: 2.0 requires ['example-base>=1']" in out
    assert "pins for example-app: {'example-app': '2.0', 'example-base': '1.0'}" in out
    assert "example-app depends on: [('example-base', '1.0')]" in out
    assert "example-base 1.0 yanked: True" in out
    assert "identical: True" in out
    # What the library wrote is what a server reads: the same store, the same sidecars.
    assert (store / "projects" / "example-app.json").exists()
    audit = subprocess.run(
        [sys.executable, "-m", "registry_index", "audit", "--storage", str(store)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "project:file:upload" in audit and "example-bot" in audit and "project:release:yank" in audit
