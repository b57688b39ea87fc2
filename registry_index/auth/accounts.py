"""Users and API tokens, kept as objects in the store.

Tokens are 256-bit random strings, so a plain SHA-256 is enough to store them safely; the
object key is that digest, which makes a token lookup one read.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass

from ..domain import keys
from ..domain.model import utc_now
from ..errors import Conflict, InvalidRequest, NotFound
from ..names import is_valid_name
from ..storage import ObjectConflict, Storage
from ..storage.cached import CachedObjects
from .passwords import VerifiedCache, hash_password, spend_password_work
from .scope import Access, Scope

TOKEN_PREFIX = "ri-"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password_hash: str
    admin: bool
    created: str


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    user: str
    created: str
    description: str = ""
    access: Access = "all"
    projects: tuple[str, ...] = ()  # normalized; empty: every project the user may upload to
    expires: str = ""  # ISO UTC; empty: never
    publishers: tuple[str, ...] = ()  # minted by trusted publishing for these publisher ids

    @property
    def scope(self) -> Scope:
        return Scope(self.access, self.projects, self.id, trusted=bool(self.publishers))


def _user_from(data: bytes) -> User:
    return User(**json.loads(data))


def _user_to(user: User) -> bytes:
    return json.dumps(asdict(user), sort_keys=True).encode()


def _token_from(data: bytes) -> Token:
    doc = json.loads(data)
    doc["projects"] = tuple(doc.get("projects", ()))
    doc["publishers"] = tuple(doc.get("publishers", ()))
    return Token(**doc)


def _token_to(token: Token) -> bytes:
    return json.dumps(asdict(token), sort_keys=True).encode()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


class Accounts:
    def __init__(self, storage: Storage, freshness: float = 1.0, cache_size: int = 32 * 1024**2) -> None:
        self.storage = storage
        self._users = CachedObjects(storage, _user_from, _user_to, freshness, name="users", budget=cache_size)
        self._tokens = CachedObjects(
            storage, _token_from, _token_to, freshness, name="tokens", budget=cache_size
        )
        self._verified = VerifiedCache()

    async def add_user(self, name: str, password: str, *, admin: bool = False) -> User:
        if not is_valid_name(name) or name.startswith("__"):
            raise InvalidRequest(f"Invalid user name {name!r}: use letters, digits, '.', '_', '-'.")
        if len(password) < 8:
            raise InvalidRequest("The password must be at least 8 characters long.")
        user = User(name, hash_password(password), admin, utc_now())
        try:
            await self.storage.put(keys.user(name), _user_to(user), create_only=True)
        except ObjectConflict:
            raise Conflict(f"User {name!r} already exists.") from None
        self._users.forget(keys.user(name))
        return user

    async def get_user(self, name: str) -> User | None:
        user, _ = await self._users.read(keys.user(name))
        return user

    async def list_users(self) -> list[User]:
        users = []
        async for info in self.storage.list(keys.USERS):
            user, _ = await self._users.read(info.key)
            if user is not None:
                users.append(user)
        return users

    async def remove_user(self, name: str) -> None:
        if await self.get_user(name) is None:
            raise NotFound(f"No user {name!r}.")
        for token in await self.list_tokens(name):
            await self.revoke_token(token.id)
        await self.storage.delete(keys.user(name))
        self._users.forget(keys.user(name))

    async def check_password(self, name: str, password: str) -> User | None:
        user, etag = (None, None)
        if is_valid_name(name):  # never a storage key from an arbitrary string
            user, etag = await self._users.read(keys.user(name))
        if user is None or etag is None:
            # The same argon2 work as a wrong password, so timing doesn't tell which names exist.
            await spend_password_work(password)
            return None
        ok = await self._verified.verify(name, etag, user.password_hash, password)
        return user if ok else None

    async def create_token(
        self,
        name: str,
        description: str = "",
        *,
        access: Access = "all",
        projects: tuple[str, ...] = (),
        expires: str = "",
    ) -> tuple[str, Token]:
        if await self.get_user(name) is None:
            raise NotFound(f"No user {name!r}; create it first with 'registry-index user add'.")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_digest(secret)
        token = Token(digest[:12], name, utc_now(), description, access, projects, expires)
        await self.storage.put(keys.token(digest), _token_to(token), create_only=True)
        return secret, token

    async def mint_token(
        self, label: str, projects: tuple[str, ...], publishers: tuple[str, ...], expires: str
    ) -> tuple[str, Token]:
        """An upload token for trusted publishers: no account behind it, only its scope."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_digest(secret)
        token = Token(
            digest[:12], label, utc_now(), "trusted publishing", "upload", projects, expires, publishers
        )
        await self.storage.put(keys.token(digest), _token_to(token), create_only=True)
        return secret, token

    async def verify_token(self, secret: str) -> tuple[User, Token] | None:
        """The token's user and record; None for an unknown token or a removed user."""
        token, _ = await self._tokens.read(keys.token(token_digest(secret)))
        if token is None:
            return None
        if token.publishers:
            # The uploader is the publisher (its label is no valid user name, so it never
            # becomes an owner); the token's scope is all it may do.
            return User(token.user, "", False, token.created), token
        user = await self.get_user(token.user)
        return None if user is None else (user, token)

    async def check_token(self, secret: str) -> User | None:
        found = await self.verify_token(secret)
        return None if found is None else found[0]

    async def list_tokens(self, name: str | None = None) -> list[Token]:
        tokens = []
        async for info in self.storage.list(keys.TOKENS):
            token, _ = await self._tokens.read(info.key)
            if token is not None and (name is None or token.user == name):
                tokens.append(token)
        return tokens

    async def revoke_token(self, token_id: str) -> Token:
        """Revoke by the id shown at creation, or by the token itself."""
        wanted = token_digest(token_id)[:12] if token_id.startswith(TOKEN_PREFIX) else token_id
        async for info in self.storage.list(keys.TOKENS):
            digest = keys.token_of(info.key)
            if digest is not None and digest[:12] == wanted:
                token, _ = await self._tokens.read(info.key)
                await self.storage.delete(info.key)
                self._tokens.forget(info.key)
                assert token is not None
                return token
        raise NotFound(f"No token with id {token_id!r}; 'registry-index token list' shows them.")
