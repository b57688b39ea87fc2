"""Checking an OIDC identity token: signature, issuer, audience, times (PyJWT does the JOSE).

The order bounds what a stranger can make this index do: the size, the header's algorithm
(an allow-list of asymmetric ones: never ``none``, never HMAC, whose "key" would be the
issuer's public key) and the issuer (one a publisher names) are read without any key; then
one signature check against the issuer's published key; only a token that passes reaches
the store (its single use) or the publishers. Each refusal names the check that failed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

# RFC 7518's asymmetric algorithms: GitHub and GitLab sign with RS256, Google with RS256.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_TOKEN = 16 * 1024  # GitHub's tokens are about 1.2 KB
LEEWAY = 30  # seconds of clock skew allowed on exp, nbf and iat


class TokenRefused(Exception):
    """A token the index will not exchange: ``code`` as PyPI spells it, ``description`` why."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class KeysUnavailable(Exception):
    """The issuer's keys could not be read (its discovery document or JWKS): try again later."""


class IssuerKeys(Protocol):
    async def key(self, issuer: str, kid: str | None) -> jwt.PyJWK | None:
        """The issuer's signing key of id ``kid`` (None: no such key, even after a refresh)."""
        ...


@dataclass(frozen=True, slots=True)
class Verified:
    claims: Mapping[str, Any]
    once: str  # what makes this token single-use: its jti, else the whole token's digest


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims, read without a key: only to choose the key and the publishers."""
    if not token or len(token) > MAX_TOKEN:
        raise TokenRefused("invalid-payload", f"The token is missing or longer than {MAX_TOKEN} bytes.")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenRefused("invalid-token", f"The token is not a well-formed JWT: {exc}.") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise TokenRefused(
            "invalid-token",
            f"alg: the token is signed with {str(alg)[:20]!r}; this index accepts {', '.join(ALGORITHMS)}.",
        )
    if not isinstance(claims.get("iss"), str):
        raise TokenRefused("invalid-token", "iss: the token names no issuer.")
    return header, claims


async def verify(
    token: str,
    audience: str,
    keys: IssuerKeys,
    trusted: Callable[[str], bool],
) -> Verified:
    """The token's verified claims, or ``TokenRefused`` naming the check that failed."""
    header, unverified = unverified_parts(token)
    issuer = unverified["iss"]
    if not trusted(issuer):
        raise TokenRefused(
            "invalid-publisher", f"iss: no trusted publisher on this index uses the issuer {issuer[:200]!r}."
        )
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    key = await keys.key(issuer, kid)
    if key is None:
        raise TokenRefused(
            "invalid-token",
            f"kid: the token is signed by a key ({kid or 'no kid'}) that the issuer {issuer!r} does not publish.",
        )
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[header["alg"]],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRefused(
            "invalid-token", f"exp: the token expired at {_when(unverified.get('exp'))}."
        ) from None
    except jwt.ImmatureSignatureError as exc:
        if "(iat)" in str(exc):  # PyJWT reports an iat in the future this way too
            raise TokenRefused(
                "invalid-token",
                f"iat: the token says it was issued at {_when(unverified.get('iat'))}, in the future.",
            ) from None
        raise TokenRefused(
            "invalid-token", f"nbf: the token is not valid before {_when(unverified.get('nbf'))}."
        ) from None
    except jwt.InvalidAudienceError:
        raise TokenRefused(
            "invalid-token",
            f"aud: the token is for {str(unverified.get('aud'))[:200]!r}; this index is {audience!r}.",
        ) from None
    except jwt.InvalidIssuedAtError:
        raise TokenRefused(
            "invalid-token",
            f"iat: the token says it was issued at {_when(unverified.get('iat'))}, in the future.",
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRefused("invalid-token", f"{exc.claim}: the token lacks this required claim.") from None
    except jwt.InvalidSignatureError:
        raise TokenRefused(
            "invalid-token", "signature: the token's signature does not verify with the issuer's key."
        ) from None
    except jwt.PyJWTError as exc:
        raise TokenRefused("invalid-token", f"The token does not verify: {exc}.") from None
    # The exchange is over once: a token without jti is spent by its digest.
    jti = claims.get("jti")
    once = jti if isinstance(jti, str) and jti else "sha256:" + _digest(token)
    return Verified(claims, once)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _when(value: object) -> str:
    if not isinstance(value, int | float):
        return "an unreadable time"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))
