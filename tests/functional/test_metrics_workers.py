"""/metrics of a two-worker server adds up both workers (prometheus-client multiprocess mode)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

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
        with httpx.Client(base_url=server.url, timeout=30) as one:
            start = served(one.get("/metrics").text)
        # New connections each: the kernel spreads them over both workers' accept queue.
        for _ in range(40):
            with httpx.Client(base_url=server.url, timeout=30) as fresh:
                assert fresh.get("/healthz").status_code == 200
        totals = set()
        for _ in range(6):
            with httpx.Client(base_url=server.url, timeout=30) as fresh:
                totals.add(served(fresh.get("/metrics").text) - start)
        assert totals == {40.0}, totals  # the same sum from whichever worker answered
