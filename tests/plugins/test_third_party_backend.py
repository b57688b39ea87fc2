"""A backend from another distribution: found by its entry point, opened by URL, served.

tests/plugins/dictstore is laid out as an installed distribution would be (a module and
its .dist-info with entry_points.txt). The tests put that directory on sys.path and never
import the module: registry-index finds it through importlib.metadata, as it would a
pip-installed plugin.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry_index.app import create_app
from registry_index.encryption import EncryptedStorage
from registry_index.settings import Settings
from registry_index.storage import Storage, StorageSchemeError, contract, open_storage
from registry_index.storage.schemes import installed_schemes

PLUGIN = Path(__file__).parent / "dictstore"
MODULE = "registry_index_dictstore"


@pytest.fixture
def plugin_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(PLUGIN))  # also invalidates the import caches
    yield
    sys.modules.pop(MODULE, None)


def shelves() -> dict[str, Any]:
    shelf: dict[str, Any] = sys.modules[MODULE].SHELVES
    return shelf


def test_without_the_plugin_the_scheme_is_unknown() -> None:
    with pytest.raises(StorageSchemeError) as info:
        open_storage("dict://x")
    message = str(info.value)
    assert "'dict'" in message and "installed: file, memory, s3" in message
    assert "'registry_index.storage'" in message  # where to register one


def test_the_entry_point_is_found_in_the_distributions_metadata(plugin_installed: None) -> None:
    assert MODULE not in sys.modules
    ep = installed_schemes()["dict"]
    assert ep.value == f"{MODULE}:open_url"
    assert ep.dist is not None and ep.dist.name == "registry-index-dictstore"
    store = open_storage("dict://found")
    assert isinstance(store, Storage) and type(store).__module__ == MODULE


async def test_it_passes_the_storage_contract(plugin_installed: None, tmp_path: Path) -> None:
    async def empty_store() -> Storage:
        return open_storage(f"dict://contract-{uuid.uuid4().hex}")

    assert await contract.run(empty_store, tmp_path) == []


async def test_the_app_serves_from_it(plugin_installed: None) -> None:
    settings = Settings.from_env({"REGISTRY_INDEX_STORAGE": "dict://served"})  # or --storage
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.ctx.registry.storage, EncryptedStorage)  # as for any store
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json() == {"status": "ready"}
            assert (await client.get("/simple/")).status_code == 200
    assert "served" in shelves()  # the start-up probe wrote to this shelf and cleaned up
    assert not [key for key in shelves()["served"] if key.startswith("_probe/")]
