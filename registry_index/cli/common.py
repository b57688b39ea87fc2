"""What the command groups share: the store options, the settings they make, the admin
commands' registry, progress on stderr.

Each group module's ``register(sub, common)`` adds its parsers to ``sub`` and sets
``handler`` on every leaf parser; ``main`` calls ``args.handler(args)``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import TracebackType
from typing import TextIO, TypeAlias

from ..app import registry_from_settings
from ..registry import Registry
from ..running import discovered_storage
from ..settings import PREFIX, Settings

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
# A leaf parser's ``handler``: runs the command with the parsed flags, returns the exit code.
Handler = Callable[[argparse.Namespace], int]
AdminCommand = Callable[[Registry, argparse.Namespace], Awaitable[int]]


def storage_options() -> argparse.ArgumentParser:
    """The parent parser of every command that opens the store: which store, and its encryption."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--storage",
        help=Settings.HELP["storage"]
        + f" (env {PREFIX}STORAGE; default ./var, and for admin commands the running server's store)",
    )
    common.add_argument("--encrypt", metavar="all|PROJECT,...", help=Settings.HELP["encrypt"])
    common.add_argument(
        "--encryption-keys",
        dest="encryption_keys_file",
        metavar="FILE",
        help=Settings.HELP["encryption_keys_file"],
    )
    common.add_argument("--s3-sse", choices=["sse-s3", "sse-kms", "sse-c"], help=Settings.HELP["s3_sse"])
    common.add_argument("--s3-sse-kms-key-id", help=Settings.HELP["s3_sse_kms_key_id"])
    return common


def settings_from_args(args: argparse.Namespace) -> Settings:
    flags = {k: getattr(args, k, None) for k in ("storage", *Settings.HELP)}
    upstreams = flags.get("upstreams")
    if isinstance(upstreams, list):  # --upstream is repeatable: priority order
        flags["upstreams"] = ",".join(upstreams)
    return Settings.from_env().with_overrides(**flags)


def admin_settings(args: argparse.Namespace) -> Settings:
    """The settings of an admin command; without a store named, that of the running server."""
    settings = settings_from_args(args)
    if getattr(args, "storage", None) is None and PREFIX + "STORAGE" not in os.environ:
        server = discovered_storage()  # AmbiguousStore (a ValueError) names the choices
        if server is not None:
            print(f"using the store of the server at {server.url}: {server.storage}", file=sys.stderr)
            settings = replace(settings, storage=server.storage)
    return settings


def admin(command: AdminCommand) -> Handler:
    """The handler of an admin command: ``command`` runs on the registry of ``admin_settings``."""

    def handler(args: argparse.Namespace) -> int:
        return asyncio.run(_run_admin(command, args))

    return handler


async def _run_admin(command: AdminCommand, args: argparse.Namespace) -> int:
    settings = admin_settings(args)
    registry = registry_from_settings(replace(settings, freshness=0))
    try:
        return await command(registry, args)
    finally:
        await registry.close()


def actor() -> str:
    """Who the audit log names for an admin command."""
    return f"cli:{os_user()}"


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a UID without a passwd entry, as in many containers
        return f"uid-{os.getuid()}"


def progress(done: int, total: int, label: str, stream: TextIO = sys.stderr) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if done == total else ""
    stream.write(f"\r[{bar}] {done}/{total} {label[:50]:<50}{end}")
    stream.flush()


class ProgressLine:
    """A progress line on stderr for a long walk: counts, percentage and rate.

    Called as ``progress(done, total, label)``. A walk of the store cannot know its length
    without a second walk, so ``total`` may be None (or smaller than ``done``, when it was an
    estimate such as the root index's project count): the line then shows a running count.
    Redraws are at most one per ``interval`` seconds, so 10 million calls cost a few
    thousand writes; the last state is always drawn by ``close`` (or leaving the ``with``).
    """

    def __init__(
        self,
        unit: str,
        *,
        interval: float = 0.1,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unit = unit
        self._interval = interval
        self._stream = stream
        self._clock = clock
        self._start = clock()
        self._drawn_at = -float("inf")
        self._pending: tuple[int, int | None, str] | None = None
        self._open = False  # a line drawn without its newline yet

    def __call__(self, done: int, total: int | None, label: str) -> None:
        now = self._clock()
        finished = total is not None and done == total
        if not finished and now - self._drawn_at < self._interval:
            self._pending = (done, total, label)
            return
        self._draw(done, total, label, now, finished)

    def close(self) -> None:
        if self._pending is not None:
            self._draw(*self._pending, self._clock(), True)
        elif self._open:
            self._write("\n")
            self._open = False

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def line(self, done: int, total: int | None, label: str, now: float) -> str:
        elapsed = now - self._start
        rate = f"{done / elapsed:.1f}" if elapsed > 0 else "-"
        if total is not None and total > 0 and done <= total:
            width = 30
            bar = "#" * (width * done // total) + "-" * (width - width * done // total)
            counts = f"[{bar}] {done}/{total} {100 * done // total:3d}%"
        else:
            counts = f"{done} {self.unit}"
        return f"{counts} {rate} {self.unit}/s {label[:50]:<50}"

    def _draw(self, done: int, total: int | None, label: str, now: float, finished: bool) -> None:
        self._write("\r" + self.line(done, total, label, now) + ("\n" if finished else ""))
        self._open = not finished
        self._pending = None
        self._drawn_at = now

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr  # looked up late: tests capture sys.stderr
        stream.write(text)
        stream.flush()
