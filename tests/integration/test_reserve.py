"""Reservations and the upload guard (issue 14): names hosted here before they have files, and a
new name an upstream already serves refused unless an admin reserved it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from registry_index.app import create_app
from registry_index.auth.accounts import User
from registry_index.domain.model import Project, ProjectIndex, from_json, to_json
from registry_index.errors import Conflict, Forbidden, InvalidRequest, InvalidUpload, NotFound
from registry_index.fsck import fsck
from registry_index.registry import Registry
from registry_index.settings import Settings
from registry_index.storage import MemoryStorage
from registry_index.testing import WheelSpec, build_wheel, legacy_form
from tests.integration.test_registry import staged

ALICE = User("alice", "", False, "")
BOB = User("bob", "", False, "")
JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"


class FakeUpstream:
    """An upstream that serves the names it is given, and remembers what it was asked."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)
        self.asked: list[str] = []

    async def serves(self, name: str) -> bool:
        self.asked.append(name)
        return name in self.names


async def actions(registry: Registry) -> list[str]:
    return [e.action async for e in registry.audit.events()]


# -- the domain ------------------------------------------------------------------------------


def test_reserved_round_trips_and_old_sidecars_still_read() -> None:
    project = Project.new("Acme_Tool", "acme-tool", ())
    assert not project.reserved and project.listed
    reserved = project.with_reserved(True)
    assert reserved.reserved and reserved.serial == project.serial + 1
    assert reserved.with_reserved(True) is reserved  # no change, no new serial
    assert from_json(to_json(reserved)).reserved
    # Written only when set, so a sidecar that is not reserved reads in builds before the field.
    assert "reserved" not in json.loads(to_json(project))
    assert not from_json(to_json(project)).reserved
    assert json.loads(to_json(reserved))["schema"] == 1


def test_a_reservation_without_files_is_not_listed() -> None:
    bare = Project.new("Acme", "acme", ()).with_reserved(True)
    assert not bare.listed and bare.claimable and bare.disposable
    index = ProjectIndex().listing([bare])
    assert index.projects == {} and index.lists(bare)
    listed = ProjectIndex({"acme": "Acme"}).listing([bare])  # was listed (a hosted name, files gone)
    assert listed.projects == {}


# -- reserve / unreserve ---------------------------------------------------------------------


async def test_reserve_an_unknown_name_hosts_it_with_no_files() -> None:
    registry = Registry(MemoryStorage())
    project = await registry.reserve("Acme_Tool", actor="cli:ops")
    assert (project.name, project.normalized, project.reserved) == ("Acme_Tool", "acme-tool", True)
    assert project.files == () and project.owners == ()
    stored = await registry.project("acme.tool")  # any spelling
    assert stored.reserved
    index, _ = await registry.index()
    assert "acme-tool" not in index.projects
    assert await registry.reserve("acme-tool") == stored  # again: nothing changes, nothing recorded
    events = [e async for e in registry.audit.events()]
    assert [(e.action, e.actor, e.project) for e in events] == [("project:reserve", "cli:ops", "acme-tool")]
    assert await registry.audit.verify() == []


async def test_reserve_validates_the_name() -> None:
    registry = Registry(MemoryStorage())
    for bad in ("-acme", "acme tool", "a" * 129, ""):
        with pytest.raises(InvalidRequest, match="not a valid project name"):
            await registry.reserve(bad)
        with pytest.raises(InvalidRequest, match="not a valid project name"):
            await registry.unreserve(bad)
    assert [n async for n in registry.project_names()] == []


async def test_unreserve_a_bare_reservation_frees_the_name() -> None:
    registry = Registry(MemoryStorage())
    await registry.reserve("acme")
    assert await registry.unreserve("ACME", actor="cli:ops") is None
    with pytest.raises(NotFound):
        await registry.project("acme")
    assert [n async for n in registry.project_names()] == []
    assert await actions(registry) == ["project:reserve", "project:unreserve"]
    with pytest.raises(NotFound):
        await registry.unreserve("acme")
    assert (await fsck(registry.storage)).problems == []


async def test_unreserve_of_a_hosted_project_only_clears_the_flag(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("hosted", "1.0"))))
    project = await registry.reserve("hosted")
    assert project.reserved and len(project.files) == 1
    kept = await registry.unreserve("hosted")
    assert kept is not None and not kept.reserved and kept.owners == ("alice",) and len(kept.files) == 1
    assert await registry.unreserve("hosted") == kept  # not reserved: nothing changes
    assert await actions(registry) == ["project:file:upload", "project:reserve", "project:unreserve"]
    index, _ = await registry.index()
    assert index.projects == {"hosted": "hosted"}


async def test_unreserve_keeps_a_reservation_with_owners(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    await registry.reserve("claimed")
    await registry.publish(BOB, staged(build_wheel(tmp_path, WheelSpec("claimed", "1.0"))))
    await registry.delete("claimed", "1.0")  # files gone, bob still owns it
    kept = await registry.unreserve("claimed")
    assert kept is not None and kept.owners == ("bob",) and kept.files == ()
    index, _ = await registry.index()
    assert "claimed" in index.projects  # a hosted name with no files, as before reservations


async def test_unreserve_keeps_the_tombstones_of_deleted_files(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    await registry.reserve("graves")
    wheel = build_wheel(tmp_path, WheelSpec("graves", "1.0"))
    await registry.publish(ALICE, staged(wheel))
    await registry.delete("graves", "1.0")
    await registry.set_maintainer("graves", "alice", False, owner=True)
    # Nothing left but the reservation: unreserving frees the name, its deleted filename stays used.
    assert await registry.unreserve("graves") is None
    with pytest.raises(InvalidUpload, match="already been used"):
        await registry.publish(ALICE, staged(wheel))


# -- listing and pages -----------------------------------------------------------------------


async def test_reserved_name_uploads_and_its_uploader_owns_it(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    await registry.reserve("Reserved-Pkg")
    result = await registry.publish(BOB, staged(build_wheel(tmp_path, WheelSpec("reserved-pkg", "1.0"))))
    assert result.created and not result.new_project
    project = await registry.project("reserved-pkg")
    assert project.owners == ("bob",) and project.reserved and len(project.files) == 1
    index, _ = await registry.index()
    assert index.projects == {"reserved-pkg": project.name}
    # Now owned: another user may not upload.
    with pytest.raises(Forbidden):
        await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("reserved-pkg", "2.0"))))
    # Its last file deleted: the name stays reserved and owned, and leaves /simple/ again.
    await registry.delete("reserved-pkg", "1.0")
    project = await registry.project("reserved-pkg")
    assert project.reserved and project.owners == ("bob",) and project.files == ()
    index, _ = await registry.index()
    assert index.projects == {}
    assert (await fsck(registry.storage)).problems == []


async def test_deleting_the_last_file_keeps_a_hosted_name_hosted(tmp_path: Path) -> None:
    upstream = FakeUpstream("hosted-then-empty")
    registry = Registry(MemoryStorage(), upstream_names=upstream)
    upstream.names.clear()
    await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("hosted-then-empty", "1.0"))))
    await registry.delete("hosted-then-empty", "1.0")
    project = await registry.project("hosted-then-empty")
    assert project.owners == ("alice",) and project.files == ()
    upstream.names.add("hosted-then-empty")
    asked = len(upstream.asked)
    await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("hosted-then-empty", "2.0"))))
    assert len(upstream.asked) == asked  # it has a sidecar: not new, never asked
    with pytest.raises(Forbidden):
        await registry.publish(BOB, staged(build_wheel(tmp_path, WheelSpec("hosted-then-empty", "3.0"))))


async def test_fsck_does_not_list_a_bare_reservation() -> None:
    registry = Registry(MemoryStorage())
    await registry.reserve("bare")
    report = await fsck(registry.storage, repair=True)
    assert report.problems == [] and report.index_fixed == []
    index, _ = await registry.index()
    assert index.projects == {}


# -- the upload guard ------------------------------------------------------------------------


async def test_guard_refuses_a_new_name_an_upstream_serves(tmp_path: Path) -> None:
    storage = MemoryStorage()
    upstream = FakeUpstream("requests")
    registry = Registry(storage, upstream_names=upstream)
    wheel = build_wheel(tmp_path, WheelSpec("requests", "99.0"))
    with pytest.raises(Conflict) as refused:
        await registry.publish(ALICE, staged(wheel))
    assert refused.value.status == 409
    assert "registry-index reserve requests" in refused.value.message
    assert upstream.asked == ["requests"]
    with pytest.raises(NotFound):
        await registry.project("requests")
    keys = [info.key async for info in storage.list("")]
    assert all(k.startswith("audit/") for k in keys), keys  # nothing stored but the audit event
    events = [e async for e in registry.audit.events()]
    assert [(e.action, e.outcome, e.project) for e in events] == [
        ("project:file:refused", "refused", "requests")
    ]
    assert "registry-index reserve requests" in events[0].detail


async def test_guard_lets_a_reserved_name_through(tmp_path: Path) -> None:
    upstream = FakeUpstream("acme-internal")
    registry = Registry(MemoryStorage(), upstream_names=upstream)
    await registry.reserve("acme-internal")
    result = await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("acme-internal", "1.0"))))
    assert result.created
    assert upstream.asked == []  # a reserved name is never asked about
    assert await actions(registry) == ["project:reserve", "project:file:upload"]


async def test_guard_lets_existing_hosted_projects_and_unserved_names_through(tmp_path: Path) -> None:
    upstream = FakeUpstream()
    registry = Registry(MemoryStorage(), upstream_names=upstream)
    await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("ours", "1.0"))))
    assert upstream.asked == ["ours"]
    upstream.names.add("ours")  # someone publishes our name upstream later
    result = await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("ours", "2.0"))))
    assert result.created and upstream.asked == ["ours"]


async def test_without_an_upstream_nothing_changes(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    result = await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("requests", "99.0"))))
    assert result.created and result.new_project


# -- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture()
async def served() -> AsyncIterator[tuple[httpx.AsyncClient, Registry]]:
    registry = Registry(MemoryStorage(), freshness=60, upstream_names=FakeUpstream("requests"))
    await registry.accounts.add_user("alice", "alice-password")
    app = create_app(Settings(storage="memory:"), registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, registry


async def test_http_refusal_is_a_409_with_the_message_in_the_reason_phrase(
    served: tuple[httpx.AsyncClient, Registry], tmp_path: Path
) -> None:
    client, registry = served
    fields, files = legacy_form(build_wheel(tmp_path, WheelSpec("requests", "99.0")))
    resp = await client.post("/legacy/", data=fields, files=files, auth=("alice", "alice-password"))
    assert resp.status_code == 409
    assert "registry-index reserve requests" in resp.text
    assert "registry-index reserve requests" in resp.headers["x-reason-phrase"]
    assert (await client.get("/simple/requests/")).status_code == 404
    await registry.reserve("requests")
    resp = await client.post("/legacy/", data=fields, files=files, auth=("alice", "alice-password"))
    assert resp.status_code == 200, resp.text


async def test_a_bare_reservation_is_an_empty_page_and_not_on_the_root_index(
    served: tuple[httpx.AsyncClient, Registry],
) -> None:
    client, registry = served
    await registry.reserve("Acme-Private")
    for _ in range(2):  # cold (routes), then warm (the fast path): the same answer
        root = await client.get("/simple/", headers={"Accept": JSON_SIMPLE})
        assert root.status_code == 200 and root.json()["projects"] == []
        assert "acme-private" not in (await client.get("/simple/")).text
        page = await client.get("/simple/acme-private/", headers={"Accept": JSON_SIMPLE})
        assert page.status_code == 200
        assert page.json()["files"] == [] and page.json()["versions"] == []
        html = await client.get("/simple/acme-private/")
        assert html.status_code == 200 and "<a " not in html.text
    assert (await client.get("/pypi/acme-private/json")).status_code == 404
