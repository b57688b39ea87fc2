"""Throttling, the failed-login budget, token scopes and reason phrases, without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry_index.audit import AuditEvent, EventKind, Origin
from registry_index.auth import passwords
from registry_index.auth.accounts import Accounts
from registry_index.auth.failures import FailedLogins
from registry_index.auth.scope import Scope, expired, parse_expiry
from registry_index.auth.throttle import Buckets, LoginThrottle
from registry_index.server.phrase import phrase_of, rewrite
from registry_index.storage import MemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_buckets_refill_steadily() -> None:
    clock = Clock()
    buckets = Buckets(limit=3, window=30.0, clock=clock)
    for _ in range(3):
        assert buckets.wait("a") == 0
        buckets.take("a")
    assert buckets.wait("a") == pytest.approx(10.0)  # one token refills every 10 s
    clock.now += 10
    assert buckets.wait("a") == 0
    assert buckets.wait("b") == 0 and len(buckets) == 1  # asking creates nothing


def test_buckets_are_bounded() -> None:
    buckets = Buckets(limit=1, window=1.0, max_keys=100)
    for n in range(1000):
        buckets.take(f"client-{n}")
    assert len(buckets) == 100


def test_throttle_by_address_then_by_account() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_address=2, per_account=3, window=60.0, clock=clock)
    throttle.failed("10.0.0.1", "alice")
    throttle.failed("10.0.0.1", "alice")
    blocked = throttle.check("10.0.0.1", None)
    assert blocked is not None and blocked.who == "this address" and blocked.seconds == 30
    assert throttle.check("10.0.0.2", "alice") is None
    throttle.failed("10.0.0.2", "alice")
    blocked = throttle.check("10.0.0.3", "alice")
    assert blocked is not None and blocked.who == "user 'alice'"
    assert throttle.check("10.0.0.3", None) is None  # a token from elsewhere still goes through


class RecordingAudit:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def record(
        self, kind: EventKind, actor: str, origin: Origin | None = None, **details: Any
    ) -> AuditEvent:
        self.events.append((actor, details))
        return AuditEvent(len(self.events), "", actor, str(kind))


async def test_failed_logins_are_written_within_a_budget() -> None:
    clock, audit = Clock(), RecordingAudit()
    log = FailedLogins(audit, per_minute=5, clock=clock)  # type: ignore[arg-type]
    for n in range(50):
        await log.record(f"user{n}", Origin(f"10.0.0.{n}"), "/legacy/")
    assert len(audit.events) == 5
    clock.now += 60  # the next minute's first failure writes the summary first
    await log.record("late", Origin("10.0.0.99"), "/legacy/")
    actor, details = audit.events[5]
    assert actor == "(summary)" and details["detail"].startswith(
        "45 more failed or throttled logins from 45 addresses"
    )
    assert audit.events[6][0] == "late"
    await log.flush()
    assert len(audit.events) == 7  # nothing was left to summarize


async def test_unknown_users_cost_a_password_check(monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[str] = []
    real = passwords._verify_sync
    monkeypatch.setattr(passwords, "_verify_sync", lambda stored, pw: checks.append(pw) or real(stored, pw))
    storage = MemoryStorage()
    accounts = Accounts(storage)
    await accounts.add_user("alice", "correct-horse")
    assert await accounts.check_password("alice", "wrong-password") is None
    assert await accounts.check_password("nobody", "wrong-password") is None
    assert await accounts.check_password("x" * 300, "wrong-password") is None  # never a storage key
    assert await accounts.check_password("../../etc", "wrong-password") is None
    assert checks == ["wrong-password"] * 4


def test_scopes_name_what_they_refuse() -> None:
    scoped = Scope("all", ("one", "two"), "abc123")
    assert scoped.upload_problem("one") is None
    assert "token abc123 is scoped to one, two: it can't upload to 'three'" in scoped.upload_refusal("three")
    assert Scope("read").upload_problem("one") is not None and Scope("read").read_refusal() is None
    assert Scope("upload").read_refusal() is not None and Scope("upload").admin_refusal() is not None
    assert Scope().admin_refusal() is None and scoped.admin_refusal() is not None


def test_expiry_durations_and_dates() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert parse_expiry("30d", now) == "2027-01-05T12:00:00Z"
    assert parse_expiry("90m", now) == "2026-12-06T13:30:00Z"
    assert parse_expiry("2027-01-31", now) == "2027-01-31T00:00:00Z"
    with pytest.raises(ValueError, match="in the past"):
        parse_expiry("2020-01-01", now)
    with pytest.raises(ValueError, match="use a duration"):
        parse_expiry("soon", now)
    assert expired("2026-12-06T11:59:59Z", now) and not expired("", now)


def test_reason_phrase_rewrite() -> None:
    head = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nx-reason-phrase: File already exists\r\n\r\n"
    assert rewrite(head) == b"HTTP/1.1 400 File already exists\r\ncontent-type: text/plain\r\n\r\n"
    plain = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
    assert rewrite(plain) == plain
    assert phrase_of("caf\u00e9 \x07bad\nsecond line") == b"caf? ?bad"
    assert len(phrase_of("x" * 5000)) == 400
