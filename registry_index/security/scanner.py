"""The scanning provider: which known advisories affect a release."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Scanner(Protocol):
    async def vulnerabilities(self, project: str, version: str) -> list[dict[str, Any]]:
        """Advisories affecting ``project`` at ``version``, in PyPI's JSON API shape."""
        ...


class NoScanner:
    """No advisory database configured: nothing is known to be affected."""

    async def vulnerabilities(self, project: str, version: str) -> list[dict[str, Any]]:
        return []
