"""What every request handler needs, built once per app in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from starlette.requests import Request

from .auth.accounts import User
from .auth.request import authenticate, require_user
from .registry import Registry
from .settings import Settings
from .simple.pages import PageCache


@dataclass(slots=True)
class AppContext:
    settings: Settings
    registry: Registry
    pages: PageCache = field(default_factory=PageCache)

    async def require_reader(self, request: Request) -> User | None:
        """In private mode reads need credentials: a 401 makes pip retry with them."""
        if self.settings.private:
            return await require_user(request, self.registry.accounts)
        return None

    async def require_writer(self, request: Request) -> User:
        return await require_user(request, self.registry.accounts)

    async def caller(self, request: Request) -> User | None:
        return await authenticate(request, self.registry.accounts)


def context(request: Request) -> AppContext:
    return cast(AppContext, request.app.state.ctx)
