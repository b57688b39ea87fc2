"""/metrics of a two-worker server adds up both workers (prometheus-client multiprocess mode)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from registry_index.server import access_log
from tests.support.servers import run_server


def served(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "registry_index_http_requests_total" and sample.labels["route"] == "health":
                total += sample.value
    return total


@pytest.mark.slow
def test_two_workers_report_every_request_whichever_is_scraped(tmp_path: Path) -> None:
    with run_server(str(tmp_path / "store"), tmp_path / "server.log", "--workers", "2") as server:
        time.sleep(access_log.FLUSH_SECONDS + 0.5)  # the readiness probes' counts, flushed
        with httpx.Client(base_url=server.url, timeout=30) as one:
            start = served(one.get("/metrics").text)
        # New connections each: the kernel spreads them over both workers' accept queue.
        for _ in range(40):
            with httpx.Client(base_url=server.url, timeout=30) as fresh:
                assert fresh.get("/healthz").status_code == 200
        # The worker that is scraped flushes its tally; the other adds its own within one
        # access-log flush (0.5 s), which is as fresh as /metrics promises across workers.
        time.sleep(access_log.FLUSH_SECONDS + 0.5)
        totals = set()
        for _ in range(6):
            with httpx.Client(base_url=server.url, timeout=30) as fresh:
                totals.add(served(fresh.get("/metrics").text) - start)
        assert totals == {40.0}, totals  # the same sum from whichever worker answered
