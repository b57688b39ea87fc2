"""Which objects new writes encrypt, from ``--encrypt``: everything, or some projects'.

The one part of encryption that knows the key layout (registry_index/domain/keys.py): the
store wrapper asks a Selector what to seal and which keys prove that the key ring fits the
store, and knows no key prefix itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name

from ..domain import keys


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
        project = keys.project_of(key)
        if project is None or project not in self.projects:
            return False
        # A project's files and sidecar, as --encrypt PROJECT has always meant: not its
        # tombstones, the bare filenames of deleted files, which stay as they were written.
        return key != keys.tombstones(project)

    def describe(self) -> str:
        return "all" if self.everything else ",".join(sorted(self.projects)) or "nothing"

    def sample_keys(self) -> list[str]:
        """Keys whose reading shows the key ring fits the store: the root index's pointer (or
        the one-object index of an older store) and the sidecars of the projects named in
        --encrypt (EncryptedStorage.key_problem)."""
        return [keys.ROOT_INDEX, keys.PROJECT_INDEX, *(keys.sidecar(p) for p in sorted(self.projects))]

    def sample_prefixes(self) -> list[str]:
        """Prefixes under which the first key found is sampled too: a sidecar and a user."""
        return [keys.SIDECARS, keys.USERS]
