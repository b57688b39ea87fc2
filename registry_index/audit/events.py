"""Audit events as pure data: a closed vocabulary and a hash chain (no I/O)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64


class EventKind(StrEnum):
    UPLOAD = "project:file:upload"
    UPLOAD_REFUSED = "project:file:refused"
    YANK = "project:release:yank"
    UNYANK = "project:release:unyank"
    DELETE = "project:delete"
    STATUS = "project:status"
    ROLE_ADD = "project:role:add"
    ROLE_REMOVE = "project:role:remove"
    RESERVE = "project:reserve"
    UNRESERVE = "project:unreserve"
    USER_CREATE = "user:create"
    USER_REMOVE = "user:remove"
    TOKEN_CREATE = "user:token:create"
    TOKEN_REVOKE = "user:token:revoke"
    LOGIN_FAILED = "auth:login:fail"
    PIN = "project:upstream:pin"
    UNPIN = "project:upstream:unpin"
    PUBLISHER_ADD = "project:publisher:add"
    PUBLISHER_REMOVE = "project:publisher:remove"
    TOKEN_MINT = "oidc:token:mint"
    MINT_REFUSED = "oidc:token:refused"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from; the CLI passes its own."""

    client: str = ""
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    seq: int
    time: str
    actor: str
    action: str
    outcome: str = "success"  # success | refused | failed
    project: str = ""
    version: str = ""
    filename: str = ""
    sha256: str = ""
    client: str = ""
    user_agent: str = ""
    detail: str = ""
    prev: str = GENESIS
    hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def computed_hash(self) -> str:
        doc = asdict(self)
        doc.pop("hash")
        return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def sealed(self) -> AuditEvent:
        return replace(self, hash=self.computed_hash())

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> AuditEvent:
        return cls(**json.loads(data))


def chain_problems(events: list[AuditEvent]) -> list[str]:
    """Gaps, altered events and broken links, in a list sorted by seq."""
    problems: list[str] = []
    expected_prev = GENESIS
    for n, event in enumerate(events):
        if event.seq != n:
            problems.append(f"event {n} is missing (the next one found is {event.seq})")
            return problems
        if event.computed_hash() != event.hash:
            problems.append(f"event {event.seq} was altered: its content no longer matches its hash")
        if event.prev != expected_prev:
            problems.append(f"event {event.seq} does not follow event {event.seq - 1}: the chain is broken")
        expected_prev = event.hash
    return problems
