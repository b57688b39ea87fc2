"""The service layer over in-memory storage: atomicity, concurrency, freshness, accounts."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from registry_index.auth.accounts import User
from registry_index.errors import FileAlreadyExists, Forbidden, InvalidUpload, NotFound
from registry_index.registry import Registry
from registry_index.storage import MemoryStorage, StorageError
from registry_index.testing import WheelSpec, build_sdist, build_wheel
from registry_index.upload.inspect import Upload
from registry_index.upload.validate import Digests

ALICE = User("alice", "", False, "")
BOB = User("bob", "", False, "")


def staged(path: Path, **form_overrides: str) -> Upload:
    data = path.read_bytes()
    digests = Digests(
        hashlib.sha256(data).hexdigest(),
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
        hashlib.blake2b(data, digest_size=32).hexdigest(),
    )
    name, version = path.name.split("-")[:2]
    version = version.removesuffix(".tar.gz")
    form = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel" if path.suffix == ".whl" else "sdist",
        "pyversion": "py3" if path.suffix == ".whl" else "source",
        "sha256_digest": digests.sha256,
        "blake2_256_digest": digests.blake2b_256,
    } | form_overrides
    return Upload(path.name, path, len(data), digests, {k: [v] for k, v in form.items()})


async def objects(storage: MemoryStorage, prefix: str) -> list[str]:
    return [info.key async for info in storage.list(prefix)]


async def test_publish_lists_file_with_metadata(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    wheel = build_wheel(tmp_path, WheelSpec("Demo.Pkg", "1.0", requires_python=">=3.9"))
    result = await registry.publish(ALICE, staged(wheel))
    assert result.created
    project = await registry.project("demo-pkg")
    entry = project.file(wheel.name)
    assert entry is not None and entry.requires_python == ">=3.9" and entry.core_metadata_sha256
    assert project.owners == ("alice",) and project.name == "Demo.Pkg"
    index, _ = await registry.index()
    assert index.projects == {"demo-pkg": "Demo.Pkg"}


async def test_identical_reupload_is_a_no_op_and_different_bytes_conflict(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    wheel = build_wheel(tmp_path, WheelSpec("same", "1.0"))
    await registry.publish(ALICE, staged(wheel))
    before = await registry.project("same")
    again = await registry.publish(ALICE, staged(wheel))
    assert not again.created
    assert (await registry.project("same")).serial == before.serial
    other = tmp_path / "other"
    other.mkdir()
    changed = build_wheel(other, WheelSpec("same", "1.0", summary="changed"))
    with pytest.raises(FileAlreadyExists, match=r"^File already exists"):
        await registry.publish(ALICE, staged(changed))


async def test_every_problem_is_reported(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    wheel = build_wheel(tmp_path, WheelSpec("many", "1.0"))
    upload = staged(wheel, version="2.0", sha256_digest="0" * 64, filetype="sdist")
    with pytest.raises(InvalidUpload) as info:
        await registry.publish(ALICE, upload)
    text = "\n".join(info.value.problems)
    assert "Version in filename" in text and "sha256_digest" in text and "filetype" in text
    assert await objects(registry.storage, "files/") == []  # type: ignore[arg-type]
    assert await objects(registry.storage, "projects/") == []  # type: ignore[arg-type]
    refused = [e async for e in registry.audit.events()]
    assert [(e.action, e.outcome, e.actor) for e in refused] == [("project:file:refused", "refused", "alice")]
    assert "sha256_digest" in refused[0].detail


async def test_non_owner_is_refused_until_added(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    await registry.accounts.add_user("bob", "password-of-bob")
    await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("owned", "1.0"))))
    upload = staged(build_wheel(tmp_path, WheelSpec("owned", "2.0")))
    with pytest.raises(Forbidden):
        await registry.publish(BOB, upload)
    assert await objects(registry.storage, "files/owned/") != []  # type: ignore[arg-type]
    assert len((await registry.project("owned")).files) == 1
    await registry.set_maintainer("owned", "bob", True)
    assert (await registry.publish(BOB, upload)).created


class FailingSidecarWrites(MemoryStorage):
    """Artifact writes succeed, every sidecar write fails: the upload must leave no trace."""

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        if key.startswith("projects/"):
            raise StorageError("store went away")
        return await super().put(key, data, create_only=create_only, if_match=if_match)


async def test_failed_sidecar_write_leaves_nothing(tmp_path: Path) -> None:
    storage = FailingSidecarWrites()
    registry = Registry(storage)
    with pytest.raises(StorageError):
        await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("atomic", "1.0"))))
    assert await objects(storage, "") == []


async def test_concurrent_publishes_lose_nothing(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    wheels = [build_wheel(tmp_path, WheelSpec("busy", f"1.{i}")) for i in range(40)]
    await asyncio.gather(*(registry.publish(ALICE, staged(w)) for w in wheels))
    project = await registry.project("busy")
    assert {f.filename for f in project.files} == {w.name for w in wheels}
    assert project.serial == 40


async def test_two_instances_see_each_others_changes(tmp_path: Path) -> None:
    storage = MemoryStorage()
    writer, reader = Registry(storage, freshness=0.05), Registry(storage, freshness=0.05)
    await writer.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("shared", "1.0"))))
    assert len((await reader.project("shared")).files) == 1
    await writer.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("shared", "2.0"))))
    await writer.set_yank("shared", "1.0", True, "bad")
    await asyncio.sleep(0.06)
    project = await reader.project("shared")
    assert len(project.files) == 2 and project.releases["1"].yanked


async def test_yank_status_delete(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("life", "1.0"))))
    await registry.publish(ALICE, staged(build_sdist(tmp_path, "life", "1.0")))
    await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("life", "2.0"))))
    project = await registry.set_yank("life", "1.0.0", True, "oops")  # canonical version match
    assert project.releases["1"].yanked_reason == "oops"
    with pytest.raises(NotFound):
        await registry.set_yank("life", "9", True)
    await registry.set_status("life", "quarantined", "bad")
    index, _ = await registry.index()
    assert "life" in index.hidden
    with pytest.raises(InvalidUpload, match="quarantined"):
        await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("life", "3.0"))))
    removed = await registry.delete("life", "1.0")
    assert sorted(removed) == ["life-1.0-py3-none-any.whl", "life-1.0.tar.gz"]
    assert "1" not in (await registry.project("life")).releases
    assert await objects(registry.storage, "files/life/") != []  # type: ignore[arg-type]
    await registry.delete("life")
    with pytest.raises(NotFound):
        await registry.project("life")
    assert await objects(registry.storage, "files/life/") == []  # type: ignore[arg-type]
    assert "life" not in (await registry.index())[0].projects


async def test_second_sdist_per_release_refused(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    await registry.publish(ALICE, staged(build_sdist(tmp_path, "onesd", "1.0")))
    other = tmp_path / "o"
    other.mkdir()
    sdist = build_sdist(other, "onesd", "1.0.0")
    with pytest.raises(InvalidUpload, match="one sdist"):
        await registry.publish(ALICE, staged(sdist))


async def test_accounts_tokens_and_password_cache() -> None:
    registry = Registry(MemoryStorage(), freshness=0)
    acc = registry.accounts
    await acc.add_user("carol", "correct horse")
    assert await acc.check_password("carol", "correct horse") is not None
    assert await acc.check_password("carol", "wrong horse") is None
    assert await acc.check_password("nobody", "x") is None
    secret, token = await acc.create_token("carol")
    user = await acc.check_token(secret)
    assert user is not None and user.name == "carol"
    stored = [i.key async for i in registry.storage.list("tokens/")]
    assert secret not in "".join(stored)  # only a digest is kept
    await acc.revoke_token(token.id)
    assert await acc.check_token(secret) is None


async def test_password_verify_cached_not_rehashed(monkeypatch: pytest.MonkeyPatch) -> None:
    from registry_index.auth import passwords

    registry = Registry(MemoryStorage(), freshness=10)
    await registry.accounts.add_user("dave", "a long password")
    calls = 0
    real = passwords._verify_sync

    def counting(stored: str, password: str) -> bool:
        nonlocal calls
        calls += 1
        return real(stored, password)

    monkeypatch.setattr(passwords, "_verify_sync", counting)
    for _ in range(5):
        assert await registry.accounts.check_password("dave", "a long password")
    assert calls == 1


async def test_same_bytes_under_another_filename_refused(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    wheel = build_wheel(tmp_path, WheelSpec("twin", "1.0"))
    await registry.publish(ALICE, staged(wheel))
    renamed = tmp_path / "Twin-1.0-py3-none-any.whl"
    renamed.write_bytes(wheel.read_bytes())
    with pytest.raises(FileAlreadyExists, match="uploaded before as"):
        await registry.publish(ALICE, staged(renamed))
    assert len((await registry.project("twin")).files) == 1


class CountingStorage(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.written: dict[str, int] = {}

    async def put(
        self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None
    ) -> str:
        self.written[key] = self.written.get(key, 0) + len(data)
        return await super().put(key, data, create_only=create_only, if_match=if_match)

    def index_bytes(self) -> int:
        """Bytes written for the root index and the feed (not files, not sidecars)."""
        return sum(n for k, n in self.written.items() if k.startswith(("index/", "changes/")))


async def test_a_new_project_costs_the_root_index_the_same_few_bytes_at_any_size(tmp_path: Path) -> None:
    storage = CountingStorage()
    registry = Registry(storage)
    costs = []
    for n in range(40):
        before = storage.index_bytes()
        await registry.publish_path(build_wheel(tmp_path, WheelSpec(f"bulk-{n}", "1.0")), ALICE)
        costs.append(storage.index_bytes() - before)
    index, _ = await registry.index()
    assert sorted(index.projects) == sorted(f"bulk-{n}" for n in range(40))
    assert "index/projects.json" not in storage.written  # the old one-object index is never written
    assert max(costs) < 600  # one feed record each
    assert costs[-1] <= costs[0] + 20  # the 40th costs what the 1st did (names grow by a digit)


# -- one distribution per identity, and deleted names stay used ----------------------------


def variant(tmp_path: Path, filename: str, content: bytes) -> Path:
    """A valid beta.pkg 1.0 wheel with its own bytes, saved under ``filename``."""
    folder = tmp_path / hashlib.sha256(filename.encode() + content).hexdigest()[:8]
    folder.mkdir()
    built = build_wheel(folder, WheelSpec("beta.pkg", "1.0", files={"beta_pkg/data.txt": content}))
    return built.rename(folder / filename)


@pytest.mark.parametrize(
    "spelling",
    ["beta_pkg-1.0-py3-none-any.whl", "Beta_Pkg-1.0-py3-none-any.whl", "beta_pkg-v1.0-py3-none-any.whl"],
)
async def test_other_spellings_of_a_wheel_are_the_same_distribution(tmp_path: Path, spelling: str) -> None:
    registry = Registry(MemoryStorage())
    await registry.publish(ALICE, staged(variant(tmp_path, "BETA.pkg-1.0-py3-none-any.whl", b"first")))
    with pytest.raises(
        FileAlreadyExists, match=r"is the same distribution as 'BETA\.pkg-1\.0-py3-none-any\.whl'"
    ):
        await registry.publish(ALICE, staged(variant(tmp_path, spelling, b"second")))
    assert [f.filename for f in (await registry.project("beta-pkg")).files] == [
        "BETA.pkg-1.0-py3-none-any.whl"
    ]


async def test_other_tags_or_a_build_tag_are_other_distributions(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    await registry.publish(ALICE, staged(variant(tmp_path, "beta_pkg-1.0-py3-none-any.whl", b"a")))
    await registry.publish(ALICE, staged(variant(tmp_path, "beta_pkg-1.0-1-py3-none-any.whl", b"b")))
    assert len((await registry.project("beta-pkg")).files) == 2


async def test_a_deleted_file_name_is_never_reused(tmp_path: Path) -> None:
    registry = Registry(MemoryStorage())
    wheel = build_wheel(tmp_path, WheelSpec("grave", "1.0"))
    sdist = build_sdist(tmp_path, "grave", "1.0")
    await registry.publish(ALICE, staged(wheel))
    await registry.publish(ALICE, staged(sdist))
    await registry.delete("grave", "1.0", wheel.name)
    with pytest.raises(
        InvalidUpload, match=r"has already been used: 'grave-1.0-py3-none-any.whl' was deleted"
    ):
        await registry.publish(ALICE, staged(wheel))  # the very same bytes, too
    # The whole project goes, and a new project of the same name inherits the tombstones.
    await registry.delete("grave")
    with pytest.raises(InvalidUpload, match="has already been used"):
        await registry.publish(ALICE, staged(sdist))
    with pytest.raises(InvalidUpload, match="has already been used"):
        await registry.publish(BOB, staged(wheel))
    newer = tmp_path / "newer"
    newer.mkdir()
    result = await registry.publish(BOB, staged(build_wheel(newer, WheelSpec("grave", "1.1"))))
    assert result.created and result.new_project
    project = await registry.project("grave")
    assert set(project.tombstones) == {wheel.name, sdist.name}
