"""Who is calling: HTTP Basic (NAME:PASSWORD or __token__:TOKEN) or a bearer token."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ..errors import Forbidden
from .accounts import Accounts, User
from .scope import FULL, Scope, expired

TOKEN_USERNAME = "__token__"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request: whose account, and what the credential allows."""

    user: User
    scope: Scope = FULL


def parse_credentials(header: str) -> tuple[str, str] | None:
    """(user name, secret) from an Authorization header; None if it is not Basic or Bearer."""
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


WRONG = (
    "Invalid or non-existent authentication information: check the user name and "
    "password, or use __token__ with a token from 'registry-index token create'."
)


async def authenticate(creds: tuple[str, str] | None, accounts: Accounts) -> Caller:
    """The caller for parsed credentials; wrong, expired or malformed ones are a 403."""
    if creds is None:
        raise LoginFailed("Invalid or non-existent authentication information: use HTTP Basic.", "")
    user_name, secret = creds
    if user_name == TOKEN_USERNAME:
        found = await accounts.verify_token(secret.strip())
        if found is None:
            raise LoginFailed(WRONG, user_name)
        user, token = found
        if expired(token.expires):
            raise LoginFailed(
                f"The API token {token.id} expired at {token.expires}; create a new one with "
                "'registry-index token create'.",
                user_name,
            )
        return Caller(user, token.scope)
    password_user = await accounts.check_password(user_name, secret)
    if password_user is None:
        raise LoginFailed(WRONG, user_name)
    return Caller(password_user)
