"""Using the registry as a library: the same service the HTTP app and the CLI call.

``Registry`` is async. ``SyncRegistry`` wraps it for scripts: every call runs on one event
loop in a background thread (an anyio blocking portal), so the registry's locks and caches
stay bound to a single loop across calls.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .audit import AuditLog
from .auth.accounts import User
from .domain.model import Project
from .encryption import open_store
from .registry import Registry
from .resolve.environment import Environment
from .search.rank import Query, SearchDoc
from .security.scanner import Scanner
from .services.publishing import PublishResult
from .settings import Settings
from .storage import Storage
from .validation import StrictValidator, Validator

T = TypeVar("T")

__all__ = ["Registry", "SyncRegistry", "User", "open_registry"]


def open_registry(
    storage: str | Storage,
    *,
    validator: Validator | None = None,
    audit: AuditLog | None = None,
    scanner: Scanner | None = None,
    freshness: float = 1.0,
) -> Registry:
    """A registry over a store given as a path, ``s3://BUCKET[/PREFIX]``, ``memory:`` or object.

    A store given by name is opened as the server opens it, REGISTRY_INDEX_* settings included,
    so an encrypted store (docs/encryption.md) is read through its key ring, never as ciphertext.
    """
    if isinstance(storage, str):
        store: Storage = open_store(Settings.from_env().with_overrides(storage=storage))
    else:
        store = storage
    return Registry(
        store, freshness=freshness, validator=validator or StrictValidator(), audit=audit, scanner=scanner
    )


class SyncRegistry:
    """Blocking wrappers for scripts; use as a context manager so the loop thread is closed."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._cm: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        self._portal = self._cm.__enter__()

    def __enter__(self) -> SyncRegistry:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._portal.call(self.registry.close)
        self._cm.__exit__(None, None, None)

    def _call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        async def run() -> T:
            return await fn(*args, **kwargs)

        return self._portal.call(run)

    def publish(self, path: Path | str, user: str = "library", *, admin: bool = True) -> PublishResult:
        """Publish a local file as ``user`` (an admin by default: scripts act for the operator)."""
        return self._call(self.registry.publish_path, Path(path), User(user, "", admin, ""))

    def search(self, query: Query | str) -> list[SearchDoc]:
        self._call(self.registry.searching.refresh)
        return self.registry.search(query)

    def download(self, project: str, filename: str) -> bytes:
        async def read() -> bytes:
            return b"".join([chunk async for chunk in self.registry.download(project, filename)])

        return self._call(read)

    def info(self, project: str, version: str | None = None) -> dict[str, Any]:
        return self._call(self.registry.info, project, version)

    def project(self, name: str) -> Project:
        return self._call(self.registry.project, name)

    def yank(self, project: str, version: str, reason: str = "") -> Project:
        return self._call(self.registry.set_yank, project, version, True, reason, actor="library")

    def unyank(self, project: str, version: str) -> Project:
        return self._call(self.registry.set_yank, project, version, False, actor="library")

    def delete(self, project: str, version: str | None = None, filename: str | None = None) -> list[str]:
        return self._call(self.registry.delete, project, version, filename, actor="library")

    def resolve(
        self, *requirements: str, python: str | None = None, platform: str | None = None
    ) -> dict[str, str]:
        """Pins for the requirements; raises if they cannot be satisfied."""
        env = Environment.from_params(python, platform, None)
        resolution = self._call(self.registry.resolve, list(requirements), env)
        if resolution.unsatisfiable:
            raise ValueError("; ".join(str(u) for u in resolution.unsatisfiable))
        return dict(resolution.pins)

    def dependency_tree(self, name: str, version: str | None = None) -> dict[str, Any]:
        return self._call(self.registry.dependency_tree, name, version).to_json()

    def validate(self, path: Path | str) -> list[str]:
        return self.registry.validate(Path(path))
