"""What every request handler needs, built once per app in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from starlette.requests import Request

from ..audit import Origin
from ..auth.failures import FailedLogins
from ..auth.request import TOKEN_USERNAME, Caller, LoginFailed, authenticate, parse_credentials
from ..auth.throttle import Buckets, LoginThrottle
from ..errors import Forbidden, TooManyRequests, Unauthenticated
from ..registry import Registry
from ..settings import Settings
from ..simple.pages import PageCache


@dataclass(slots=True)
class AppContext:
    settings: Settings
    registry: Registry
    pages: PageCache = field(default_factory=PageCache)  # sized from settings in __post_init__
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    failures: FailedLogins | None = None
    # Refused trusted-publishing exchanges per address: 30, refilled over 5 minutes.
    mint_refusals: Buckets = field(default_factory=lambda: Buckets(30, 300.0))

    def __post_init__(self) -> None:
        self.pages = PageCache(budget=self.settings.cache_size // 4)
        if self.failures is None:
            self.failures = FailedLogins(self.registry.audit)

    async def require_reader(self, request: Request) -> Caller | None:
        """In private mode reads need credentials: a 401 makes pip retry with them."""
        if not self.settings.private:
            return None
        caller = await self.require_writer(request)
        if refusal := caller.scope.read_refusal():
            raise Forbidden(refusal)
        return caller

    async def require_writer(self, request: Request) -> Caller:
        caller = await self.caller(request)
        if caller is None:
            raise Unauthenticated(
                "Authentication required: send credentials (twine -u NAME -p PASSWORD, or "
                "__token__ with an API token)."
            )
        return caller

    async def require_admin(self, request: Request) -> Caller:
        caller = await self.require_writer(request)
        if not caller.user.admin:
            raise Forbidden(f"The user {caller.user.name!r} is not an administrator.")
        if refusal := caller.scope.admin_refusal():
            raise Forbidden(refusal)
        return caller

    async def caller(self, request: Request) -> Caller | None:
        """The authenticated caller, None without credentials; throttled before any password work."""
        header = request.headers.get("authorization")
        if not header:
            return None
        creds = parse_credentials(header)
        name = creds[0] if creds is not None else ""
        account = None if not creds or name == TOKEN_USERNAME else name
        origin = origin_of(request)
        assert self.failures is not None
        if (throttled := self.throttle.check(origin.client, account)) is not None:
            await self.failures.record(name, origin, request.url.path, throttled=True)
            raise TooManyRequests(
                f"Too many failed logins for {throttled.who}: retry in {throttled.seconds} s.",
                throttled.seconds,
            )
        try:
            return await authenticate(creds, self.registry.accounts)
        except LoginFailed as exc:
            self.throttle.failed(origin.client, account)
            await self.failures.record(exc.username, origin, request.url.path)
            raise


def origin_of(request: Request) -> Origin:
    client = request.client.host if request.client else ""
    return Origin(client, request.headers.get("user-agent", ""))


def context(request: Request) -> AppContext:
    return cast(AppContext, request.app.state.ctx)
