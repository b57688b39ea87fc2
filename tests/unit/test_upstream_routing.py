from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_index.upstream.config import Upstream, parse_upstreams
from registry_index.upstream.routing import (
    Hosted,
    LocalState,
    Pinned,
    Route,
    UnknownPin,
    Upstreams,
    route,
    upload_guard,
)

PYPI, MIRROR = parse_upstreams(["https://pypi.org/simple/", "https://mirror.example/simple/"])
BOTH = (PYPI, MIRROR)


@pytest.mark.parametrize(
    ("state", "upstreams", "expected"),
    [
        # 1. hosted here: never upstream, whatever the pin
        (LocalState(has_files=True), BOTH, Hosted("files")),
        (LocalState(reserved=True), BOTH, Hosted("reserved")),
        (LocalState(has_owners=True), BOTH, Hosted("owners")),
        (LocalState(has_files=True, reserved=True, has_owners=True), BOTH, Hosted("files")),
        (LocalState(reserved=True, has_owners=True), BOTH, Hosted("reserved")),
        (LocalState(has_files=True, pin="pypi-org"), BOTH, Hosted("files")),
        (LocalState(reserved=True, pin="mirror-example"), BOTH, Hosted("reserved")),
        (LocalState(has_owners=True, pin="nowhere"), BOTH, Hosted("owners")),
        (LocalState(reserved=True), (), Hosted("reserved")),
        # 2. an admin pin
        (LocalState(pin="mirror-example"), BOTH, Pinned(MIRROR)),
        (LocalState(pin="pypi-org"), BOTH, Pinned(PYPI)),
        (LocalState(pin="nowhere"), BOTH, UnknownPin("nowhere", ("pypi-org", "mirror-example"))),
        (LocalState(pin="PYPI-ORG"), BOTH, UnknownPin("PYPI-ORG", ("pypi-org", "mirror-example"))),
        (LocalState(pin=""), BOTH, UnknownPin("", ("pypi-org", "mirror-example"))),
        (LocalState(pin="pypi-org"), (), UnknownPin("pypi-org", ())),
        # 3. the first upstream that has it, in priority order
        (LocalState(), BOTH, Upstreams(BOTH)),
        (LocalState(), (MIRROR, PYPI), Upstreams(BOTH)),  # by priority, not by argument order
        (LocalState(), [PYPI], Upstreams((PYPI,))),
        (LocalState(), (), Upstreams(())),
    ],
)
def test_route(state: LocalState, upstreams: tuple[Upstream, ...], expected: Route) -> None:
    assert route(state, upstreams) == expected


def test_unknown_pin_message_names_the_pin_and_the_fix() -> None:
    result = route(LocalState(pin="gone"), BOTH)
    assert isinstance(result, UnknownPin)
    assert result.message == (
        "pinned to upstream 'gone', which is not configured (configured: pypi-org, mirror-example):"
        " configure that upstream again, or change or remove the pin"
    )
    assert "configured: none" in UnknownPin("gone", ()).message


def test_local_state_defaults_to_nothing_local() -> None:
    assert LocalState().hosted_reason is None


upstream_lists = st.lists(st.from_regex(r"[a-z]{1,8}\.example", fullmatch=True), unique=True, max_size=4).map(
    lambda hosts: parse_upstreams([f"https://{h}/simple/" for h in hosts])
)


@given(
    has_files=st.booleans(),
    reserved=st.booleans(),
    has_owners=st.booleans(),
    pin=st.none() | st.text(max_size=12) | st.sampled_from(["pypi-org", "a-example"]),
    upstreams=upstream_lists,
)
def test_a_local_name_is_never_routed_upstream(
    has_files: bool, reserved: bool, has_owners: bool, pin: str | None, upstreams: tuple[Upstream, ...]
) -> None:
    state = LocalState(has_files=has_files, reserved=reserved, has_owners=has_owners, pin=pin)
    result = route(state, upstreams)
    if has_files or reserved or has_owners:
        assert isinstance(result, Hosted)
    else:
        assert not isinstance(result, Hosted)
        if pin is None:
            assert result == Upstreams(upstreams)
        elif pin in {u.name for u in upstreams}:
            assert isinstance(result, Pinned) and result.upstream.name == pin
        else:
            assert isinstance(result, UnknownPin)


@pytest.mark.parametrize(
    ("served_upstream", "reserved", "refused"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_upload_guard(served_upstream: bool, reserved: bool, refused: bool) -> None:
    message = upload_guard("requests", served_upstream=served_upstream, reserved=reserved)
    assert (message is not None) is refused


def test_upload_guard_message_names_the_command_and_why() -> None:
    message = upload_guard("acme-tools", served_upstream=True, reserved=False)
    assert message is not None
    assert "`registry-index reserve acme-tools`" in message
    assert "dependency confusion" in message
    assert "already served from an upstream" in message
    assert message == (
        "'acme-tools' is not hosted here and is already served from an upstream index. Uploading it"
        " here would replace that project for every client of this index (dependency confusion),"
        " so it is refused. If this name is yours, an admin can run `registry-index reserve acme-tools`"
        " first, then upload again."
    )
