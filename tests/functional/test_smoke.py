from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from registry_index.testing import WheelSpec, build_sdist, build_wheel
from tests.conftest import BIN, Index


def test_twine_upload_then_pip_and_uv_install(index: Index, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, WheelSpec("smoke-one", "1.0", requires_python=">=3.8"))
    sdist = build_sdist(tmp_path, "smoke-one", "1.0")
    index.twine(wheel, sdist)
    target = tmp_path / "pip-target"
    index.run(
        BIN / "pip",
        "install",
        "--no-cache-dir",
        "--target",
        target,
        "--index-url",
        index.simple,
        "smoke-one==1.0",
    )
    assert (target / "smoke_one" / "__init__.py").read_text() == "__version__ = '1.0'\n"
    uv_target = tmp_path / "uv-target"
    index.run(
        BIN / "uv",
        "pip",
        "install",
        "--python",
        BIN / "python",
        "--target",
        uv_target,
        "--index-url",
        index.simple,
        "--no-cache",
        "smoke-one",
    )
    assert (uv_target / "smoke_one" / "__init__.py").exists()
    req = urllib.request.Request(
        index.simple + "smoke-one/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(req) as resp:
        doc = json.load(resp)
    assert {f["filename"] for f in doc["files"]} == {wheel.name, sdist.name}
