"""Trusted publishers' claim rules (pure) and the JWKS reading behind verification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry_index.trusted.jwks import key_files, key_set
from registry_index.trusted.publishers import (
    GITHUB_ISSUER,
    PublisherError,
    make_publisher,
    matched_claims,
    mismatches,
    publishers_from_json,
    publishers_to_json,
)
from registry_index.trusted.tokens import KeysUnavailable
from tests.support.oidc import TestIssuer, github_claims, gitlab_claims


def github(**rules: str):  # type: ignore[no-untyped-def]
    return make_publisher(
        "github", "widgets", {"repository": "octo-org/widgets", "workflow": "release.yml", **rules}
    )


def test_a_matching_github_token_has_no_mismatches() -> None:
    claims = {"iss": GITHUB_ISSUER, **github_claims()}
    assert mismatches(github(), claims) == []
    assert (
        mismatches(github(environment="PyPI", ref="refs/tags/v*", repository_owner_id="4242"), claims) == []
    )
    # GitHub's names are case-insensitive: a differently cased repository still matches.
    assert mismatches(github(), {**claims, "repository": "Octo-Org/Widgets",
                                 "job_workflow_ref": "Octo-Org/Widgets/.github/workflows/release.yml@x"}) == []  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "claims", "named"),
    [
        ({}, github_claims(repository="octo-org/other"), "repository"),
        ({}, github_claims(workflow="release.yaml"), "job_workflow_ref"),
        ({"environment": "pypi"}, github_claims(environment="testpypi"), "environment"),
        ({"ref": "refs/tags/*"}, github_claims(ref="refs/heads/main"), "ref"),
        ({"repository_owner_id": "1"}, github_claims(), "repository_owner_id"),
    ],
)
def test_each_github_rule_names_its_claim(rules: dict[str, str], claims: dict[str, str], named: str) -> None:
    found = mismatches(github(**rules), {"iss": GITHUB_ISSUER, **claims})
    assert len(found) == 1 and found[0].startswith(named + ":"), found


def test_a_token_from_another_issuer_never_matches() -> None:
    found = mismatches(github(), {"iss": "https://evil.example", **github_claims()})
    assert found and found[0].startswith("iss:")


def test_gitlab_google_and_generic_rules() -> None:
    gitlab = make_publisher(
        "gitlab",
        "w",
        {"project_path": "platform/widgets", "ci_file": ".gitlab-ci.yml"},
        issuer="https://gitlab.example.com",
    )
    claims = {"iss": "https://gitlab.example.com", **gitlab_claims(host="gitlab.example.com")}
    assert mismatches(gitlab, claims) == []
    # The host in ci_config_ref_uri is the issuer's: a gitlab.com token's URI does not match.
    assert mismatches(gitlab, {**claims, **gitlab_claims(host="gitlab.com")})[0].startswith(
        "ci_config_ref_uri"
    )
    google = make_publisher("google", "w", {"email": "ci@proj.iam.gserviceaccount.com"})
    ok = {"iss": google.issuer, "email": "ci@proj.iam.gserviceaccount.com", "email_verified": True}
    assert mismatches(google, ok) == []
    assert "email_verified" in mismatches(google, {**ok, "email_verified": False})[0]
    generic = make_publisher(
        "generic", "w", {"sub": "repo:org/app:ref:refs/tags/*"}, issuer="https://ci.example.com"
    )
    assert (
        mismatches(generic, {"iss": "https://ci.example.com", "sub": "repo:org/app:ref:refs/tags/v2"}) == []
    )
    assert mismatches(generic, {"iss": "https://ci.example.com", "sub": "repo:org/app:ref:refs/heads/x"})


@pytest.mark.parametrize(
    ("kind", "rules", "extra", "message"),
    [
        ("github", {"repository": "octo-org/widgets"}, {}, "--workflow"),
        ("github", {"repository": "widgets", "workflow": "r.yml"}, {}, "OWNER/NAME"),
        ("github", {"repository": "a/b", "workflow": ".github/workflows/r.yml"}, {}, "file name"),
        ("github", {"repository": "a/b", "workflow": "r.yml", "email": "x"}, {}, "does not take"),
        ("generic", {"sub": "x"}, {}, "--issuer"),
        ("generic", {"aud": "x"}, {"issuer": "https://ci.example.com"}, "identity claim"),
        ("github", {"repository": "a/b", "workflow": "r.yml"}, {"issuer": "http://ci.example.com"}, "https"),
        ("github", {"repository": "a/b", "workflow": "r.yml"}, {"pending": True}, "--owner"),
        ("bitbucket", {}, {}, "Unknown publisher kind"),
    ],
)
def test_publisher_definitions_that_cannot_work_are_refused(
    kind: str, rules: dict[str, str], extra: dict[str, object], message: str
) -> None:
    with pytest.raises(PublisherError, match=message):
        make_publisher(kind, "w", rules, **extra)  # type: ignore[arg-type]


def test_publishers_round_trip_and_ids_are_stable() -> None:
    a, b = github(environment="pypi"), make_publisher("google", "x", {"email": "a@b.c"})
    again = publishers_from_json(publishers_to_json((a, b)))
    assert again == (a, b) and [p.id for p in again] == [a.id, b.id]
    assert github().id != github(environment="pypi").id
    claims = matched_claims(a, {"iss": GITHUB_ISSUER, "aud": "x", **github_claims()})
    assert claims["repository"] == "octo-org/widgets" and "environment" in claims


def test_key_sets_keep_only_signing_keys(tmp_path: Path) -> None:
    issuer = TestIssuer()
    doc = issuer.jwks()
    doc["keys"] += [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},  # a shared secret never verifies here
        {**doc["keys"][0], "kid": "enc", "use": "enc"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
    ]
    assert set(key_set(doc)) == {issuer.kid}
    with pytest.raises(KeysUnavailable):
        key_set({"no": "keys"})
    assert key_files(f"https://a.example=/x/a.json, https://b.example/={tmp_path}/b.json") == {
        "https://a.example": Path("/x/a.json"),
        "https://b.example": tmp_path / "b.json",
    }
    with pytest.raises(ValueError, match="ISSUER=PATH"):
        key_files("nonsense")
    json.dumps(doc)
