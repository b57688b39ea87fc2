"""A test OIDC issuer and a test TLS certificate authority, both generated per test run.

``TestIssuer`` signs tokens with a throwaway RSA key (PyJWT), publishes its JWKS (as a file
for ``--oidc-key-files``, or over loopback HTTP with an OIDC discovery document), and plays
GitHub's ID-token request endpoint (``ACTIONS_ID_TOKEN_REQUEST_URL``), as a runner does.
``TestCA`` issues a certificate for 127.0.0.1, so the index can serve HTTPS on loopback:
``gh-action-pypi-publish`` and uv only speak trusted publishing over HTTPS.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import ipaddress
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support.servers import free_port

GITHUB = "https://token.actions.githubusercontent.com"


def github_claims(
    repository: str = "octo-org/widgets",
    workflow: str = "release.yml",
    ref: str = "refs/tags/v1.0",
    environment: str | None = "pypi",
    **extra: Any,
) -> dict[str, Any]:
    """Claims shaped like a GitHub Actions ID token's."""
    owner = repository.split("/")[0]
    claims: dict[str, Any] = {
        "sub": f"repo:{repository}:environment:{environment}"
        if environment
        else f"repo:{repository}:ref:{ref}",
        "repository": repository,
        "repository_owner": owner,
        "repository_owner_id": "4242",
        "repository_id": "777",
        "job_workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
        "workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
        "ref": ref,
        "ref_type": "tag",
        "sha": "0" * 40,
        "run_id": "1234",
        "event_name": "push",
    }
    if environment:
        claims["environment"] = environment
    claims.update(extra)
    return claims


def gitlab_claims(
    project_path: str = "platform/widgets",
    ci_file: str = ".gitlab-ci.yml",
    ref: str = "main",
    host: str = "gitlab.com",
    **extra: Any,
) -> dict[str, Any]:
    """Claims shaped like a GitLab CI ID token's."""
    claims: dict[str, Any] = {
        "sub": f"project_path:{project_path}:ref_type:branch:ref:{ref}",
        "project_path": project_path,
        "namespace_path": project_path.split("/")[0],
        "ci_config_ref_uri": f"{host}/{project_path}//{ci_file}@refs/heads/{ref}",
        "ref": ref,
        "ref_type": "branch",
        "pipeline_id": "99",
        "sha": "1" * 40,
    }
    claims.update(extra)
    return claims


@dataclass
class TestIssuer:
    issuer: str = GITHUB
    audience: str = "registry-index"
    kid: str = field(default_factory=lambda: secrets.token_hex(4))
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    __test__ = False  # not a pytest class

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def token(
        self,
        claims: dict[str, Any],
        *,
        audience: str | None = None,
        lifetime: int = 300,
        issued: float | None = None,
        kid: str | None = None,
        key: Any = None,
        algorithm: str = "RS256",
        **overrides: Any,
    ) -> str:
        now = time.time() if issued is None else issued
        payload = {
            "iss": self.issuer,
            "aud": self.audience if audience is None else audience,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + lifetime),
            "jti": secrets.token_hex(16),
            **claims,
            **overrides,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        headers = {"kid": self.kid if kid is None else kid}
        return jwt.encode(payload, self.key if key is None else key, algorithm=algorithm, headers=headers)

    @contextlib.contextmanager
    def serving(self, claims: dict[str, Any], *, as_issuer: bool = True) -> Iterator[IssuerServer]:
        """Discovery, JWKS and GitHub's ID-token endpoint on a loopback port (HTTP).

        With ``as_issuer`` the issuer becomes ``http://127.0.0.1:PORT`` (as a GitHub
        Enterprise Server or a self-managed GitLab is at its own address); without, tokens
        keep naming GitHub.com and the index reads the keys from a file."""
        port = free_port()
        if as_issuer:
            self.issuer = f"http://127.0.0.1:{port}"
        state = IssuerServer(f"http://127.0.0.1:{port}", secrets.token_urlsafe(16), claims, self)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield state
        finally:
            httpd.shutdown()
            httpd.server_close()


@dataclass
class IssuerServer:
    url: str
    request_token: str  # ACTIONS_ID_TOKEN_REQUEST_TOKEN
    claims: dict[str, Any]
    issuer: TestIssuer
    requests: list[str] = field(default_factory=list)

    @property
    def token_request_url(self) -> str:  # ACTIONS_ID_TOKEN_REQUEST_URL (GitHub adds ?api-version=...)
        return f"{self.url}/_services/token?api-version=2.0"

    def runner_env(self) -> dict[str, str]:
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.token_request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }


def _handler(state: IssuerServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, doc: Any) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            state.requests.append(url.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(200, {"issuer": state.issuer.issuer, "jwks_uri": f"{state.url}/.well-known/jwks"})
            elif url.path == "/.well-known/jwks":
                self._json(200, state.issuer.jwks())
            elif url.path == "/_services/token":
                if self.headers.get("Authorization", "").lower() != f"bearer {state.request_token}".lower():
                    self._json(401, {"message": "bad request token"})
                    return
                audience = urllib.parse.parse_qs(url.query).get("audience", [None])[0]
                self._json(200, {"value": state.issuer.token(state.claims, audience=audience)})
            else:
                self._json(404, {"message": "not found"})

    return Handler


@dataclass
class TestCA:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost."""

    folder: Path
    __test__ = False

    def __post_init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registry-index test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.folder / "ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file = self.folder / "server.pem"
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file = self.folder / "server-key.pem"
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
