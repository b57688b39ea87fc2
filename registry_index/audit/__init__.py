"""The audit log: write-once, hash-chained events in the store."""

from .events import AuditEvent, EventKind, Origin
from .log import AuditLog, StorageAuditLog

__all__ = ["AuditEvent", "AuditLog", "EventKind", "Origin", "StorageAuditLog"]
