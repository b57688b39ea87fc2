"""Issuers' signing keys: from OIDC discovery (cached), or from a file for air-gapped installs.

An issuer publishes ``{issuer}/.well-known/openid-configuration``, whose ``jwks_uri`` is its
key set. Keys are kept for ``ttl`` seconds; a token signed by a key id not in the set makes
one refetch (issuers rotate keys), at most once per ``min_refresh`` seconds per issuer, so a
stream of tokens with made-up key ids costs one fetch, not one each. Answers are bounded
(size, time) and the discovery document must name the same issuer.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

from .tokens import KeysUnavailable

MAX_DOCUMENT = 512 * 1024


@dataclass(slots=True)
class _Held:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched: float = 0.0


def key_files(spec: str) -> dict[str, Path]:
    """``ISSUER=PATH,...`` (``--oidc-key-files``) → {issuer: path}."""
    out = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        issuer, sep, path = item.rpartition("=")
        if not sep or not issuer or not path:
            raise ValueError(f"--oidc-key-files: {item!r} is not ISSUER=PATH")
        out[issuer.rstrip("/")] = Path(path)
    return out


def key_set(doc: Any) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by ``kid`` ("" for a key without one)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise KeysUnavailable("the key set is not a JWKS document (no 'keys' list)")
    out: dict[str, jwt.PyJWK] = {}
    for raw in doc["keys"]:
        if not isinstance(raw, dict) or raw.get("use", "sig") != "sig" or raw.get("kty") == "oct":
            continue  # encryption keys and symmetric secrets never verify a signature here
        try:
            out[str(raw.get("kid", ""))] = jwt.PyJWK(raw)
        except jwt.PyJWTError:
            continue  # a key type this index cannot use: the others still count
    return out


class DiscoveredKeys:
    """``IssuerKeys`` over HTTP discovery, with per-issuer files taking precedence."""

    def __init__(
        self,
        files: Mapping[str, Path] | None = None,
        *,
        ttl: float = 3600.0,
        min_refresh: float = 30.0,
        timeout: float = 10.0,
        verify: ssl.SSLContext | bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._files = {k.rstrip("/"): v for k, v in (files or {}).items()}
        self._ttl, self._min_refresh, self._timeout = ttl, min_refresh, timeout
        self._verify = verify
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # one fetch per issuer at a time

    async def key(self, issuer: str, kid: str | None) -> jwt.PyJWK | None:
        held = self._held.get(issuer)
        now = self._clock()
        stale = held is None or now - held.fetched > self._ttl
        unknown = held is not None and (kid or "") not in held.keys and now - held.fetched > self._min_refresh
        if stale or unknown:
            async with self._locks.setdefault(issuer, asyncio.Lock()):
                if self._held.get(issuer) is held:  # nobody fetched while this one waited
                    self._held[issuer] = _Held(await self._fetch(issuer), self._clock())
            held = self._held[issuer]
        assert held is not None
        if kid is None and len(held.keys) == 1:
            return next(iter(held.keys.values()))
        return held.keys.get(kid or "")

    async def _fetch(self, issuer: str) -> dict[str, jwt.PyJWK]:
        path = self._files.get(issuer.rstrip("/"))
        if path is not None:
            try:
                return key_set(json.loads(path.read_bytes()))
            except (OSError, ValueError) as exc:
                raise KeysUnavailable(f"the key file {path} for {issuer} cannot be read: {exc}") from None
        async with httpx.AsyncClient(
            timeout=self._timeout, verify=self._verify, follow_redirects=False
        ) as client:
            config = await _json(client, f"{issuer.rstrip('/')}/.well-known/openid-configuration")
            if not isinstance(config, dict) or str(config.get("issuer", "")).rstrip("/") != issuer.rstrip(
                "/"
            ):
                raise KeysUnavailable(f"the discovery document of {issuer} names another issuer")
            uri = config.get("jwks_uri")
            if not isinstance(uri, str) or not uri.startswith(
                ("https://", "http://127.0.0.1", "http://localhost")
            ):
                raise KeysUnavailable(f"the discovery document of {issuer} has no https jwks_uri")
            return key_set(await _json(client, uri))


async def _json(client: httpx.AsyncClient, url: str) -> Any:
    try:
        async with client.stream("GET", url, headers={"Accept": "application/json"}) as resp:
            if resp.status_code != 200:
                raise KeysUnavailable(f"{url} answered {resp.status_code}")
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT:
                    raise KeysUnavailable(f"{url} sent more than {MAX_DOCUMENT} bytes")
    except httpx.HTTPError as exc:
        raise KeysUnavailable(f"{url} could not be read: {exc.__class__.__name__}: {exc}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise KeysUnavailable(f"{url} did not send JSON") from None
