"""Environments for the real clients (pip, uv, twine) that see only the index a test names."""

from __future__ import annotations

import os
from pathlib import Path


def client_env(home: Path) -> dict[str, str]:
    """An environment in which pip, uv and twine see only the index a test names."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "TWINE_", "REGISTRY_INDEX_"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=str(home / "uv-cache"),
        UV_PYTHON_DOWNLOADS="never",
        HOME=str(home),
        NO_COLOR="1",
    )
    return env
