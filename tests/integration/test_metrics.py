"""/metrics read by prometheus-client's own parser after real traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from registry_index.app import create_app
from registry_index.registry import Registry
from registry_index.settings import Settings
from registry_index.storage import MemoryStorage
from registry_index.storage.measured import MeasuredStorage
from registry_index.testing import WheelSpec, build_wheel, legacy_form

AUTH = ("alice", "alice-password")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    registry = Registry(MeasuredStorage(MemoryStorage()), freshness=0)  # type: ignore[arg-type]
    await registry.accounts.add_user("alice", "alice-password")
    app = create_app(settings, registry=registry)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.fixture()
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(Settings(storage="memory:", max_upload_size=64 * 1024)):
        yield c


async def test_traffic_shows_in_the_exposition(client: httpx.AsyncClient, tmp_path: Path) -> None:
    before = samples((await client.get("/metrics")).text)
    fields, files = legacy_form(build_wheel(tmp_path, WheelSpec("counted", "1.0")))
    assert (await client.post("/legacy/", data=fields, files=files, auth=AUTH)).status_code == 200
    fields["sha256_digest"] = "0" * 64
    assert (await client.post("/legacy/", data=fields, files=files, auth=AUTH)).status_code == 400
    for _ in range(3):
        assert (await client.get("/simple/counted/")).status_code == 200
    assert (await client.get("/simple/nothing-here/")).status_code == 404

    resp = await client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=")
    after = samples(resp.text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "registry_index_http_requests_total"
    assert grew(requests, route="simple_project", method="GET", status="200") == 3
    assert grew(requests, route="simple_project", method="GET", status="404") == 1
    assert grew(requests, route="upload", method="POST", status="400") == 1
    assert grew("registry_index_http_request_duration_seconds_count", route="simple_project") == 4
    assert grew("registry_index_uploads_total", result="created") == 1
    assert grew("registry_index_upload_bytes_total") == len(files["content"][1])
    assert grew("registry_index_upload_refusals_total", reason="InvalidUpload") == 1
    assert grew("registry_index_storage_operation_duration_seconds_count", operation="put") >= 2
    assert grew("registry_index_cache_total", cache="pages", result="hit") >= 1
    assert value(after, "registry_index_projects") == 1
    assert value(after, "registry_index_files") == 1
    assert value(after, "registry_index_file_bytes") == len(files["content"][1])
    assert value(after, "registry_index_change_feed_serial") >= 1


async def test_a_metrics_token_is_required_when_set(tmp_path: Path) -> None:
    async for client in client_for(Settings(storage="memory:", metrics_token="s3cret-for-tests")):
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "metrics-token" in wrong.text
        ok = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-for-tests"})
        assert ok.status_code == 200 and "registry_index_http_requests_total" in ok.text


def test_a_flushed_tally_equals_what_observe_would_have_recorded() -> None:
    # The tally adds to the histogram's buckets directly: this guards that against a
    # prometheus-client whose internals changed.
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from registry_index import metrics

    durations = [0.00005, 0.0001, 0.0003, 0.002, 0.002, 0.7, 45.0]
    reference = CollectorRegistry()
    direct = Histogram("direct", "d", ["route"], buckets=metrics._FAST, registry=reference)
    for d in durations:
        direct.labels("x").observe(d)
        metrics.TALLY.add("tally_check", "GET", 200, d)
    metrics.TALLY.flush()
    expected = {
        s.labels["le"]: s.value
        for f in text_string_to_metric_families(generate_latest(reference).decode())
        for s in f.samples
        if s.name == "direct_bucket"
    }
    got = {
        s.labels["le"]: s.value
        for f in text_string_to_metric_families(generate_latest().decode())
        for s in f.samples
        if s.name == "registry_index_http_request_duration_seconds_bucket"
        and s.labels["route"] == "tally_check"
    }
    assert got == expected and expected["+Inf"] == len(durations)


async def test_the_grafana_dashboard_asks_only_for_series_the_index_exports(
    client: httpx.AsyncClient,
) -> None:
    import json
    import re

    assert (await client.get("/simple/")).status_code == 200
    exported = {
        s.name for f in text_string_to_metric_families((await client.get("/metrics")).text) for s in f.samples
    }
    dashboard = json.loads((Path(__file__).parents[2] / "deploy" / "grafana-dashboard.json").read_text())
    wanted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"registry_index_[a-z_]+", target["expr"])
    }
    assert len(wanted) >= 10
    assert wanted <= exported, wanted - exported
