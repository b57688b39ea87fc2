from __future__ import annotations

import pytest

from registry_index.domain.model import (
    Project,
    ProjectIndex,
    Release,
    SidecarError,
    from_json,
    to_json,
    utc_now,
)
from registry_index.settings import Settings, SettingsError
from registry_index.testing import placeholder_entry


def test_sidecar_round_trip() -> None:
    entry = placeholder_entry("x-1.0.tar.gz", "1.0", size=5, upload_time=utc_now())
    project = Project(
        "X",
        "x",
        utc_now(),
        owners=("alice",),
        releases={"1": Release("1.0", summary="s")},
        files=(entry,),
        serial=2,
    )
    data = to_json(project)
    assert b'"schema":1' in data
    assert from_json(data) == project


def test_sidecar_refuses_unknown_schema() -> None:
    with pytest.raises(SidecarError):
        from_json(b'{"schema": 99}')
    with pytest.raises(SidecarError):
        from_json(b"not json")


def test_index_round_trip() -> None:
    index = ProjectIndex({"a": "A"}, frozenset({"a"}))
    assert ProjectIndex.from_json(index.to_json()) == index


def test_utc_now_ends_in_z() -> None:
    assert utc_now().endswith("Z") and "+00:00" not in utc_now()


def test_settings_precedence() -> None:
    env = {
        "REGISTRY_INDEX_PORT": "9000",
        "REGISTRY_INDEX_PRIVATE": "true",
        "REGISTRY_INDEX_MAX_UPLOAD_SIZE": "2G",
        "REGISTRY_INDEX_STORAGE": "/srv/x",
    }
    settings = Settings.from_env(env)
    assert (settings.port, settings.private, settings.max_upload_size) == (9000, True, 2 * 1024**3)
    assert settings.with_overrides(port=9001, storage=None).port == 9001
    assert settings.with_overrides(storage=None).storage == "/srv/x"


def test_settings_errors_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="REGISTRY_INDEX_PORT"):
        Settings.from_env({"REGISTRY_INDEX_PORT": "eighty"})
    with pytest.raises(SettingsError, match="REGISTRY_INDEX_PRIVATE"):
        Settings.from_env({"REGISTRY_INDEX_PRIVATE": "maybe"})


def test_file_lookup_follows_each_new_value() -> None:
    project = Project("X", "x", utc_now(), files=(placeholder_entry("x-1.0.tar.gz", "1.0"),))
    assert project.file("x-1.0.tar.gz") is project.files[0]
    assert project.file("x-2.0.tar.gz") is None
    grown = project.bump(files=(*project.files, placeholder_entry("x-2.0.tar.gz", "2.0")))
    assert grown.file("x-2.0.tar.gz") is grown.files[1]  # no lookup table carried over from before
    assert b"_by_filename" not in to_json(grown)
    assert from_json(to_json(grown)) == grown
