"""Where a project name is served from: here, one pinned upstream, or the first upstream that has it.

Pure: the caller looks up the name's local state (files, reservation, owners, an admin pin)
and passes it in as ``LocalState``; nothing here reads storage. The order is issue 14's Build 1
and docs/proxy.md §4.4 (blocked names and private patterns come before these steps once they
exist):

1. hosted here (files, a reservation or any owner) -> ``Hosted``: never asked upstream, never
   merged with an upstream's files, whatever the pin;
2. an admin pin -> ``Pinned`` to that upstream, or ``UnknownPin`` if no configured upstream
   has that name (never silently the default order);
3. otherwise -> ``Upstreams``: ask each in priority order and serve the first that has the
   project, with no merging across upstreams. An empty tuple (no upstream configured) means
   the name is simply not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from registry_index.upstream.config import Upstream

HostedReason = Literal["files", "reserved", "owners"]


@dataclass(frozen=True, slots=True)
class LocalState:
    """What this index knows about one name, gathered by the caller."""

    has_files: bool = False
    reserved: bool = False
    has_owners: bool = False
    pin: str | None = None  # an admin pin: the name of one configured upstream

    @property
    def hosted_reason(self) -> HostedReason | None:
        if self.has_files:
            return "files"
        if self.reserved:
            return "reserved"
        if self.has_owners:
            return "owners"
        return None


@dataclass(frozen=True, slots=True)
class Hosted:
    """Served from here only."""

    reason: HostedReason


@dataclass(frozen=True, slots=True)
class Pinned:
    """Served from this upstream only, by an admin's pin."""

    upstream: Upstream


@dataclass(frozen=True, slots=True)
class Upstreams:
    """Ask each in order; the first that has the project serves all of it."""

    upstreams: tuple[Upstream, ...]


@dataclass(frozen=True, slots=True)
class UnknownPin:
    """The name is pinned to an upstream that is not configured: an error, not a fallback."""

    pin: str
    configured: tuple[str, ...]

    @property
    def message(self) -> str:
        known = ", ".join(self.configured) or "none"
        return (
            f"pinned to upstream {self.pin!r}, which is not configured (configured: {known}):"
            " configure that upstream again, or change or remove the pin"
        )


Route = Hosted | Pinned | Upstreams | UnknownPin


def route(state: LocalState, upstreams: Sequence[Upstream]) -> Route:
    """Where the name whose local state is ``state`` is served from, given the upstreams in order."""
    reason = state.hosted_reason
    if reason is not None:
        return Hosted(reason)
    ordered = tuple(sorted(upstreams, key=lambda u: u.priority))
    if state.pin is not None:
        for upstream in ordered:
            if upstream.name == state.pin:
                return Pinned(upstream)
        return UnknownPin(state.pin, tuple(u.name for u in ordered))
    return Upstreams(ordered)


def upload_guard(name: str, served_upstream: bool, reserved: bool) -> str | None:
    """The 409 message refusing the first upload of ``name``, or None to let it through.

    The caller asks only for a name not hosted here yet. Refused when an upstream already serves
    the name, unless an admin reserved it: otherwise anyone with upload rights could shadow a
    public package for every client of this index.
    """
    if not served_upstream or reserved:
        return None
    return (
        f"{name!r} is not hosted here and is already served from an upstream index. Uploading it"
        " here would replace that project for every client of this index (dependency confusion),"
        f" so it is refused. If this name is yours, an admin can run `registry-index reserve {name}`"
        " first, then upload again."
    )
