"""The audit log through the real server and CLI: who did what, and is the record intact."""

from __future__ import annotations

from pathlib import Path

import httpx

from registry_index.testing import WheelSpec, build_wheel
from tests.conftest import Index


def test_audit_api_is_admin_only_and_filters(index: Index, tmp_path: Path) -> None:
    index.twine(build_wheel(tmp_path, WheelSpec("audit-me", "1.0")))
    index.cli("yank", "audit-me", "1.0", "--reason", "oops")
    denied = httpx.post(index.upload, auth=(index.owner.name, "not-the-password"))
    assert denied.status_code == 403

    url = f"{index.url}/api/audit"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=(index.owner.name, index.owner.password)).status_code == 403
    admin = (index.admin.name, index.admin.password)
    resp = httpx.get(url, params={"project": "audit-me"}, auth=admin)
    assert resp.status_code == 200
    doc = resp.json()
    actions = [e["action"] for e in doc["events"]]
    assert actions == ["project:release:yank", "project:file:upload"]  # newest first
    upload = doc["events"][1]
    assert upload["actor"] == "alice" and upload["client"] == "127.0.0.1"
    assert "twine" in upload["user_agent"] and len(upload["sha256"]) == 64
    failed = httpx.get(url, params={"action": "auth:login:fail", "actor": "alice"}, auth=admin).json()
    assert failed["total"] >= 1 and failed["events"][0]["outcome"] == "refused"
    paged = httpx.get(url, params={"per_page": 1, "page": 1}, auth=admin).json()
    assert len(paged["events"]) == 1 and paged["next"] and paged["prev"] is None
    for params in ({"page": "zero"}, {"per_page": "1000"}, {"since": "yesterday"}):
        resp = httpx.get(url, params=params, auth=admin)
        assert resp.status_code == 400 and next(iter(params)) in resp.text


def test_audit_cli_lists_and_verifies(index: Index, tmp_path: Path) -> None:
    index.twine(build_wheel(tmp_path, WheelSpec("audit-cli", "1.0")))
    out = index.cli("audit", "--project", "audit-cli").stdout
    assert "project:file:upload" in out and "alice" in out and "audit-cli/1.0/" in out
    assert "intact" in index.cli("audit", "verify").stdout
