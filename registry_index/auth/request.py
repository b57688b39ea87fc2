"""Who is calling: HTTP Basic (NAME:PASSWORD or __token__:TOKEN) or a bearer token."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from ..errors import Forbidden
from .accounts import Accounts, User

TOKEN_USERNAME = "__token__"


def _credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in ("bearer", "token") and value:
        return TOKEN_USERNAME, value
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class LoginFailed(Forbidden):
    """Credentials were sent and are wrong: a 403, and an audit event."""

    def __init__(self, message: str, username: str) -> None:
        super().__init__(message)
        self.username = username


async def authenticate(request: Request, accounts: Accounts) -> User | None:
    """The caller, None without credentials; wrong credentials are a 403."""
    header = request.headers.get("authorization")
    if not header:
        return None
    creds = _credentials(header)
    if creds is None:
        raise LoginFailed("Invalid or non-existent authentication information: use HTTP Basic.", "")
    user_name, secret = creds
    if user_name == TOKEN_USERNAME:
        user = await accounts.check_token(secret.strip())
    else:
        user = await accounts.check_password(user_name, secret)
    if user is None:
        raise LoginFailed(
            "Invalid or non-existent authentication information: check the user name and "
            "password, or use __token__ with a token from 'registry-index token create'.",
            user_name,
        )
    return user
