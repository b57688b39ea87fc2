"""Trusted publishers and the claims an OIDC token must carry to match one (pure).

A publisher names a project on this index, an issuer, and what the issuer's token must say:
for GitHub the repository (and optionally its owner's numeric id, which survives a rename
and a re-registration of the name), the workflow file, and optionally the environment and
the ref; for GitLab the project path, the CI file, optionally environment and ref; for
Google a service account; for any other issuer (Forgejo, Gitea, Buildkite, ...) explicit
claim rules. A *pending* publisher names a project that does not exist yet: its first
exchange creates the project, owned by the user the admin named, as on PyPI.

``mismatches`` says which claims did not match, by name: that is the refusal a CI user
reads, so it names the claim and both values, never the token.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

Kind = Literal["github", "gitlab", "google", "generic"]
KINDS: tuple[Kind, ...] = ("github", "gitlab", "google", "generic")

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
GOOGLE_ISSUER = "https://accounts.google.com"
DEFAULT_ISSUERS: dict[str, str] = {"github": GITHUB_ISSUER, "gitlab": GITLAB_ISSUER, "google": GOOGLE_ISSUER}


class PublisherError(ValueError):
    """A publisher definition that cannot work; the message says which option to fix."""


@dataclass(frozen=True, slots=True)
class Publisher:
    kind: Kind
    project: str  # normalized
    issuer: str
    # github: repository, repository_owner_id, workflow, environment, ref
    # gitlab: project_path, ci_file, environment, ref
    # google: email, sub
    # generic: any claim -> exact value, or a pattern with * and ?
    claims: Mapping[str, str] = field(default_factory=dict)
    pending: bool = False
    owner: str = ""  # pending: who owns the project its first exchange creates
    added_by: str = ""
    added: str = ""

    @property
    def id(self) -> str:
        """A stable short id: what ``publisher remove`` takes and the audit log names."""
        ident = json.dumps([self.kind, self.project, self.issuer, dict(sorted(self.claims.items()))])
        return hashlib.sha256(ident.encode()).hexdigest()[:12]

    @property
    def default_issuer(self) -> bool:
        """GitHub.com, gitlab.com or Google, as the kind implies (the web page leaves it out)."""
        return DEFAULT_ISSUERS.get(self.kind) == self.issuer

    def describe(self) -> str:
        rules = ", ".join(f"{k}={v}" for k, v in sorted(self.claims.items()))
        state = f" (pending, for {self.owner})" if self.pending else ""
        return f"{self.kind} {self.issuer} {rules}{state}"

    def label(self) -> str:
        """Who uploads with a token minted for this publisher: the audit log's actor."""
        main = {
            "github": "repository",
            "gitlab": "project_path",
            "google": "email",
        }.get(self.kind, "sub")
        return f"trusted-publisher:{self.kind}:{self.claims.get(main, self.id)}"

    def reified(self) -> Publisher:
        return replace(self, pending=False)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["claims"] = dict(self.claims)
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Publisher:
        return cls(**{**doc, "claims": dict(doc.get("claims", {}))})


_REQUIRED: dict[str, tuple[str, ...]] = {
    "github": ("repository", "workflow"),
    "gitlab": ("project_path", "ci_file"),
    "google": ("email",),
    "generic": (),
}
_ALLOWED: dict[str, tuple[str, ...]] = {
    "github": ("repository", "repository_owner_id", "workflow", "environment", "ref"),
    "gitlab": ("project_path", "ci_file", "environment", "ref"),
    "google": ("email", "sub"),
}


def make_publisher(
    kind: str,
    project: str,
    claims: Mapping[str, str],
    *,
    issuer: str = "",
    pending: bool = False,
    owner: str = "",
    added_by: str = "",
    added: str = "",
) -> Publisher:
    """A checked publisher: the claims its kind needs, an https issuer, an owner if pending."""
    if kind not in KINDS:
        raise PublisherError(f"Unknown publisher kind {kind!r}: use one of {', '.join(KINDS)}.")
    issuer = (issuer or DEFAULT_ISSUERS.get(kind, "")).rstrip("/")
    if not issuer:
        raise PublisherError("A generic publisher needs --issuer URL (the OIDC issuer's address).")
    parts = urlsplit(issuer)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise PublisherError(f"The issuer {issuer!r} must be an https:// URL.")
    clean = {k: v.strip() for k, v in claims.items() if v and v.strip()}
    missing = [k for k in _REQUIRED[kind] if k not in clean]
    if missing:
        raise PublisherError(
            f"A {kind} publisher needs {', '.join('--' + m.replace('_', '-') for m in missing)}."
        )
    allowed = _ALLOWED.get(kind)
    if allowed is not None and (extra := sorted(set(clean) - set(allowed))):
        raise PublisherError(f"A {kind} publisher does not take {', '.join(extra)}.")
    if kind == "generic" and not clean:
        raise PublisherError(
            "A generic publisher needs at least one --claim NAME=VALUE rule (e.g. sub=repo:org/app:ref:main)."
        )
    if kind == "generic" and set(clean) <= {"iss", "aud", "exp", "iat", "nbf", "jti"}:
        raise PublisherError(
            "A generic publisher needs a rule on an identity claim such as sub, not only on iss/aud."
        )
    if kind == "github" and clean["repository"].count("/") != 1:
        raise PublisherError("--repository is OWNER/NAME, e.g. octo-org/widgets.")
    if kind == "github" and "/" in clean["workflow"]:
        raise PublisherError("--workflow is the file name under .github/workflows/, e.g. release.yml.")
    if pending and not owner:
        raise PublisherError("A pending publisher needs --owner USER: the owner of the project it creates.")
    return Publisher(kind, project, issuer, clean, pending, owner if pending else "", added_by, added)


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _glob(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern) if any(c in pattern for c in "*?[") else value == pattern


def _claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _differs(name: str, got: str | None, want: str) -> str:
    shown = "no such claim" if got is None else repr(got[:200])
    return f"{name}: the token has {shown}; the publisher wants {want!r}"


def mismatches(publisher: Publisher, claims: Mapping[str, Any]) -> list[str]:
    """What in ``claims`` does not match ``publisher``; empty when it matches."""
    rules = publisher.claims
    problems: list[str] = []
    if _claim(claims, "iss") != publisher.issuer:
        problems.append(_differs("iss", _claim(claims, "iss"), publisher.issuer))
    if publisher.kind == "github":
        problems += _github(rules, claims)
    elif publisher.kind == "gitlab":
        problems += _gitlab(rules, claims, publisher.issuer)
    elif publisher.kind == "google":
        problems += _google(rules, claims)
    else:
        for name, want in sorted(rules.items()):
            got = _claim(claims, name)
            if got is None or not _glob(got, want):
                problems.append(_differs(name, got, want))
    return problems


def _github(rules: Mapping[str, str], claims: Mapping[str, Any]) -> list[str]:
    # job_workflow_ref: OWNER/REPO/.github/workflows/FILE@REF, of the workflow that runs the job
    workflow = f"{rules['repository']}/.github/workflows/{rules['workflow']}"
    problems = _ci_job(rules, claims, "repository", "job_workflow_ref", workflow)
    owner_id = rules.get("repository_owner_id")
    got = _claim(claims, "repository_owner_id")
    if owner_id and got != owner_id and not _primary_failed(problems, "repository"):
        problems.insert(0, _differs("repository_owner_id", got, owner_id))
    return problems


def _gitlab(rules: Mapping[str, str], claims: Mapping[str, Any], issuer: str) -> list[str]:
    # ci_config_ref_uri: HOST/GROUP/PROJECT//CI_FILE@REF
    ci_file = f"{urlsplit(issuer).netloc}/{rules['project_path']}//{rules['ci_file']}"
    return _ci_job(rules, claims, "project_path", "ci_config_ref_uri", ci_file)


def _primary_failed(problems: list[str], primary: str) -> bool:
    return bool(problems) and problems[0].startswith(primary + ":")


def _ci_job(
    rules: Mapping[str, str], claims: Mapping[str, Any], primary: str, ref_claim: str, want: str
) -> list[str]:
    """A CI job's identity: whose it is (``primary``), which file defines it (``ref_claim``,
    ``want@REF``), and the optional environment and ref."""
    expected = rules[primary]
    got = _claim(claims, primary)
    if got is None or not _same(got, expected):
        return [_differs(primary, got, expected)]  # the rest would only repeat it
    ref = _claim(claims, ref_claim) or ""
    problems = [] if _same(ref.partition("@")[0], want) else [_differs(ref_claim, ref or None, want + "@...")]
    problems += _optional(rules, claims, "environment", casefold=True)
    problems += _optional(rules, claims, "ref")
    return problems


def _google(rules: Mapping[str, str], claims: Mapping[str, Any]) -> list[str]:
    problems = []
    email = rules["email"]
    got = _claim(claims, "email")
    if got is None or not _same(got, email):
        problems.append(_differs("email", got, email))
    if claims.get("email_verified") is not True:
        problems.append("email_verified: the token's email address is not verified")
    problems += _optional(rules, claims, "sub")
    return problems


def _optional(
    rules: Mapping[str, str], claims: Mapping[str, Any], name: str, casefold: bool = False
) -> list[str]:
    want = rules.get(name)
    if not want:
        return []
    got = _claim(claims, name)
    ok = got is not None and (_same(got, want) if casefold else _glob(got, want))
    return [] if ok else [_differs(name, got, want)]


def publishers_to_json(publishers: tuple[Publisher, ...]) -> bytes:
    return json.dumps({"publishers": [p.to_dict() for p in publishers]}, sort_keys=True).encode()


def publishers_from_json(data: bytes) -> tuple[Publisher, ...]:
    return tuple(Publisher.from_dict(p) for p in json.loads(data)["publishers"])


def matched_claims(publisher: Publisher, claims: Mapping[str, Any]) -> dict[str, str]:
    """The claims the audit log keeps for a minted token: identity, never secrets."""
    names = ["iss", "sub", "aud", "jti", *publisher.claims]
    names += {
        "github": [
            "repository",
            "repository_owner_id",
            "job_workflow_ref",
            "ref",
            "environment",
            "run_id",
            "sha",
        ],
        "gitlab": ["project_path", "ci_config_ref_uri", "ref", "environment", "pipeline_id", "sha"],
        "google": ["email"],
    }.get(publisher.kind, [])
    out = {}
    for name in dict.fromkeys(names):
        if (value := _claim(claims, name)) is not None:
            out[name] = value[:300]
    return out
