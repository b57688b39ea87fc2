"""The upload policy for known-vulnerable versions: off, warn or refuse, globally or per project."""

from __future__ import annotations

from dataclasses import dataclass

from .osv import Advisory, fixed_in


@dataclass(frozen=True, slots=True)
class VulnPolicy:
    mode: str = "off"  # off | warn | refuse
    projects: frozenset[str] = frozenset()  # empty: every project

    def applies(self, project: str) -> bool:
        return self.mode != "off" and (not self.projects or project in self.projects)

    @staticmethod
    def message(project: str, version: str, advisories: list[Advisory]) -> str:
        named = ", ".join(
            f"{a.id}" + (f" (fixed in {', '.join(fixed_in(a, project))})" if fixed_in(a, project) else "")
            for a in advisories
        )
        return f"{project} {version} is affected by known advisories: {named}."
