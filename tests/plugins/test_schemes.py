"""Reading a storage URL (storage/schemes.py): the one place that tells S3, memory and paths apart."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from registry_index.storage import StorageSchemeError, local_path, open_storage, storage_scheme
from registry_index.storage.schemes import BUILTIN, ENTRY_POINT_GROUP, installed_schemes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "url, scheme",
    [
        ("./var", "file"),
        ("/srv/packages", "file"),
        ("var", "file"),
        ("", "file"),
        ("C:\\registry", "file"),  # one letter is a drive, not a scheme
        ("file:///srv/packages", "file"),
        ("memory:", "memory"),
        ("s3://bucket/prefix", "s3"),
        ("S3://Bucket", "s3"),
        ("dict://shelf", "dict"),
        ("git+ssh://host/repo", "git+ssh"),
    ],
)
def test_storage_scheme(url: str, scheme: str) -> None:
    assert storage_scheme(url) == scheme


@pytest.mark.parametrize(
    "url, path",
    [
        ("./var", Path("./var")),
        ("/srv/packages", Path("/srv/packages")),
        ("file:///srv/my%20packages", Path("/srv/my packages")),
        ("file://localhost/srv", Path("/srv")),
        ("file:relative/dir", Path("relative/dir")),
        ("memory:", None),
        ("s3://bucket", None),
        ("dict://shelf", None),
    ],
)
def test_local_path(url: str, path: Path | None) -> None:
    assert local_path(url) == path


@pytest.mark.parametrize("url", ["file://elsewhere/srv", "file:///srv?x=1", "file:"])
def test_file_urls_name_a_directory_here(url: str) -> None:
    with pytest.raises(StorageSchemeError):
        local_path(url)


def test_the_built_in_backends_are_the_declared_entry_points() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared[ENTRY_POINT_GROUP] == BUILTIN
    assert {name: ep.value for name, ep in installed_schemes().items()} == BUILTIN


def test_each_built_in_opens_its_urls(tmp_path: Path) -> None:
    assert type(open_storage("memory:")).__name__ == "MemoryStorage"
    local = open_storage(f"file://{tmp_path}/a")
    assert type(local).__name__ == "LocalStorage" and (tmp_path / "a").is_dir()
    assert type(open_storage(str(tmp_path / "b"), s3_public_endpoint="ignored")).__name__ == "LocalStorage"
    with pytest.raises(ValueError, match="memory:"):
        open_storage("memory:named")


def test_boto3_is_imported_only_for_s3() -> None:
    code = (
        "import sys; from registry_index.storage import open_storage; "
        "open_storage('memory:'); assert 'boto3' not in sys.modules, 'memory: imported boto3'; "
        "open_storage('s3://bucket/p', s3_public_endpoint=''); assert 'boto3' in sys.modules"
    )
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_an_unknown_scheme_names_the_installed_ones() -> None:
    with pytest.raises(StorageSchemeError, match=r"installed: file, memory, s3\).*registry_index\.storage"):
        open_storage("nfs://server/export")
    with pytest.raises(StorageSchemeError, match=r"written \./data:2024"):
        open_storage("data:2024")
