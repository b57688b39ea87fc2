"""What every request handler needs, built once per app in the lifespan."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import cast

from starlette.requests import Request

from .audit import EventKind, Origin
from .auth.accounts import User
from .auth.request import LoginFailed, authenticate
from .errors import Forbidden, Unauthenticated
from .registry import Registry
from .settings import Settings
from .simple.pages import PageCache
from .storage import StorageError


@dataclass(slots=True)
class AppContext:
    settings: Settings
    registry: Registry
    pages: PageCache = field(default_factory=PageCache)

    async def require_reader(self, request: Request) -> User | None:
        """In private mode reads need credentials: a 401 makes pip retry with them."""
        if self.settings.private:
            return await self.require_writer(request)
        return None

    async def require_writer(self, request: Request) -> User:
        user = await self.caller(request)
        if user is None:
            raise Unauthenticated(
                "Authentication required: send credentials (twine -u NAME -p PASSWORD, or "
                "__token__ with an API token)."
            )
        return user

    async def require_admin(self, request: Request) -> User:
        user = await self.require_writer(request)
        if not user.admin:
            raise Forbidden(f"The user {user.name!r} is not an administrator.")
        return user

    async def caller(self, request: Request) -> User | None:
        try:
            return await authenticate(request, self.registry.accounts)
        except LoginFailed as exc:
            with contextlib.suppress(StorageError):
                await self.registry.audit.record(
                    EventKind.LOGIN_FAILED,
                    exc.username or "(unknown)",
                    origin_of(request),
                    outcome="refused",
                    detail=request.url.path,
                )
            raise


def origin_of(request: Request) -> Origin:
    client = request.client.host if request.client else ""
    return Origin(client, request.headers.get("user-agent", ""))


def context(request: Request) -> AppContext:
    return cast(AppContext, request.app.state.ctx)
