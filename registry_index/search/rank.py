"""Search documents, filters and ranking over them (pure).

Ranking: the exact normalized name first, then names starting with the query, then names
containing it, then projects whose name, summary or keywords hold every word of the query;
ties by name. Filters combine (all must hold).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from ..domain.model import Project
from ..jsonapi.build import latest_version
from ..names import canonical_version, normalize

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class SearchDoc:
    normalized: str
    name: str
    version: str
    summary: str
    keywords: tuple[str, ...]
    classifiers: tuple[str, ...]
    author: str
    requires_python: str | None
    updated: str
    files: int = 0  # and bytes: the project's size, for /metrics' index gauges
    bytes: int = 0
    # What the web UI's project lists show beside the above (web/catalog.py): these
    # documents are the one summary per project an instance keeps.
    releases: int = 0  # releases with files
    owners: tuple[str, ...] = ()
    maintainers: tuple[str, ...] = ()
    status: str = "active"
    status_reason: str = ""


def doc_words(doc: SearchDoc) -> set[str]:
    """The words rank 3 matches: of the name, the summary and the keywords, lower-cased.

    Not kept on the document: at 700,000 projects a frozenset per document was a third of
    the index's memory.
    """
    return text_words(doc).union(name_words(doc.normalized))


def text_words(doc: SearchDoc) -> set[str]:
    """The words of the summary and keywords: what the index keeps posting lists for."""
    return set(_WORD.findall(" ".join([doc.summary, *doc.keywords]).lower()))


def name_words(normalized: str) -> list[str]:
    """The words of a name: those of its normalized form, whose only separator is "-"."""
    return normalized.split("-")


def document(project: Project) -> SearchDoc | None:
    """The searchable view of a project; None when it has nothing to show."""
    if project.status == "quarantined":
        return None
    with_files = {canonical_version(f.version) for f in project.files}
    key = latest_version(project, with_files)
    if key is None:
        return None
    release = project.releases[key]
    meta = release.metadata
    keywords = tuple(k.strip() for k in meta.get("keywords", []) if k.strip())
    author = " ".join(
        str(meta.get(f, "")) for f in ("author", "author_email", "maintainer", "maintainer_email")
    )
    return SearchDoc(
        normalized=project.normalized,
        # The same string object when the spellings agree: one string fewer per project.
        name=project.normalized if project.name == project.normalized else project.name,
        # Versions and Python ranges repeat across projects ("0.1.0", ">=3.9"): one copy each.
        version=sys.intern(release.version),
        summary=release.summary,
        keywords=keywords,
        classifiers=tuple(meta.get("classifiers", [])),
        author=author.strip(),
        requires_python=sys.intern(release.requires_python) if release.requires_python else None,
        updated=max((f.upload_time for f in project.files), default=""),
        files=len(project.files),
        bytes=sum(f.size for f in project.files),
        releases=len(project.releases.keys() & with_files),
        owners=_shared(project.owners),
        maintainers=_shared(project.maintainers),
        status=sys.intern(project.status),
        status_reason=project.status_reason,
    )


_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _shared(names: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple object per distinct owner list: most projects share theirs with many."""
    return _TUPLES.setdefault(names, names)


@dataclass(frozen=True, slots=True)
class Query:
    q: str = ""
    keyword: str | None = None
    classifier: str | None = None
    author: str | None = None
    requires_python: Version | None = None


def _admits(spec: str | None, python: Version) -> bool:
    if not spec:
        return True
    try:
        return SpecifierSet(spec).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True


def passes(doc: SearchDoc, query: Query) -> bool:
    """Whether a document passes the query's filters."""
    if query.keyword and query.keyword.lower() not in (k.lower() for k in doc.keywords):
        return False
    if query.classifier and not any(c.startswith(query.classifier) for c in doc.classifiers):
        return False
    if query.author and query.author.lower() not in doc.author.lower():
        return False
    return query.requires_python is None or _admits(doc.requires_python, query.requires_python)


def _score(doc: SearchDoc, q: str, norm: str, terms: list[str]) -> tuple[int, int] | None:
    if not q:
        return (0, 0)
    if doc.normalized == norm:
        return (0, 0)
    if doc.normalized.startswith(norm):
        return (1, 0)
    if norm in doc.normalized:
        return (2, 0)
    # Every word of the query must appear in the name, summary or keywords.
    if terms and doc_words(doc).issuperset(terms):
        return (3, 0)
    return None


def words_of(text: str) -> list[str]:
    """The words a query must all find in a document's words (rank 3)."""
    return _WORD.findall(text.lower())


def search(docs: Iterable[SearchDoc], query: Query) -> list[SearchDoc]:
    q = query.q.strip()
    norm = normalize(q) if q else ""
    terms = words_of(q)
    scored = []
    for doc in docs:
        score = _score(doc, q, norm, terms)
        if score is not None and passes(doc, query):
            scored.append((score, doc.normalized, doc))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [doc for _, _, doc in scored]
