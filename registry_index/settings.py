"""One frozen settings object: defaults, overridden by REGISTRY_INDEX_* variables, then flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

PREFIX = "REGISTRY_INDEX_"


class SettingsError(ValueError):
    pass


def parse_size(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = value.strip().lower().removesuffix("b").removesuffix("i")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _parse_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


@dataclass(frozen=True, slots=True)
class Settings:
    storage: str = "./var"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    private: bool = False
    max_upload_size: int = 100 * 1024**2
    freshness: float = 1.0  # seconds a cached sidecar is trusted before revalidation
    stale_if_error: float = 300.0
    single_writer: bool = False
    download: str = "proxy"
    presign_expiry: int = 300
    search_refresh: float = 5.0
    vuln_policy: str = "off"
    vuln_policy_projects: str = ""
    s3_public_endpoint: str = ""
    encrypt: str = ""  # "all", or comma-separated projects; see docs/encryption.md
    encryption_keys_file: str = ""  # the key ring itself may come from REGISTRY_INDEX_ENCRYPTION_KEYS
    s3_sse: str = ""
    s3_sse_kms_key_id: str = ""
    forwarded_allow_ips: str = ""
    public_url: str = ""
    archive_max_members: int = 50_000
    archive_max_size: int = 4 * 1024**3
    archive_max_ratio: float = 200.0
    log_level: str = "info"
    access_log: bool = True
    index_snapshot_every: int = 1000
    cache_size: int = 512 * 1024**2
    metrics_token: str = ""
    upstreams: str = ""  # Simple API roots in priority order, comma-separated (--upstream, repeatable)
    upstream_ttl: float = 600.0
    upstream_negative_ttl: float = 60.0
    upstream_timeout: float = 10.0
    trusted_publishing: bool = True
    oidc_audience: str = "registry-index"
    oidc_token_lifetime: int = 900
    oidc_key_files: str = ""  # ISSUER=PATH,...: JWKS files for issuers this index cannot reach
    tls_certfile: str = ""
    tls_keyfile: str = ""

    # name → (parser, help) for env vars and flags alike; the README table is made from this.
    HELP = {
        "storage": "where packages live: a directory path, s3://BUCKET[/PREFIX], memory: for a throwaway store, or a plugin's SCHEME://...",
        "host": "address to listen on",
        "port": "port to listen on",
        "workers": "uvicorn worker processes",
        "private": "require credentials for reads too (pip gets a 401 and retries with them)",
        "max_upload_size": "largest accepted file, e.g. 100M or 2G",
        "freshness": "seconds an instance trusts a cached sidecar before revalidating it",
        "stale_if_error": "seconds a cached page may still be served while the store is unreachable",
        "single_writer": "start on a store without conditional writes (only one process may write)",
        "download": "proxy (stream files through the app) or redirect (to a presigned S3 URL)",
        "presign_expiry": "lifetime in seconds of presigned download URLs (redirect mode)",
        "vuln_policy": "off, warn or refuse uploads of versions that a known advisory affects",
        "vuln_policy_projects": "comma-separated projects the policy applies to (default: all)",
        "search_refresh": "seconds between search-index refreshes from the store (other instances' uploads)",
        "s3_public_endpoint": "S3 endpoint clients can reach, for presigned URLs (default: AWS_ENDPOINT_URL)",
        "encrypt": "encrypt at rest: all, or comma-separated projects (their files and sidecars)",
        "encryption_keys_file": "key ring file, one ID:BASE64KEY a line, newest last "
        "(or the entries themselves in REGISTRY_INDEX_ENCRYPTION_KEYS)",
        "s3_sse": "S3 server-side encryption of every write: sse-s3, sse-kms or sse-c (key from the ring)",
        "s3_sse_kms_key_id": "KMS key id or ARN for --s3-sse sse-kms (default: the bucket's)",
        "forwarded_allow_ips": "proxies trusted for X-Forwarded-For/-Proto (comma-separated addresses, or *); "
        "none by default",
        "public_url": "the index's address as clients see it (e.g. https://pypi.example.com), for absolute "
        "URLs in pages and APIs; default: the request's own",
        "archive_max_members": "most members a wheel or sdist may have",
        "archive_max_size": "most bytes an archive may expand to, e.g. 4G",
        "archive_max_ratio": "highest compression ratio of a large member (zip-bomb guard)",
        "log_level": "uvicorn log level",
        "cache_size": "memory for caches, e.g. 512M: half for sidecars, a quarter for rendered pages, "
        "the rest for credentials and upstream pages; least recently used go first",
        "index_snapshot_every": "changes between snapshots of the root index (a new instance reads the last "
        "snapshot and at most about this many feed records)",
        "metrics_token": "if set, GET /metrics needs 'Authorization: Bearer TOKEN' (default: open, "
        "or a reader's credentials in private mode)",
        "access_log": "one line per request on stderr, written in batches (costs ~1 µs a request; "
        "uvicorn's own access log is never used: it halves the rate of a cached page)",
        "upstreams": "Simple API roots to relay names not hosted here from, first match wins "
        "(REGISTRY_INDEX_UPSTREAMS is comma-separated; credentials from the environment or a netrc)",
        "upstream_ttl": "seconds an upstream page is served from the cache before it is revalidated",
        "upstream_negative_ttl": "seconds an upstream's 404 for a name is remembered",
        "upstream_timeout": "seconds to wait for an upstream before serving the cached page (or a 503)",
        "trusted_publishing": "offer trusted publishing: CI jobs exchange OIDC tokens for short-lived upload "
        "tokens (/_/oidc/*, PEP 807 discovery); publishers are added with 'registry-index publisher add'",
        "oidc_audience": "the audience OIDC tokens must be issued for (what /_/oidc/audience tells CI)",
        "oidc_token_lifetime": "seconds a minted upload token lives, 900-21600 (PEP 807's bounds)",
        "oidc_key_files": "JWKS files for issuers this index cannot reach (air-gapped): ISSUER=PATH, "
        "comma-separated; other issuers' keys come from their OIDC discovery document",
        "tls_certfile": "serve HTTPS with this PEM certificate (chain); trusted publishing clients need HTTPS",
        "tls_keyfile": "the PEM private key of --tls-certfile",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _convert(f.name, raw, PREFIX + f.name.upper())
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply CLI flags; None means "flag not given"."""
        given = {k: v for k, v in overrides.items() if v is not None}
        checked = {k: _convert(k, v, "--" + k.replace("_", "-")) for k, v in given.items()}
        return replace(self, **checked)


def _convert(name: str, raw: Any, source: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if not isinstance(raw, str):
            return raw
        if name in ("max_upload_size", "archive_max_size", "cache_size"):
            return parse_size(raw)
        if name == "vuln_policy" and raw not in ("off", "warn", "refuse"):
            raise ValueError(f"expected off, warn or refuse, got {raw!r}")
        if name == "s3_sse" and raw not in ("", "sse-s3", "sse-kms", "sse-c"):
            raise ValueError(f"expected sse-s3, sse-kms or sse-c, got {raw!r}")
        if name == "download" and raw not in ("proxy", "redirect"):
            raise ValueError(f"expected proxy or redirect, got {raw!r}")
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
        if kind in ("bool", bool):
            return _parse_bool(raw)
        return raw
    except ValueError as exc:
        raise SettingsError(f"{source}: {exc}") from exc
