"""Which objects new writes encrypt, from ``--encrypt``: everything, or some projects'."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name


@dataclass(frozen=True, slots=True)
class Selector:
    """Which objects new writes encrypt: everything, or some projects' files and sidecars."""

    everything: bool = False
    projects: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Selector:
        """``all``, ``PROJECT,PROJECT...`` (names are normalized), or empty for nothing."""
        names = [part.strip() for part in text.split(",") if part.strip()]
        if names == ["all"]:
            return cls(everything=True)
        if "all" in names:
            raise ValueError("--encrypt: 'all' cannot be combined with project names")
        return cls(projects=frozenset(canonicalize_name(n) for n in names))

    def __bool__(self) -> bool:
        return self.everything or bool(self.projects)

    def covers(self, key: str) -> bool:
        if self.everything:
            return True
        if not self.projects:
            return False
        top, _, rest = key.partition("/")
        if top == "files":
            return rest.partition("/")[0] in self.projects
        if top == "projects" and rest.endswith(".json"):
            return rest.removesuffix(".json") in self.projects
        return False

    def describe(self) -> str:
        return "all" if self.everything else ",".join(sorted(self.projects)) or "nothing"
