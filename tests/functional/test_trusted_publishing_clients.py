"""Trusted publishing with the real clients (issue 16), over HTTPS on loopback.

- ``gh-action-pypi-publish``'s own exchange script (../shared/clients/gh-action-pypi-publish,
  unmodified), run as the action runs it: ``INPUT_REPOSITORY_URL``, GitHub's
  ``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN`` served by a loopback fake runner that signs
  with a test key, then ``twine upload`` with the token it prints.
- ``uv publish --trusted-publishing always`` against the same index.
- The admin CLI: ``registry-index publisher add|list|remove``.

The index serves HTTPS with a certificate from a throwaway CA, and reads the test issuer's
keys from a JWKS file (``--oidc-key-files``), as an install that cannot reach GitHub does.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from registry_index.testing import WheelSpec, build_wheel
from registry_index.trusted.publishers import GITLAB_ISSUER
from tests.conftest import BIN, REPO, make_account
from tests.support.clients import client_env
from tests.support.oidc import GITHUB, IssuerServer, TestCA, TestIssuer, github_claims, gitlab_claims
from tests.support.servers import Server, cli, run_server

EXCHANGE = REPO.parent / "shared" / "clients" / "gh-action-pypi-publish" / "oidc-exchange.py"

pytestmark = pytest.mark.slow


@dataclass
class TlsIndex:
    server: Server
    storage: str
    ca: TestCA
    issuer: TestIssuer
    gitlab: TestIssuer
    home: Path
    folder: Path

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca.ca_file))

    def env(self, **extra: str) -> dict[str, str]:
        env = client_env(self.home)
        env.update(REQUESTS_CA_BUNDLE=str(self.ca.ca_file), SSL_CERT_FILE=str(self.ca.ca_file))
        env.update(extra)
        return env


@pytest.fixture(scope="module")
def tls_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsIndex]:
    tmp = tmp_path_factory.mktemp("tls-index")
    ca = TestCA(tmp / "tls")
    issuer, gitlab = TestIssuer(GITHUB), TestIssuer(GITLAB_ISSUER)
    jwks = issuer.write_jwks(tmp / "github-jwks.json")
    gitlab_jwks = gitlab.write_jwks(tmp / "gitlab-jwks.json")
    storage = str(tmp / "store")
    make_account(storage, "alice", {})
    home = tmp / "home"
    home.mkdir()
    with run_server(
        storage,
        tmp / "server.log",
        "--tls-certfile",
        str(ca.cert_file),
        "--tls-keyfile",
        str(ca.key_file),
        "--oidc-key-files",
        f"{GITHUB}={jwks},{GITLAB_ISSUER}={gitlab_jwks}",
    ) as server:
        yield TlsIndex(server, storage, ca, issuer, gitlab, home, tmp)


def _publisher(index: TlsIndex, project: str, repository: str, *extra: str) -> str:
    out = cli(
        "publisher", "add", project, "--kind", "github", "--repository", repository,
        "--workflow", "release.yml", *extra, storage=index.storage,
    ).stdout  # fmt: skip
    assert out.startswith("added publisher "), out
    return out.split()[2]


def _seed(index: TlsIndex, project: str) -> None:
    """The project's first release, imported by an admin, owned by alice."""
    folder = index.folder / f"seed-{project}"
    folder.mkdir()
    build_wheel(folder, WheelSpec(project, "0.9"))
    cli("import", str(folder), "--owner", "alice", storage=index.storage)


def _exchange(index: TlsIndex, runner: IssuerServer) -> tuple[int, str, str]:
    summary = index.folder / "step-summary.md"
    summary.touch()
    env = index.env(
        INPUT_REPOSITORY_URL=f"{index.server.url}/legacy/",
        GITHUB_STEP_SUMMARY=str(summary),
        **runner.runner_env(),
    )
    done = subprocess.run(
        [sys.executable, str(EXCHANGE)], env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def test_the_gh_action_exchange_script_then_twine(tls_index: TlsIndex) -> None:
    index = tls_index
    wheel = build_wheel(index.folder, WheelSpec("tp-action-pkg", "1.0"))
    # The project exists (alice owns its first release) and trusts one workflow.
    _seed(index, "tp-action-pkg")
    publisher_id = _publisher(index, "tp-action-pkg", "octo-org/tp-action", "--environment", "pypi")

    with index.issuer.serving(github_claims(repository="octo-org/tp-action"), as_issuer=False) as runner:
        code, out, err = _exchange(index, runner)
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    assert token.startswith("ri-")
    assert f"::add-mask::{token}" in err  # the script masks it, as in the action

    upload = subprocess.run(
        [str(BIN / "twine"), "upload", "--disable-progress-bar", "--non-interactive",
         "--repository-url", f"{index.server.url}/legacy/", "--cert", str(index.ca.ca_file),
         "-u", "__token__", "-p", token, str(wheel)],
        env=index.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert upload.returncode == 0, upload.stdout + upload.stderr
    page = httpx.get(f"{index.server.url}/simple/tp-action-pkg/", verify=index.tls())
    assert "tp_action_pkg-1.0-py3-none-any.whl" in page.text

    listed = cli("publisher", "list", "tp-action-pkg", storage=index.storage).stdout
    assert (
        publisher_id in listed and "repository=octo-org/tp-action" in listed and "environment=pypi" in listed
    )
    events = cli("audit", storage=index.storage).stdout
    assert "oidc:token:mint" in events and "octo-org/tp-action" in events


def test_the_gh_action_script_reports_a_refusal_by_claim(tls_index: TlsIndex) -> None:
    index = tls_index
    _seed(index, "tp-refused-pkg")
    _publisher(index, "tp-refused-pkg", "octo-org/tp-refused")
    claims = github_claims(repository="octo-org/tp-refused", workflow="nightly.yml")
    with index.issuer.serving(claims, as_issuer=False) as runner:
        code, out, err = _exchange(index, runner)
    assert code == 1 and out.strip() == ""
    assert "Trusted publishing exchange failure" in err
    assert "invalid-publisher" in err and "job_workflow_ref" in err and "nightly.yml" in err
    summary = (index.folder / "step-summary.md").read_text()
    assert "job_workflow_ref" in summary


def test_uv_publish_with_trusted_publishing(tls_index: TlsIndex) -> None:
    index = tls_index
    _seed(index, "tp-uv-pkg")
    _publisher(index, "tp-uv-pkg", "octo-org/tp-uv")
    (index.folder / "uv-dist").mkdir()
    wheel = build_wheel(index.folder / "uv-dist", WheelSpec("tp-uv-pkg", "1.0"))
    with index.issuer.serving(github_claims(repository="octo-org/tp-uv"), as_issuer=False) as runner:
        done = subprocess.run(
            [str(BIN / "uv"), "publish", "--trusted-publishing", "always",
             "--publish-url", f"{index.server.url}/legacy/", str(wheel)],
            env=index.env(**runner.runner_env()), capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    page = httpx.get(f"{index.server.url}/simple/tp-uv-pkg/", verify=index.tls())
    assert "tp_uv_pkg-1.0-py3-none-any.whl" in page.text


def test_a_gitlab_job_exchanges_its_id_token_then_twine_uploads(tls_index: TlsIndex) -> None:
    """What GitLab's docs have a job do: POST its ID token to mint-token, then twine with the result."""
    index = tls_index
    _seed(index, "tp-gitlab-pkg")
    out = cli(
        "publisher", "add", "tp-gitlab-pkg", "--kind", "gitlab", "--project-path", "platform/tp-gitlab",
        "--ci-file", ".gitlab-ci.yml", "--ref", "main", storage=index.storage,
    ).stdout  # fmt: skip
    assert out.startswith("added publisher")
    audience = httpx.get(f"{index.server.url}/_/oidc/audience", verify=index.tls()).json()["audience"]
    id_token = index.gitlab.token(gitlab_claims(project_path="platform/tp-gitlab"), audience=audience)
    minted = httpx.post(f"{index.server.url}/_/oidc/mint-token", json={"token": id_token}, verify=index.tls())
    assert minted.status_code == 200, minted.text
    (index.folder / "gl-dist").mkdir()
    wheel = build_wheel(index.folder / "gl-dist", WheelSpec("tp-gitlab-pkg", "1.0"))
    upload = subprocess.run(
        [str(BIN / "twine"), "upload", "--disable-progress-bar", "--non-interactive",
         "--repository-url", f"{index.server.url}/legacy/", "--cert", str(index.ca.ca_file),
         "-u", "__token__", "-p", minted.json()["token"], str(wheel)],
        env=index.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert upload.returncode == 0, upload.stdout + upload.stderr
    # The same job on another branch is refused, naming the claim.
    other = index.gitlab.token(
        gitlab_claims(project_path="platform/tp-gitlab", ref="feature"), audience=audience
    )
    refused = httpx.post(f"{index.server.url}/_/oidc/mint-token", json={"token": other}, verify=index.tls())
    assert refused.status_code == 422 and "ref:" in refused.json()["errors"][0]["description"]


def test_publisher_cli_add_list_remove(tls_index: TlsIndex) -> None:
    index = tls_index
    bad = cli("publisher", "add", "nowhere-pkg", "--kind", "github", "--repository", "a/b", "--workflow",
              "release.yml", storage=index.storage, check=False)  # fmt: skip
    assert bad.returncode != 0 and "pending" in bad.stdout + bad.stderr
    missing = cli("publisher", "add", "nowhere-pkg", "--kind", "github", "--pending", "--owner", "alice",
                  "--repository", "a/b", storage=index.storage, check=False)  # fmt: skip
    assert missing.returncode != 0 and "--workflow" in missing.stdout + missing.stderr
    added = cli("publisher", "add", "nowhere-pkg", "--kind", "gitlab", "--pending", "--owner", "alice",
                "--project-path", "grp/app", "--ci-file", ".gitlab-ci.yml",
                "--issuer", "https://gitlab.example.com", storage=index.storage).stdout  # fmt: skip
    publisher_id = added.split()[2]
    listed = cli("publisher", "list", storage=index.storage).stdout
    assert publisher_id in listed and "https://gitlab.example.com" in listed and "pending" in listed
    removed = cli("publisher", "remove", publisher_id, storage=index.storage).stdout
    assert f"removed publisher {publisher_id}" in removed
    assert publisher_id not in cli("publisher", "list", storage=index.storage).stdout
    audit = cli("audit", storage=index.storage).stdout
    assert "project:publisher:add" in audit and "project:publisher:remove" in audit
