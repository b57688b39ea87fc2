"""What a credential may do: a token can be narrower than its user (PyPI's scoped tokens).

A password, or a token created without restrictions, carries ``FULL``: everything the
user's roles allow. A scoped token may only upload (``upload``) or only read (``read``),
may be limited to some projects, and may expire. Trusted publishing mints such tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Access = Literal["all", "upload", "read"]
ACCESS: tuple[Access, ...] = ("all", "upload", "read")


@dataclass(frozen=True, slots=True)
class Scope:
    access: Access = "all"
    projects: tuple[str, ...] = ()  # normalized names; empty means every project
    token_id: str = ""  # for messages: which token refused
    # Minted by trusted publishing: its projects' publishers, not the roles of an account,
    # allow the upload (services/publishing.py), so nothing outside ``projects`` is reachable.
    trusted: bool = False

    def _which(self) -> str:
        return f"token {self.token_id}" if self.token_id else "this credential"

    def upload_refusal(self, project: str) -> str:
        return self.upload_problem(project) or ""

    def upload_problem(self, project: str) -> str | None:
        """Why this credential may not upload to ``project``, or None."""
        if self.access == "read":
            return f"The API {self._which()} is read-only: it can't upload. Use a token with upload access."
        if self.projects and project not in self.projects:
            return (
                f"The API {self._which()} is scoped to {', '.join(self.projects)}: it can't upload to "
                f"{project!r}. Create a token for that project with 'registry-index token create --project'."
            )
        return None

    def read_refusal(self) -> str | None:
        if self.access == "upload":
            return (
                f"The API {self._which()} is upload-only: it can't read this private index. "
                "Use a token with read access."
            )
        return None

    def admin_refusal(self) -> str | None:
        if self.access != "all" or self.projects:
            return (
                f"The API {self._which()} is scoped ({self.describe()}): administration needs a full token."
            )
        return None

    def describe(self) -> str:
        access = {"all": "all", "upload": "upload-only", "read": "read-only"}[self.access]
        if self.trusted:
            access += ", trusted publisher"
        return f"{access}; projects {','.join(self.projects)}" if self.projects else access


FULL = Scope()


def parse_expiry(text: str, now: datetime | None = None) -> str:
    """``30d``, ``12h``, ``90m`` or an ISO date/time (UTC) → the expiry as ISO UTC with Z."""
    now = now or datetime.now(UTC)
    value = text.strip()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value and value[-1] in units and value[:-1].isdigit():
        when = now + timedelta(**{units[value[-1]]: int(value[:-1])})
    else:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"--expires {text!r}: use a duration such as 30d, 12h or 90m, or a date such as 2027-01-31"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    if when <= now:
        raise ValueError(f"--expires {text!r} is in the past")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expired(expires: str, now: datetime | None = None) -> bool:
    if not expires:
        return False
    when = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    return (now or datetime.now(UTC)) >= when
