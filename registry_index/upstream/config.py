"""Upstream indexes as configured: parsed from ``--upstream`` values or ``REGISTRY_INDEX_UPSTREAMS``.

Pure apart from parsing a netrc: nothing here opens a socket, reads the environment or finds
``~/.netrc`` by itself. The caller hands in ``os.environ`` and the netrc's text.

**Upstream names.** Each upstream gets a stable id, ``Upstream.name``, used later in storage
keys (``upstream/<name>/...``) and in credential variables, so it depends only on the URL:

1. Take the host (IDNA-encoded, lower-case) and the port if it is not the scheme's default.
2. Add the path's segments, minus a final ``simple`` segment (the usual Simple API root), so
   ``https://pypi.org/simple/`` is ``pypi-org`` and ``https://host/root/pypi/+simple/`` is
   ``host-root-pypi-simple``.
3. Lower-case, every run of characters outside ``[a-z0-9]`` becomes one ``-``, no ``-`` at
   either end. A name longer than 48 characters is cut to 39 and ends in ``-`` plus the first 8
   hex digits of the sha256 of the normalized URL.
4. Two configured URLs that still come out with the same name (``https://a.b/x/`` and
   ``https://a-b/x/simple/``) both get that ``-<8 hex>`` suffix, whatever their order, so
   reordering priorities never hands one upstream's cache to another.

The scheme is not part of the name: ``http://`` and ``https://`` of one host and path are the
same index, and listing both is refused as a duplicate.
"""

from __future__ import annotations

import hashlib
import netrc
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

ENV_UPSTREAMS = "REGISTRY_INDEX_UPSTREAMS"
_CREDENTIAL_PREFIX = "REGISTRY_INDEX_UPSTREAM_"
TOKEN_USERNAME = "__token__"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_MAX_NAME = 48
_HASH_DIGITS = 8


class UpstreamConfigError(ValueError):
    """An upstream setting that cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """One configured upstream index. It holds no secret: see ``credentials_for``."""

    name: str  # stable id, [a-z0-9-]: see the module docstring
    url: str  # the Simple API root, normalized, ending in "/"
    priority: int  # its place in the configured order, 0 first

    @property
    def host(self) -> str:
        """The host a netrc entry is looked up by (no port, as pip and requests do)."""
        return urlsplit(self.url).hostname or ""


class Credentials(NamedTuple):
    """A username and password for one upstream; its repr never shows the password."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    def __str__(self) -> str:
        return self.__repr__()


def _redact(url: str) -> str:
    """The URL with any userinfo replaced, so a message never repeats a secret."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url if "@" not in url else "***@" + url.rpartition("@")[2]
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}"


def credential_variables(name: str) -> tuple[str, str, str]:
    """The USERNAME, PASSWORD and TOKEN variables read for the upstream named ``name``."""
    stem = _CREDENTIAL_PREFIX + name.upper().replace("-", "_")
    return f"{stem}_USERNAME", f"{stem}_PASSWORD", f"{stem}_TOKEN"


def _normalize(value: str) -> tuple[str, str]:
    """(normalized URL, name stem before any collision suffix), or UpstreamConfigError."""
    raw = value.strip()
    if not raw:
        raise UpstreamConfigError(
            "an upstream URL is empty: give the Simple API root, e.g. --upstream https://pypi.org/simple/"
        )
    shown = _redact(raw)
    if any(ch.isspace() for ch in raw):
        raise UpstreamConfigError(
            f"upstream {shown!r} contains whitespace: percent-encode it (%20) or remove it"
        )
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:  # a bad port or a malformed IPv6 host
        raise UpstreamConfigError(
            f"upstream {shown!r} is not a valid URL ({exc}): give the Simple API root, e.g. https://pypi.org/simple/"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UpstreamConfigError(
            f"upstream {shown!r} must be an http:// or https:// URL of a Simple API root, e.g. https://pypi.org/simple/"
        )
    if "@" in parts.netloc:
        bare = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, ""))
        try:
            url, stem = _normalize(bare)
            name, host = _name(url, stem, collides=False), urlsplit(url).hostname
        except UpstreamConfigError:
            name, host = "<NAME>", "the host"
        user, pw, tok = credential_variables(name)
        raise UpstreamConfigError(
            f"upstream {shown!r} has credentials in the URL: never put them on the command line"
            f" or in {ENV_UPSTREAMS}. Remove them and set {user} and {pw} (or {tok} for"
            f" username __token__) in the environment, or add a netrc entry for {host}"
            " (NETRC or ~/.netrc)"
        )
    if not parts.hostname:
        raise UpstreamConfigError(
            f"upstream {shown!r} has no host: give a full URL, e.g. https://pypi.org/simple/"
        )
    if parts.query or parts.fragment or "?" in raw or "#" in raw:
        raise UpstreamConfigError(
            f"upstream {shown!r} has a query string or fragment: give the bare Simple API root,"
            " e.g. https://pypi.org/simple/"
        )
    try:
        host = parts.hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UpstreamConfigError(f"upstream {shown!r} has a host that is not a valid domain name") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    url = urlunsplit((scheme, netloc, path, "", ""))

    segments = [s for s in path.split("/") if s]
    if segments and segments[-1].lower() == "simple":
        segments.pop()
    words = [host] + ([str(port)] if port is not None and port != _DEFAULT_PORTS[scheme] else []) + segments
    stem = _NOT_NAME.sub("-", "-".join(words).lower()).strip("-")
    return url, stem


def _identity(url: str) -> str:
    """What makes two upstream URLs the same index: everything but the scheme."""
    return url.partition("://")[2]


def _suffix(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:_HASH_DIGITS]


def _name(url: str, stem: str, collides: bool) -> str:
    """The rule of the module docstring, steps 3 and 4."""
    name = stem or "upstream"
    if not stem or collides or len(name) > _MAX_NAME:
        name = f"{name[: _MAX_NAME - _HASH_DIGITS - 1].rstrip('-')}-{_suffix(url)}"
    return name


def parse_upstreams(values: Sequence[str]) -> tuple[Upstream, ...]:
    """The repeated ``--upstream`` values, in priority order (first is asked first)."""
    if isinstance(values, str):  # a str is a Sequence[str] of characters: never what is meant
        raise TypeError("parse_upstreams takes a list of URLs; use parse_upstreams_env for one string")
    parsed = [_normalize(v) for v in values]
    seen: dict[str, str] = {}
    for (url, _), value in zip(parsed, values, strict=True):
        earlier = seen.get(_identity(url))
        if earlier is not None:
            raise UpstreamConfigError(
                f"upstream {_redact(value.strip())!r} is listed twice (same index as {earlier!r}): keep one of them"
            )
        seen[_identity(url)] = _redact(value.strip())
    stems = [stem for _, stem in parsed]
    upstreams = []
    for priority, (url, stem) in enumerate(parsed):
        name = _name(url, stem, collides=stems.count(stem) > 1)
        upstreams.append(Upstream(name=name, url=url, priority=priority))
    names = [u.name for u in upstreams]
    if len(set(names)) != len(names):  # a sha256 prefix collision: not expected in practice
        raise UpstreamConfigError(f"upstream names collide ({', '.join(names)}): change one of the URLs")
    return tuple(upstreams)


def parse_upstreams_env(text: str) -> tuple[Upstream, ...]:
    """``REGISTRY_INDEX_UPSTREAMS``: URLs separated by commas; blanks and empty items ignored.

    A comma inside a URL must be percent-encoded (``%2C``).
    """
    return parse_upstreams([item for item in text.split(",") if item.strip()])


def credentials_for(
    upstream: Upstream, environ: Mapping[str, str], netrc_text: str | None
) -> Credentials | None:
    """The credentials to send to ``upstream``, or None to send none.

    First the environment: ``REGISTRY_INDEX_UPSTREAM_<NAME>_USERNAME`` and ``_PASSWORD``, or
    ``_TOKEN`` alone (username ``__token__``), where NAME is the upstream's name upper-cased
    with ``-`` as ``_``. An empty variable counts as unset. Else the netrc entry for the URL's
    host (or its ``default`` entry). Finding the netrc (``NETRC``, ``~/.netrc``) and reading it
    is the caller's part; ``netrc_text`` is its content. Errors name variables, never values.
    """
    user_var, password_var, token_var = credential_variables(upstream.name)
    username, password, token = (environ.get(v) or None for v in (user_var, password_var, token_var))
    if token is not None:
        if username is not None or password is not None:
            raise UpstreamConfigError(
                f"upstream {upstream.name!r}: set either {token_var} or {user_var} and {password_var}, not both"
            )
        return Credentials(TOKEN_USERNAME, token)
    if username is not None and password is not None:
        return Credentials(username, password)
    if username is not None or password is not None:
        missing = password_var if password is None else user_var
        raise UpstreamConfigError(
            f"upstream {upstream.name!r}: {missing} is not set; set both {user_var} and {password_var}, or only {token_var}"
        )
    if netrc_text is None:
        return None
    entry = _parse_netrc(netrc_text).authenticators(upstream.host)
    if entry is None:
        return None
    login, account, secret = entry
    username = login or account or ""
    if not username and not secret:
        return None
    return Credentials(username, secret or "")


def _parse_netrc(text: str) -> netrc.netrc:
    """The stdlib parser, given text: it only reads files, so one private to us, removed at once."""
    with tempfile.TemporaryDirectory(prefix="registry-index-netrc-") as tmp:  # mode 0700
        path = os.path.join(tmp, "netrc")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fp:
            fp.write(text)
        try:
            return netrc.netrc(path)
        except netrc.NetrcParseError as exc:
            # exc.msg can quote the offending token, which may be a password: give the line only.
            raise UpstreamConfigError(
                f"the netrc cannot be parsed (line {exc.lineno}): fix that line, or set the upstream's"
                " credential variables instead"
            ) from None
