"""Prometheus metrics: every series the index exports, and the exposition of them.

A leaf module (it imports nothing of the app), so the edge, the services and the store can
all count. With several worker processes, ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh directory before any worker starts; prometheus-client then keeps each process's values
in files there, and a scrape of any worker adds them up (``render``).

Label values are bounded: routes are named groups, not paths; refusal reasons are exception
class names; storage operations are the Storage protocol's method names.
"""

from __future__ import annotations

import bisect
import math
import os
import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Request latency buckets: a cached page takes ~50 µs, an upload seconds.
_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter(
    "registry_index_http_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
LATENCY = Histogram(
    "registry_index_http_request_duration_seconds",
    "Time from the request to the last byte of the response",
    ["route"],
    buckets=_FAST,
)
UPLOADS = Counter("registry_index_uploads_total", "Uploads accepted", ["result"])  # created / existed
UPLOAD_BYTES = Counter("registry_index_upload_bytes_total", "Bytes of accepted uploads")
REFUSALS = Counter("registry_index_upload_refusals_total", "Uploads refused", ["reason"])
STORAGE = Histogram(
    "registry_index_storage_operation_duration_seconds",
    "Latency of store operations",
    ["operation"],
    buckets=_FAST,
)
STORAGE_ERRORS = Counter(
    "registry_index_storage_errors_total",
    "Store operations that failed (not counting not-found)",
    ["operation"],
)
# Zero series from the start, so that rate() and alerts see 0 rather than no data.
for _operation in ("get", "get_if_changed", "head", "put", "put_file", "stream", "delete", "list"):
    STORAGE_ERRORS.labels(_operation)
for _result in ("created", "existed"):
    UPLOADS.labels(_result)
CACHE = Counter(
    "registry_index_cache_total", "Cache lookups", ["cache", "result"]
)  # hit / miss / revalidated
INDEX_PROJECTS = Gauge("registry_index_projects", "Projects on the root index", multiprocess_mode="max")
INDEX_FILES = Gauge("registry_index_files", "Files listed by the sidecars", multiprocess_mode="max")
INDEX_BYTES = Gauge(
    "registry_index_file_bytes", "Bytes of the files listed by the sidecars", multiprocess_mode="max"
)
FEED_SERIAL = Gauge(
    "registry_index_change_feed_serial", "Last change-feed serial seen", multiprocess_mode="max"
)

# Children looked up once: ``labels()`` costs more than the increment it leads to.
_cache_counts: dict[tuple[str, str], int] = {}
_storage: dict[str, Callable[[float], None]] = {}
_BOUNDS = (*_FAST, math.inf)


class Tally:
    """Requests counted in plain dicts, handed to prometheus-client in batches.

    A Counter.inc and a Histogram.observe each take a lock, and the histogram walks its
    buckets: together more than the rest of a cached page's overhead. The request path
    does one dict update and one bisect; ``flush`` adds the counts to the real series
    (bucket by bucket, as ``Histogram.observe`` would, one ``inc`` per bucket touched).
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        self._latency: dict[str, list[float]] = {}  # route → [count per bucket..., sum]

    def add(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        row = self._latency.get(route)
        if row is None:
            row = self._latency[route] = [0.0] * (len(_BOUNDS) + 1)
        row[bisect.bisect_left(_BOUNDS, seconds)] += 1
        row[-1] += seconds

    def flush(self) -> None:
        global _cache_counts
        cached, _cache_counts = _cache_counts, {}
        for (name, result), n in cached.items():
            CACHE.labels(name, result).inc(n)
        counts, self._counts = self._counts, {}
        latency, self._latency = self._latency, {}
        for (route, method, status), n in counts.items():
            REQUESTS.labels(route, method, str(status)).inc(n)
        for route, row in latency.items():
            child = LATENCY.labels(route)
            for i, hits in enumerate(row[:-1]):
                if hits:
                    child._buckets[i].inc(hits)
            child._sum.inc(row[-1])


TALLY = Tally()


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    TALLY.add(route, method, status, seconds)


def cache(name: str, result: str) -> None:
    # Two lookups per warm page hit: counted in a dict, added to the series at a flush.
    key = (name, result)
    _cache_counts[key] = _cache_counts.get(key, 0) + 1


def storage_operation(operation: str, seconds: float) -> None:
    observe = _storage.get(operation)
    if observe is None:
        observe = _storage[operation] = STORAGE.labels(operation).observe
    observe(seconds)


def storage_error(operation: str) -> None:
    STORAGE_ERRORS.labels(operation).inc()


def upload_accepted(created: bool, size: int) -> None:
    UPLOADS.labels("created" if created else "existed").inc()
    if created:
        UPLOAD_BYTES.inc(size)


def upload_refused(reason: str) -> None:
    REFUSALS.labels(reason).inc()


def index_size(projects: int, files: int, size: int) -> None:
    INDEX_PROJECTS.set(projects)
    INDEX_FILES.set(files)
    INDEX_BYTES.set(size)


def feed_serial(serial: int) -> None:
    FEED_SERIAL.set(serial)


def render() -> tuple[bytes, str]:
    """The exposition of every series: this process's, or all workers' added up."""
    TALLY.flush()
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def route_of(method: str, path: str) -> str:
    """A bounded label for a request (the fast path answers before routing, so no route object
    is at hand)."""
    if path.startswith("/simple/"):
        return "simple_index" if path == "/simple/" else "simple_project"
    if method == "POST" and path in ("/", "/legacy", "/legacy/"):
        return "upload"
    for prefix, name in _PREFIXES:
        if path.startswith(prefix):
            return name
    return "web" if path == "/" or path.startswith(_WEB) else "other"


_PREFIXES = (
    ("/files/", "files"),
    ("/upstream/", "upstream_files"),
    ("/legacy/+simple/", "simple_project"),
    ("/pypi/", "json_api"),
    ("/api/search", "search"),
    ("/api/audit", "audit"),
    ("/api/", "api"),
    ("/changes", "changes"),
    ("/metrics", "metrics"),
    ("/healthz", "health"),
    ("/readyz", "health"),
)
_WEB = ("/project/", "/projects/", "/search", "/static/", "/user/", "/admin/", "/legacy/")


class Timer:
    """``with Timer("get"):`` records a store operation's latency, and its failure."""

    __slots__ = ("_operation", "_started")

    def __init__(self, operation: str) -> None:
        self._operation = operation
        self._started = 0.0

    def __enter__(self) -> Timer:
        self._started = time.perf_counter()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        storage_operation(self._operation, time.perf_counter() - self._started)
        if kind is not None and kind.__name__ != "ObjectNotFound" and issubclass(kind, Exception):
            storage_error(self._operation)
