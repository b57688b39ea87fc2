"""From a storage URL to a backend: its scheme names an entry point of ``registry_index.storage``.

``--storage`` is ``s3://BUCKET[/PREFIX]``, ``memory:``, ``file:///PATH`` or a bare path (a
local directory). Anything else names its backend by scheme: a distribution that declares

    [project.entry-points."registry_index.storage"]
    myscheme = "my_package.module:open_url"

adds ``myscheme://...``, where ``open_url(url, **options) -> Storage`` builds the store
(docs/storage.md, "Adding a backend"). The built-in schemes are declared the same way in
registry-index's own pyproject.toml.

Every decision of the form "is this store S3, memory or a directory" is taken here, by
``storage_scheme`` and ``local_path``, never by looking at the string elsewhere.
"""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from .base import Storage

ENTRY_POINT_GROUP = "registry_index.storage"
LOCAL = "file"  # the scheme of a bare path

# What pyproject.toml declares. Used only for a built-in scheme the installed metadata lacks:
# a checkout run without installing, or an editable install made before the table existed
# (entry points are written at install time). A test keeps the two in step.
BUILTIN = {
    "file": "registry_index.storage.local:open_url",
    "memory": "registry_index.storage.memory:open_url",
    "s3": "registry_index.storage.s3:open_url",
}

# RFC 3986 scheme, of two characters at least, so a Windows drive (C:\...) stays a path. A
# directory whose name has a colon is written ./name:with:colons or as a file: URL.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


class StorageFactory(Protocol):
    """What an entry point of the group loads to: builds a store from its URL.

    ``options`` are every storage option the caller has (today the ``s3_*`` settings); a
    factory takes those it knows and ignores the rest, because the caller does not know
    which backend the URL names.
    """

    def __call__(self, url: str, /, **options: Any) -> Storage: ...


class StorageSchemeError(ValueError):
    """The URL names no backend this installation can open."""


def storage_scheme(url: str) -> str:
    """The URL's scheme in lower case: ``s3``, ``memory``, ...; ``file`` for a bare path."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else LOCAL


def local_path(url: str) -> Path | None:
    """The directory a local store lives in (a bare path or a ``file:`` URL); None otherwise."""
    if storage_scheme(url) != LOCAL:
        return None
    if not _SCHEME.match(url):
        return Path(url)
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise StorageSchemeError(
            f"--storage {url}: a file: URL names a directory on this host, as in file:///srv/pkgs"
        )
    if parts.query or parts.fragment or not parts.path:
        raise StorageSchemeError(f"--storage {url}: write file:///PATH, or the path itself")
    return Path(unquote(parts.path))


def installed_schemes() -> dict[str, EntryPoint]:
    """Every scheme a backend is installed for, with its entry point; built-ins included."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        name = ep.name.lower()
        other = found.get(name)
        if other is not None and other.value != ep.value:
            raise StorageSchemeError(
                f"two storage backends claim the scheme {name!r}: {_origin(other)} and {_origin(ep)}; "
                "uninstall one of them"
            )
        found[name] = ep
    for name, value in BUILTIN.items():
        found.setdefault(name, EntryPoint(name, value, ENTRY_POINT_GROUP))
    return found


def _origin(ep: EntryPoint) -> str:
    if ep.dist is not None:
        return f"{ep.value} (from {ep.dist.name})"
    return f"{ep.value} (built in)" if BUILTIN.get(ep.name) == ep.value else ep.value


def open_storage(url: str, **options: Any) -> Storage:
    """The store ``url`` names, built by the backend registered for its scheme.

    ``s3://BUCKET[/PREFIX]``, ``memory:`` for a throwaway store, ``file:///PATH`` or a bare
    path for a local directory, or a scheme of an installed plugin. ``options`` go to the
    backend's factory (``s3_public_endpoint``, ``s3_sse``, ... for S3). Only the chosen
    backend's module is imported, so boto3 loads only for S3.
    """
    scheme = storage_scheme(url)
    backends = installed_schemes()
    ep = backends.get(scheme)
    if ep is None:
        hint = "" if "://" in url else f" A directory whose name has a colon is written ./{url}."
        raise StorageSchemeError(
            f"--storage {url}: no storage backend is installed for the scheme {scheme!r} "
            f"(installed: {', '.join(sorted(backends))}). Install a package that provides it, "
            f"or add one: an entry point in the group {ENTRY_POINT_GROUP!r} named {scheme!r}, "
            f"whose value is a factory (url, **options) -> Storage.{hint}"
        )
    try:
        factory: StorageFactory = ep.load()
    except (ImportError, AttributeError) as exc:
        raise StorageSchemeError(
            f"--storage {url}: the backend for {scheme!r}, {_origin(ep)}, does not load: {exc}"
        ) from exc
    store = factory(url, **options)
    if not isinstance(store, Storage):
        raise StorageSchemeError(
            f"--storage {url}: {_origin(ep)} returned {store!r}, which lacks methods of "
            "registry_index.storage.Storage"
        )
    return store
