"""Trusted publishing (issue 16) through the HTTP app: the exchange, its refusals, and uploads
with the minted token. A test issuer signs the tokens (tests/support/oidc.py); the index
reads its keys from a JWKS file, as an air-gapped install does, or from its discovery
document over loopback, as for GitHub Enterprise Server."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from registry_index.app import create_app
from registry_index.audit import EventKind
from registry_index.auth.accounts import User
from registry_index.domain import keys
from registry_index.errors import InvalidRequest, NotFound
from registry_index.registry import Registry
from registry_index.settings import Settings
from registry_index.storage import MemoryStorage
from registry_index.testing import WheelSpec, build_wheel, legacy_form
from registry_index.trusted.jwks import DiscoveredKeys
from registry_index.trusted.publishers import GITLAB_ISSUER
from tests.integration.test_registry import staged
from tests.support.oidc import GITHUB, TestIssuer, github_claims, gitlab_claims

ALICE = User("alice", "", False, "")


class Index:
    def __init__(
        self,
        registry: Registry,
        client: httpx.AsyncClient,
        github: TestIssuer,
        gitlab: TestIssuer,
        folder: Path,
        ci: TestIssuer,
    ) -> None:
        self.ci = ci  # a generic issuer (Forgejo, Buildkite, ...)
        self.registry, self.client, self.github, self.gitlab, self.folder = (
            registry,
            client,
            github,
            gitlab,
            folder,
        )

    async def mint(self, token: str) -> httpx.Response:
        return await self.client.post("/_/oidc/mint-token", json={"token": token})

    async def upload(self, secret: str, project: str, version: str) -> httpx.Response:
        fields, files = legacy_form(build_wheel(self.folder, WheelSpec(project, version)))
        return await self.client.post("/legacy/", data=fields, files=files, auth=("__token__", secret))

    async def events(self, kind: EventKind) -> list[Any]:
        return [e async for e in self.registry.audit.events() if e.action == kind]


async def _index(
    tmp_path: Path, *, settings: Settings | None = None, key_files: bool = True
) -> AsyncIterator[Index]:
    github, gitlab, ci = TestIssuer(GITHUB), TestIssuer(GITLAB_ISSUER), TestIssuer("https://ci.example.com")
    files = {
        GITHUB: github.write_jwks(tmp_path / "github.json"),
        GITLAB_ISSUER: gitlab.write_jwks(tmp_path / "gitlab.json"),
        ci.issuer: ci.write_jwks(tmp_path / "ci.json"),
    }
    registry = Registry(
        MemoryStorage(), issuer_keys=DiscoveredKeys(files if key_files else {}, min_refresh=0)
    )
    await registry.add_user("alice", "alice-password-1")
    await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("widgets", "1.0"))))
    await registry.publish(ALICE, staged(build_wheel(tmp_path, WheelSpec("other-pkg", "1.0"))))
    app = create_app(settings or Settings(storage="memory:"), registry=registry)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://index.test"
    ) as client:
        yield Index(registry, client, github, gitlab, tmp_path, ci)
    await registry.close()


@pytest.fixture()
async def index(tmp_path: Path) -> AsyncIterator[Index]:
    async for made in _index(tmp_path):
        yield made


async def _github_publisher(index: Index, **claims: str) -> str:
    rules = {"repository": "octo-org/widgets", "workflow": "release.yml", **claims}
    publisher = await index.registry.trusted.add("github", "widgets", rules)
    return publisher.id


# -- discovery ---------------------------------------------------------------------------


async def test_audience_and_pep_807_discovery(index: Index) -> None:
    resp = await index.client.get("/_/oidc/audience")
    assert resp.status_code == 200 and resp.json() == {"audience": "registry-index"}
    digest = hashlib.sha256(b"/legacy/").hexdigest()
    for url in (f"/.well-known/pytp/{digest}", f"/.well-known/pytp?discover={quote('/legacy/', safe='')}"):
        found = await index.client.get(url)
        assert found.status_code == 200, url
        assert found.headers["content-type"].startswith("application/vnd.pypi.pytp.v1+json")
        assert found.json() == {
            "audience-endpoint": "http://index.test/_/oidc/audience",
            "token-mint-endpoint": "http://index.test/_/oidc/mint-token",
        }
    assert (
        await index.client.get(f"/.well-known/pytp/{hashlib.sha256(b'/elsewhere/').hexdigest()}")
    ).status_code == 404
    assert (await index.client.get("/.well-known/pytp?discover=%2Felsewhere%2F")).status_code == 404


async def test_everything_is_a_404_when_trusted_publishing_is_off(tmp_path: Path) -> None:
    async for index in _index(tmp_path, settings=Settings(storage="memory:", trusted_publishing=False)):
        await _github_publisher(index)
        assert (await index.client.get("/_/oidc/audience")).status_code == 404
        assert (
            await index.client.get(f"/.well-known/pytp/{hashlib.sha256(b'/legacy/').hexdigest()}")
        ).status_code == 404
        minted = await index.mint(index.github.token(github_claims()))
        assert minted.status_code == 404


# -- the exchange and the upload ------------------------------------------------------------


async def test_github_token_mints_a_scoped_short_lived_upload_token(index: Index) -> None:
    publisher_id = await _github_publisher(index, environment="pypi")
    before = time.time()
    resp = await index.mint(index.github.token(github_claims()))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True and body["token"].startswith("ri-")
    assert before + 890 <= body["expires"] <= time.time() + 910  # 15 minutes by default
    secret = body["token"]

    landed = await index.upload(secret, "widgets", "2.0")
    assert landed.status_code == 200, landed.text
    project = await index.registry.project("widgets")
    assert "widgets-2.0-py3-none-any.whl" in {f.filename for f in project.files}

    # Scoped to the publisher's project: another project of the same owner is refused.
    elsewhere = await index.upload(secret, "other-pkg", "2.0")
    assert elsewhere.status_code == 403 and "scoped to widgets" in elsewhere.text

    # Never stored in plaintext: no object in the store holds the secret.
    storage = index.registry.storage
    async for info in storage.list(""):
        assert secret.encode() not in (await storage.get(info.key)).data, info.key

    # The audit log has the minted token, with the claims that matched, and the upload.
    (minted,) = await index.events(EventKind.TOKEN_MINT)
    assert minted.actor == "trusted-publisher:github:octo-org/widgets" and minted.project == "widgets"
    assert publisher_id in minted.detail
    claims = minted.extra["claims"]
    assert claims["repository"] == "octo-org/widgets" and claims["environment"] == "pypi"
    assert claims["job_workflow_ref"] == "octo-org/widgets/.github/workflows/release.yml@refs/tags/v1.0"
    assert secret not in json.dumps(minted.extra) and secret not in minted.detail
    uploads = await index.events(EventKind.UPLOAD)
    assert uploads[-1].actor == "trusted-publisher:github:octo-org/widgets"


async def test_the_minted_token_is_refused_after_it_expires(index: Index) -> None:
    await _github_publisher(index)
    secret = (await index.mint(index.github.token(github_claims()))).json()["token"]
    storage = index.registry.storage
    key = keys.token(hashlib.sha256(secret.encode()).hexdigest())
    record = json.loads((await storage.get(key)).data)
    record["expires"] = "2020-01-01T00:00:00Z"  # as if 15 minutes had passed
    await storage.put(key, json.dumps(record).encode())
    resp = await index.upload(secret, "widgets", "3.0")
    assert resp.status_code == 403 and "expired" in resp.text


async def test_gitlab_shaped_token(index: Index) -> None:
    await index.registry.trusted.add(
        "gitlab", "widgets", {"project_path": "platform/widgets", "ci_file": ".gitlab-ci.yml"}
    )
    resp = await index.mint(index.gitlab.token(gitlab_claims()))
    assert resp.status_code == 200, resp.text
    assert (await index.upload(resp.json()["token"], "widgets", "2.1")).status_code == 200
    wrong = await index.mint(index.gitlab.token(gitlab_claims(ci_file="deploy/other.yml")))
    assert wrong.status_code == 422
    assert "ci_config_ref_uri" in wrong.json()["errors"][0]["description"]


async def test_pending_publisher_creates_its_project_on_the_first_exchange(index: Index) -> None:
    with pytest.raises(InvalidRequest, match="exists"):
        await index.registry.trusted.add(
            "github",
            "widgets",
            {"repository": "octo-org/widgets", "workflow": "release.yml"},
            pending=True,
            owner="alice",
        )
    with pytest.raises(NotFound, match="pending"):
        await index.registry.trusted.add(
            "github", "brand-new", {"repository": "octo-org/new", "workflow": "release.yml"}
        )
    with pytest.raises(NotFound, match="No user"):
        await index.registry.trusted.add(
            "github",
            "brand-new",
            {"repository": "octo-org/new", "workflow": "release.yml"},
            pending=True,
            owner="nobody",
        )
    pending = await index.registry.trusted.add(
        "github",
        "brand-new",
        {"repository": "octo-org/new", "workflow": "release.yml"},
        pending=True,
        owner="alice",
    )
    assert pending.pending
    resp = await index.mint(index.github.token(github_claims(repository="octo-org/new")))
    assert resp.status_code == 200, resp.text
    project = await index.registry.project("brand-new")
    assert project.owners == ("alice",) and project.reserved
    (held,) = await index.registry.trusted.of_project("brand-new")
    assert not held.pending  # an ordinary publisher of the project it created
    assert (await index.upload(resp.json()["token"], "brand-new", "0.1")).status_code == 200
    # The next release exchanges as an ordinary publisher.
    again = await index.mint(index.github.token(github_claims(repository="octo-org/new")))
    assert again.status_code == 200, again.text


async def test_a_pending_publisher_never_takes_over_a_project_created_meanwhile(index: Index) -> None:
    await index.registry.trusted.add(
        "github",
        "late-name",
        {"repository": "octo-org/late", "workflow": "release.yml"},
        pending=True,
        owner="alice",
    )
    await index.registry.add_user("bob", "bob-password-1")
    fields, files = legacy_form(build_wheel(index.folder, WheelSpec("late-name", "1.0")))
    landed = await index.client.post("/legacy/", data=fields, files=files, auth=("bob", "bob-password-1"))
    assert landed.status_code == 200, landed.text
    resp = await index.mint(index.github.token(github_claims(repository="octo-org/late")))
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["code"] == "invalid-pending-publisher"


async def test_publisher_changes_are_audited(index: Index) -> None:
    publisher_id = await _github_publisher(index)
    assert [p.id for p in await index.registry.trusted.of_project("widgets")] == [publisher_id]
    await index.registry.trusted.remove(publisher_id)
    assert await index.registry.trusted.of_project("widgets") == []
    added, removed = (
        await index.events(EventKind.PUBLISHER_ADD),
        await index.events(EventKind.PUBLISHER_REMOVE),
    )
    assert publisher_id in added[0].detail and publisher_id in removed[0].detail
    resp = await index.mint(index.github.token(github_claims()))
    assert resp.status_code == 422  # the issuer is no longer one any publisher names


# -- refusals ---------------------------------------------------------------------------------


def _other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _unsigned(issuer: TestIssuer) -> str:
    header = jwt.utils.base64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).decode()
    now = int(time.time())
    claims = {
        **github_claims(),
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "iat": now,
        "exp": now + 300,
        "jti": "x",
    }
    body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{body}."


def _hmac_with_public_key(issuer: TestIssuer) -> str:
    # The classic confusion: HS256 keyed with the issuer's *public* key, which anyone has.
    import base64
    import hashlib as h
    import hmac

    now = int(time.time())
    header = jwt.utils.base64url_encode(
        json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}).encode()
    )
    claims = {
        **github_claims(),
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "iat": now,
        "exp": now + 300,
        "jti": "y",
    }
    body = jwt.utils.base64url_encode(json.dumps(claims).encode())
    signature = hmac.new(issuer.public_pem(), header + b"." + body, h.sha256).digest()
    return (header + b"." + body + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


REFUSALS: dict[str, tuple[Any, str, str]] = {
    # name: (how to make the token from the issuer, the code, what the description names)
    "wrong repository": (
        lambda i: i.token(github_claims(repository="evil/widgets")),
        "invalid-publisher",
        "repository",
    ),
    "wrong workflow": (
        lambda i: i.token(github_claims(workflow="other.yml")),
        "invalid-publisher",
        "job_workflow_ref",
    ),
    "wrong environment": (
        lambda i: i.token(github_claims(environment="staging")),
        "invalid-publisher",
        "environment",
    ),
    "no environment": (
        lambda i: i.token(github_claims(environment=None)),
        "invalid-publisher",
        "environment",
    ),
    "wrong ref": (lambda i: i.token(github_claims(ref="refs/heads/main")), "invalid-publisher", "ref:"),
    "wrong owner id": (
        lambda i: i.token(github_claims(repository_owner_id="9999")),
        "invalid-publisher",
        "repository_owner_id",
    ),
    "wrong audience": (lambda i: i.token(github_claims(), audience="pypi"), "invalid-token", "aud"),
    "expired": (
        lambda i: i.token(github_claims(), issued=time.time() - 3600, lifetime=300),
        "invalid-token",
        "exp",
    ),
    "not yet valid": (
        lambda i: i.token(github_claims(), nbf=int(time.time()) + 3600),
        "invalid-token",
        "nbf",
    ),
    "issued in the future": (
        lambda i: i.token(github_claims(), issued=time.time() + 3600, nbf=None),
        "invalid-token",
        "iat",
    ),
    "unsigned": (_unsigned, "invalid-token", "alg"),
    "hmac with the public key": (_hmac_with_public_key, "invalid-token", "alg"),
    "key not in the jwks": (
        lambda i: i.token(github_claims(), key=_other_key(), kid="not-published"),
        "invalid-token",
        "kid",
    ),
    "forged with a published kid": (
        lambda i: i.token(github_claims(), key=_other_key()),
        "invalid-token",
        "signature",
    ),
    "no exp": (lambda i: i.token(github_claims(), exp=None), "invalid-token", "exp"),
    "another issuer": (
        lambda i: TestIssuer("https://evil.example").token(github_claims()),
        "invalid-publisher",
        "iss",
    ),
    "not a jwt": (lambda i: "not.a.jwt", "invalid-token", "JWT"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_refused_tokens_name_what_did_not_match(index: Index, case: str) -> None:
    await _github_publisher(index, environment="pypi", ref="refs/tags/v*", repository_owner_id="4242")
    make, code, named = REFUSALS[case]
    token = make(index.github)
    resp = await index.mint(token)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["message"] == "Token request failed"
    (error,) = body["errors"]
    assert error["code"] == code, error
    assert named in error["description"], error
    assert token not in resp.text  # never echoed
    (refused,) = await index.events(EventKind.MINT_REFUSED)
    assert refused.outcome == "refused" and code in refused.detail
    assert await index.events(EventKind.TOKEN_MINT) == []
    assert [i async for i in index.registry.storage.list(keys.TOKENS)] == []


async def test_a_token_is_exchanged_once(index: Index) -> None:
    await _github_publisher(index)
    token = index.github.token(github_claims())
    assert (await index.mint(token)).status_code == 200
    replay = await index.mint(token)
    assert replay.status_code == 422
    error = replay.json()["errors"][0]
    assert error["code"] == "invalid-reuse-token" and "jti" in error["description"]


async def test_a_token_for_another_repository_learns_nothing_of_the_publishers(index: Index) -> None:
    await _github_publisher(index, environment="pypi")
    resp = await index.mint(index.github.token(github_claims(repository="stranger/thing")))
    description = resp.json()["errors"][0]["description"]
    assert "stranger/thing" in description
    assert "widgets" not in description and "release.yml" not in description


async def test_bad_payloads_and_the_rate_limit(index: Index) -> None:
    for body in (b"", b"{", b'{"token": 5}', b"[]", json.dumps({"token": "x" * 20000}).encode()):
        resp = await index.client.post("/_/oidc/mint-token", content=body)
        assert resp.status_code == 422 and resp.json()["errors"][0]["code"] in (
            "invalid-payload",
            "invalid-token",
        )
    too_big = await index.client.post("/_/oidc/mint-token", content=b"{" + b" " * 70_000)
    assert too_big.status_code == 413
    for _ in range(40):
        last = await index.mint("not.a.jwt")
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
    assert last.json()["errors"][0]["code"] == "rate-limited"


# -- issuers at their own address (GitHub Enterprise Server), and key rotation ------------------


async def test_issuer_keys_from_its_discovery_document_and_a_rotation(tmp_path: Path) -> None:
    async for index in _index(tmp_path, key_files=False):
        ghes = TestIssuer()
        with ghes.serving(github_claims()) as served:
            await index.registry.trusted.add(
                "github",
                "widgets",
                {"repository": "octo-org/widgets", "workflow": "release.yml"},
                issuer=ghes.issuer,
            )
            assert (await index.mint(ghes.token(github_claims()))).status_code == 200
            assert served.requests.count("/.well-known/jwks") == 1
            assert (await index.mint(ghes.token(github_claims()))).status_code == 200
            assert served.requests.count("/.well-known/jwks") == 1  # cached
            ghes.key, ghes.kid = _other_key(), "rotated"
            resp = await index.mint(ghes.token(github_claims()))
            assert resp.status_code == 200, resp.text  # an unknown kid made one refetch
            assert served.requests.count("/.well-known/jwks") == 2


async def test_the_project_page_shows_its_trusted_publishers(index: Index) -> None:
    await _github_publisher(index, environment="pypi")
    await index.registry.trusted.add(
        "generic", "widgets", {"sub": "repo:widgets:ref:main"}, issuer="https://ci.example.com"
    )
    page = (await index.client.get("/project/widgets/")).text
    assert "Trusted publishers" in page
    assert "octo-org/widgets" in page and "release.yml" in page and "pypi" in page
    assert "https://ci.example.com" in page and "repo:widgets:ref:main" in page
    assert "token.actions.githubusercontent.com" not in page  # the default issuer goes unsaid
    other = (await index.client.get("/project/other-pkg/")).text
    assert "Trusted publishers" not in other


async def test_a_generic_publishers_rules_are_never_told(index: Index) -> None:
    ci = index.ci
    await index.registry.trusted.add(
        "generic", "widgets", {"sub": "repo:secret-team/widgets:*"}, issuer=ci.issuer
    )
    resp = await index.mint(ci.token({"sub": "repo:someone/else:ref:main"}))
    description = resp.json()["errors"][0]["description"]
    assert resp.status_code == 422 and "secret-team" not in description
    ok = await index.mint(ci.token({"sub": "repo:secret-team/widgets:ref:main"}))
    assert ok.status_code == 200, ok.text
