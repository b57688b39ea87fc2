"""The PEP 517 backend that ``registry_index.testing.build_sdist`` puts into every sdist.

It is copied into the archive as ``_backend.py`` (``backend-path = ["."]``), so an sdist built
by the helpers installs with build isolation and no network: pip and uv need nothing from an
index to build it. It uses only the standard library and is never imported by the package.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zipfile
from email.parser import Parser
from typing import Any


def _meta() -> tuple[str, str, str]:
    with open("PKG-INFO", encoding="utf-8") as fh:
        text = fh.read()
    msg = Parser().parsestr(text)
    return text, msg["Name"], msg["Version"]


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: dict[str, Any] | None = None) -> list[str]:
    return []


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    text, name, version = _meta()
    base = f"{_norm(name)}-{version}"
    files = {}
    for root, _dirs, names in os.walk(_norm(name)):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as fh:
                files[p.replace(os.sep, "/")] = fh.read()
    files[f"{base}.dist-info/METADATA"] = text.encode()
    files[f"{base}.dist-info/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n"
    record = []
    for p, data in files.items():
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{p},sha256={h},{len(data)}")
    record.append(f"{base}.dist-info/RECORD,,")
    files[f"{base}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    filename = f"{base}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for p, data in files.items():
            zf.writestr(p, data)
    return filename
