"""The audit log: every mutation recorded, one chain across instances, tampering detected."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from registry_index.audit import EventKind, Origin, StorageAuditLog
from registry_index.audit.log import AuditQuery, event_key
from registry_index.auth.accounts import User
from registry_index.registry import Registry
from registry_index.storage import MemoryStorage, StorageError
from registry_index.testing import WheelSpec, build_wheel
from tests.integration.test_registry import staged

ALICE = User("alice", "", False, "")


async def test_mutations_are_recorded_with_their_details(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    wheel = build_wheel(tmp_path, WheelSpec("audited", "1.0"))
    await registry.publish(ALICE, staged(wheel), Origin("10.1.2.3", "twine/7.0.0"))
    await registry.publish(ALICE, staged(wheel))  # identical re-upload: not a mutation
    await registry.set_yank("audited", "1.0", True, "broken", actor="cli:ops")
    await registry.set_status("audited", "deprecated", "use other", actor="cli:ops")
    await registry.delete("audited", "1.0", actor="cli:ops")
    events = [e async for e in registry.audit.events()]
    assert [e.action for e in events] == [
        "project:file:upload",
        "project:release:yank",
        "project:status",
        "project:delete",
    ]
    upload = events[0]
    assert (upload.actor, upload.project, upload.version, upload.filename) == (
        "alice",
        "audited",
        "1.0",
        wheel.name,
    )
    assert upload.sha256 and upload.client == "10.1.2.3" and upload.user_agent == "twine/7.0.0"
    assert upload.time.endswith("Z") and upload.outcome == "success"
    assert events[1].detail == "broken" and events[2].detail == "deprecated: use other"
    assert await registry.audit.verify() == []


async def test_accounts_are_audited() -> None:
    registry = Registry(MemoryStorage())
    await registry.add_user("carol", "long enough pw", actor="cli:root")
    _, token = await registry.create_token("carol", actor="cli:root")
    await registry.revoke_token(token.id, actor="cli:root")
    await registry.remove_user("carol", actor="cli:root")
    actions = [e.action async for e in registry.audit.events()]
    assert actions == ["user:create", "user:token:create", "user:token:revoke", "user:remove"]


async def test_one_chain_across_instances_under_concurrency() -> None:
    storage = MemoryStorage()
    logs = [StorageAuditLog(storage) for _ in range(3)]
    await asyncio.gather(
        *(logs[i % 3].record(EventKind.YANK, f"actor{i}", project="p", version=str(i)) for i in range(60))
    )
    events = [e async for e in logs[0].events()]
    assert [e.seq for e in events] == list(range(60))
    assert sorted(int(e.version) for e in events) == list(range(60))  # none lost
    assert await StorageAuditLog(storage).verify() == []


async def test_tampering_is_detected() -> None:
    storage = MemoryStorage()
    audit = StorageAuditLog(storage)
    for n in range(5):
        await audit.record(EventKind.UPLOAD, "alice", project="p", version=f"1.{n}")
    doc = json.loads((await storage.get(event_key(2))).data)
    doc["actor"] = "mallory"
    await storage.put(event_key(2), json.dumps(doc).encode())
    problems = await StorageAuditLog(storage).verify()
    assert any("event 2 was altered" in p for p in problems)

    storage2 = MemoryStorage()
    audit2 = StorageAuditLog(storage2)
    for n in range(5):
        await audit2.record(EventKind.UPLOAD, "alice", project="p", version=f"1.{n}")
    await storage2.delete(event_key(1))
    assert any("event 1 is missing" in p for p in await StorageAuditLog(storage2).verify())
    await storage2.delete(event_key(4))  # the newest one: caught by the head hint
    storage3 = MemoryStorage()
    audit3 = StorageAuditLog(storage3)
    for _ in range(3):
        await audit3.record(EventKind.UPLOAD, "alice")
    await storage3.delete(event_key(2))
    assert any("ends at event 1" in p for p in await StorageAuditLog(storage3).verify())


async def test_filters() -> None:
    audit = StorageAuditLog(MemoryStorage())
    await audit.record(EventKind.UPLOAD, "alice", project="a")
    await audit.record(EventKind.YANK, "bob", project="b")
    await audit.record(EventKind.LOGIN_FAILED, "eve", outcome="refused")
    assert [e.actor async for e in audit.events(AuditQuery(project="b"))] == ["bob"]
    assert [e.actor async for e in audit.events(AuditQuery(action="project"))] == ["alice", "bob"]
    assert [e.actor async for e in audit.events(AuditQuery(since="2999-01-01"))] == []


class NoAuditWrites(MemoryStorage):
    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        if key.startswith("audit/"):
            raise StorageError("audit store down")
        return await super().put(key, data, create_only=create_only, if_match=if_match)


async def test_upload_without_its_event_leaves_no_trace(tmp_path: Path) -> None:
    storage = NoAuditWrites()
    registry = Registry(storage)
    registry.audit = StorageAuditLog(storage, retries=1)
    with pytest.raises(StorageError):
        await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("unaudited", "1.0"))))
    assert [i.key async for i in storage.list("files/")] == []
    project, _ = await registry.meta.project("unaudited")
    assert project is None
    assert "unaudited" not in (await registry.index())[0].projects
