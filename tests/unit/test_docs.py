"""The README must keep up with the code: every setting, command, route and dependency."""

from __future__ import annotations

import argparse
import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from starlette.routing import Mount, Route

from registry_index.app import create_app
from registry_index.cli import build_parser
from registry_index.registry import Registry
from registry_index.settings import PREFIX, Settings
from registry_index.storage import MemoryStorage

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match is not None, f"README.md has no '## {title}' section"
    return match.group(1)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


TOP = subcommands(build_parser())
COMMON = {"--storage", "--encrypt", "--encryption-keys", "--s3-sse", "--s3-sse-kms-key-id", "-h", "--help"}


def serve_flags() -> dict[str, str]:
    """Settings field → the ``serve`` flag that sets it."""
    return {a.dest: a.option_strings[-1] for a in TOP["serve"]._actions if a.option_strings}


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_every_setting_is_a_row_of_the_settings_table(name: str) -> None:
    rows = [line for line in section("Settings").splitlines() if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, f"the Settings table needs one row for {name!r}"
    assert f"`{PREFIX}{name.upper()}`" in rows[0]
    flag = serve_flags().get(name)
    if flag is not None:
        assert f"`{flag}`" in rows[0], f"the row of {name!r} does not name {flag}"
    assert name in Settings.HELP, f"Settings.HELP has no text for {name!r}"


def test_every_serve_flag_is_a_setting() -> None:
    names = {f.name for f in fields(Settings)}
    assert set(serve_flags()) - {"help"} <= names


def test_every_command_is_in_the_admin_cli_section() -> None:
    text = section("Admin CLI")

    def has_command(words: str) -> bool:
        return re.search(rf"`registry-index {re.escape(words)}[ `]", text) is not None

    def has_flag(flag: str) -> bool:
        return re.search(rf"{re.escape(flag)}(?![\w-])", text) is not None

    missing = []
    for name, parser in TOP.items():
        if not has_command(name):
            missing.append(name)
        for action_name, action_parser in subcommands(parser).items():
            if not has_command(f"{name} {action_name}"):
                missing.append(f"{name} {action_name}")
            missing += [f"{name} {action_name} {f}" for f in _options(action_parser) if not has_flag(f)]
        if name != "serve":  # serve's flags are the Settings table
            missing += [f"{name} {f}" for f in _options(parser) if not has_flag(f)]
    assert not missing, f"README.md's Admin CLI section lacks: {missing}"


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--") and s not in COMMON]


def _normalize_path(path: str) -> str:
    """``/a/{x}/b`` and ``/a/<y>/b`` compare equal: parameter names are the reader's business."""
    return re.sub(r"\{[^}]*\}|<[^>]*>", "<>", path)


def _documented_paths() -> set[str]:
    paths: set[str] = set()
    for code in re.findall(r"`([^`]+)`", section("HTTP endpoints")):
        for token in re.findall(r"(?:^|\s)(/[^\s]*)", code):
            paths.add(_normalize_path(token))
    return paths


def test_every_route_is_in_the_http_endpoints_table() -> None:
    app = create_app(Settings(storage="memory:"), registry=Registry(MemoryStorage()))
    routes = [r for r in app.routes if not isinstance(r, Mount)]
    assert routes and all(isinstance(r, Route) for r in routes)
    documented = _documented_paths()
    missing = sorted({r.path for r in routes if _normalize_path(r.path) not in documented})
    assert not missing, f"README.md's HTTP endpoints section lacks: {missing}"


def test_every_dependency_is_explained() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    text = section("Why each dependency").lower()
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    missing = [
        spec
        for spec in wanted
        if not re.search(rf"`{re.escape(Requirement(spec).name.lower())}(\[[^\]]*\])?`", text)
    ]
    assert not missing, f"README.md's 'Why each dependency' section lacks: {missing}"
