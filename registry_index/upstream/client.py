"""HTTP to upstream indexes: a project page (conditionally), a file's bytes, with httpx.

Every response is hostile: bodies are read within a byte budget, timeouts bound every read,
and credentials (from the environment or a netrc, see ``config.credentials_for``) go only to
the upstream's own host, never to the file hosts its pages point at.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .. import __version__
from .config import Credentials, Upstream, credentials_for

# PEP 691: JSON first, HTML as the fallback an older index still answers with.
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
MAX_PAGE = 64 * 1024**2
CHUNK = 256 * 1024


class UpstreamError(Exception):
    """The upstream could not be asked (network, timeout, 5xx, oversized answer)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int  # 200, 304, or 404 (410 is reported as 404)
    etag: str | None = None
    serial: int | None = None
    content_type: str = ""
    body: bytes = b""
    url: str = ""  # after redirects: relative file URLs resolve against it


def _serial(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class HttpUpstreams:
    def __init__(
        self,
        upstreams: tuple[Upstream, ...],
        *,
        timeout: float = 10.0,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        netrc_text = _netrc_text(env)
        self._auth: dict[str, Credentials] = {}
        for upstream in upstreams:
            found = credentials_for(upstream, env, netrc_text)
            if found is not None:
                self._auth[upstream.name] = found
        self._hosts = {u.name: urlsplit(u.url).netloc for u in upstreams}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)),
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": f"registry-index/{__version__} (upstream proxy)"},
            transport=transport,
        )

    def _auth_for(self, upstream: Upstream, url: str) -> httpx.BasicAuth | None:
        creds = self._auth.get(upstream.name)
        if creds is None or urlsplit(url).netloc != self._hosts.get(upstream.name):
            return None
        return httpx.BasicAuth(creds[0], creds[1])

    async def page(self, upstream: Upstream, project: str, etag: str | None) -> Fetched:
        url = f"{upstream.url}{project}/"
        headers = {"Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        try:
            async with self._client.stream(
                "GET", url, headers=headers, auth=self._auth_for(upstream, url) or httpx.USE_CLIENT_DEFAULT
            ) as response:
                if response.status_code in (404, 410):
                    return Fetched(404)
                if response.status_code == 304:
                    return Fetched(304, etag=response.headers.get("etag") or etag)
                if response.status_code != 200:
                    raise UpstreamError(f"{url}: HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes(CHUNK):
                    body += chunk
                    if len(body) > MAX_PAGE:
                        raise UpstreamError(f"{url}: page larger than {MAX_PAGE} bytes")
                return Fetched(
                    200,
                    etag=response.headers.get("etag"),
                    serial=_serial(response.headers.get("x-pypi-last-serial")),
                    content_type=response.headers.get("content-type", ""),
                    body=bytes(body),
                    url=str(response.url),
                )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{url}: {type(exc).__name__}: {exc}") from exc

    @contextlib.asynccontextmanager
    async def file(self, upstream: Upstream, url: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """The file's bytes as they arrive (content encodings decoded); UpstreamError if it
        cannot be fetched, or FileNotFoundError if the upstream says it is gone."""
        try:
            async with self._client.stream(
                "GET", url, auth=self._auth_for(upstream, url) or httpx.USE_CLIENT_DEFAULT
            ) as response:
                if response.status_code in (404, 410):
                    raise FileNotFoundError(url)
                if response.status_code != 200:
                    raise UpstreamError(f"{url}: HTTP {response.status_code}")
                yield _chunks(response)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{url}: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in response.aiter_bytes(CHUNK):
        yield chunk


def _netrc_text(environ: Mapping[str, str]) -> str | None:
    path = Path(environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
