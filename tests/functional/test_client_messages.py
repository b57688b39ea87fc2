"""What twine, hatch and pdm print when the index refuses an upload: the server's message.

These clients show the status line, not the body, so the message travels in the reason
phrase (server/phrase.py, server/protocol.py), as PyPI's does. Each client runs for real,
without any verbose flag, against a real server.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from registry_index.testing import WheelSpec, build_wheel
from tests.conftest import BIN, Index, tool_venv

pytestmark = pytest.mark.slow

CONFLICT = "File already exists: 'said-1.0-py3-none-any.whl' was uploaded before with different content"
WRONG_LOGIN = "Invalid or non-existent authentication information"


@pytest.fixture(scope="module")
def hatch() -> Path:
    return tool_venv("hatch", "hatch") / "hatch"


@pytest.fixture(scope="module")
def pdm() -> Path:
    # pdm 2.29 asks for hishel>=1.4 with no upper bound, and hishel 2 removed what it imports.
    return tool_venv("pdm", "pdm", "hishel[httpx2]>=1.4,<2") / "pdm"


@pytest.fixture(scope="module")
def conflicting(index: Index, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder whose dist/ wheel clashes with one already on the index."""
    first = tmp_path_factory.mktemp("first")
    index.twine(build_wheel(first, WheelSpec("said", "1.0")))
    project = tmp_path_factory.mktemp("said-project")
    (project / "dist").mkdir()
    build_wheel(project / "dist", WheelSpec("said", "1.0", summary="other bytes"))
    (project / "pyproject.toml").write_text(
        '[project]\nname = "said"\nversion = "1.0"\nrequires-python = ">=3.8"\n'
    )
    return project


def output(result: object) -> str:
    return getattr(result, "stdout", "") + getattr(result, "stderr", "")


def test_twine_shows_the_message_without_verbose(index: Index, conflicting: Path) -> None:
    result = index.run(
        BIN / "twine", "upload", "--disable-progress-bar", "--non-interactive",
        "--repository-url", index.upload, "-u", index.owner.name, "-p", index.owner.password,
        *sorted((conflicting / "dist").iterdir()), check=False,
    )  # fmt: skip
    assert result.returncode != 0
    text = " ".join(output(result).split())  # rich wraps long lines
    assert CONFLICT in text, text
    wrong = index.run(
        BIN / "twine", "upload", "--disable-progress-bar", "--non-interactive",
        "--repository-url", index.upload, "-u", index.owner.name, "-p", "not-the-password",
        *sorted((conflicting / "dist").iterdir()), check=False,
    )  # fmt: skip
    assert WRONG_LOGIN in " ".join(output(wrong).split())


def test_hatch_shows_the_message(index: Index, conflicting: Path, hatch: Path, tmp_path: Path) -> None:
    wheel = next((conflicting / "dist").iterdir())
    # hatch skips a file whose name it finds on the index, so send the same wheel respelled.
    respelled = wheel.rename(tmp_path / "Said-1.0-py3-none-any.whl")
    result = index.run(
        hatch, "publish", "-r", index.upload, "-u", index.owner.name, "-a", index.owner.password,
        str(respelled), check=False,
    )  # fmt: skip
    respelled.rename(wheel)
    assert result.returncode != 0
    assert "400 File already exists: 'Said-1.0-py3-none-any.whl' is the same distribution as" in output(
        result
    )
    new = build_wheel(tmp_path, WheelSpec("said", "1.1"))
    wrong = index.run(
        hatch, "publish", "-r", index.upload, "-u", index.owner.name, "-a", "not-the-password",
        str(new), check=False,
    )  # fmt: skip
    assert f"403 {WRONG_LOGIN}" in output(wrong), output(wrong)


def test_hatch_publish_link_leads_to_the_release(index: Index, tmp_path: Path, hatch: Path) -> None:
    wheel = build_wheel(tmp_path, WheelSpec("hatch-said", "2.0"))
    result = index.run(
        hatch, "publish", "-r", index.upload, "-u", index.owner.name, "-a", index.owner.password, str(wheel)
    )
    link = next(line.strip() for line in output(result).splitlines() if "/hatch-said/2.0/" in line)
    page = httpx.get(link, follow_redirects=True, timeout=30)
    assert page.status_code == 200 and "hatch-said" in page.text
    # A second publish finds the file through the devpi-style page hatch reads, and skips it.
    again = index.run(
        hatch, "publish", "-r", index.upload, "-u", index.owner.name, "-a", index.owner.password, str(wheel),
        check=False,
    )  # fmt: skip
    assert "already exists" in output(again), output(again)


def test_pdm_shows_the_message(index: Index, conflicting: Path, pdm: Path) -> None:
    result = index.run(
        pdm, "publish", "--no-build", "-p", conflicting,
        "-r", index.upload, "-u", index.owner.name, "-P", index.owner.password,
        check=False, env={"PDM_USE_VENV": "false", "PDM_CHECK_UPDATE": "false"},
    )  # fmt: skip
    assert result.returncode != 0
    assert f"400 {CONFLICT}" in output(result), output(result)
