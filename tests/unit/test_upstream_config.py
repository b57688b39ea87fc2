from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_index.upstream.config import (
    Credentials,
    Upstream,
    UpstreamConfigError,
    credential_variables,
    credentials_for,
    parse_upstreams,
    parse_upstreams_env,
)

PYPI = "https://pypi.org/simple/"


def one(value: str) -> Upstream:
    (upstream,) = parse_upstreams([value])
    return upstream


@pytest.mark.parametrize(
    ("value", "url", "name"),
    [
        (PYPI, PYPI, "pypi-org"),
        ("https://pypi.org/simple", PYPI, "pypi-org"),
        ("  https://pypi.org/simple/  ", PYPI, "pypi-org"),
        ("HTTPS://PyPI.org/simple/", PYPI, "pypi-org"),
        ("https://pypi.org:443/simple/", PYPI, "pypi-org"),
        ("http://pypi.org:80/simple/", "http://pypi.org/simple/", "pypi-org"),
        ("https://test.pypi.org/simple/", "https://test.pypi.org/simple/", "test-pypi-org"),
        ("http://localhost:8080/simple/", "http://localhost:8080/simple/", "localhost-8080"),
        (
            "http://127.0.0.1:3141/root/pypi/+simple/",
            "http://127.0.0.1:3141/root/pypi/+simple/",
            "127-0-0-1-3141-root-pypi-simple",
        ),
        ("https://mirror.example", "https://mirror.example/", "mirror-example"),
        ("https://h.example/Team_A/Simple/", "https://h.example/Team_A/Simple/", "h-example-team-a"),
        ("http://[::1]:8000/simple/", "http://[::1]:8000/simple/", "1-8000"),
        ("https://bücher.example/simple/", "https://xn--bcher-kva.example/simple/", "xn-bcher-kva-example"),
    ],
)
def test_normalized_url_and_name(value: str, url: str, name: str) -> None:
    assert one(value) == Upstream(name=name, url=url, priority=0)


def test_priority_is_the_configured_order() -> None:
    upstreams = parse_upstreams(["https://b.example/simple/", PYPI, "https://a.example/simple/"])
    assert [(u.priority, u.name) for u in upstreams] == [(0, "b-example"), (1, "pypi-org"), (2, "a-example")]


def test_two_upstreams_on_one_host_get_path_names() -> None:
    upstreams = parse_upstreams(["https://git.example/team-a/simple/", "https://git.example/team-b/simple/"])
    assert [u.name for u in upstreams] == ["git-example-team-a", "git-example-team-b"]


def test_colliding_names_both_get_a_hash_suffix_whatever_the_order() -> None:
    first, second = "https://a.b/x/", "https://a-b/x/simple/"
    forward = {u.url: u.name for u in parse_upstreams([first, second])}
    backward = {u.url: u.name for u in parse_upstreams([second, first])}
    assert forward == backward
    assert len(set(forward.values())) == 2
    assert all(re.fullmatch(r"a-b-x-[0-9a-f]{8}", n) for n in forward.values())
    # Alone, either keeps the plain name.
    assert one(first).name == one(second).name == "a-b-x"


def test_a_long_name_is_cut_and_hashed() -> None:
    upstream = one("https://gitlab.example.com/api/v4/projects/123456/packages/pypi/simple/")
    assert len(upstream.name) <= 48
    assert re.fullmatch(r"gitlab-example-com-api-v4-projects-1234-[0-9a-f]{8}", upstream.name)
    # A cut that ends on a separator does not leave "--" before the suffix.
    assert re.fullmatch(r"a{38}-[0-9a-f]{8}", one(f"https://{'a' * 38}.example/more/").name)


def test_names_are_stable_ids() -> None:
    assert one(PYPI).name == parse_upstreams(["https://x.example/simple/", PYPI])[1].name


@given(
    st.lists(
        st.builds(
            lambda host, path: f"https://{host}/{path}",
            st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9._~+/-]{0,30}", fullmatch=True),
        ),
        max_size=6,
    )
)
def test_names_are_unique_and_safe(urls: list[str]) -> None:
    try:
        upstreams = parse_upstreams(urls)
    except UpstreamConfigError as exc:
        assert any(m in str(exc) for m in ("listed twice", "not a valid domain name"))
        return
    names = [u.name for u in upstreams]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) and len(n) <= 48 for n in names)
    assert all(u.url.endswith("/") for u in upstreams)


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("ftp://pypi.org/simple/", "must be an http:// or https:// URL"),
        ("file:///srv/simple/", "must be an http:// or https:// URL"),
        ("pypi.org/simple/", "must be an http:// or https:// URL"),
        ("https:///simple/", "has no host"),
        ("https://pypi.org/simple/?x=1", "query string or fragment"),
        ("https://pypi.org/simple/#frag", "query string or fragment"),
        ("https://pypi.org/simple/?", "query string or fragment"),
        ("https://pypi.org:notaport/simple/", "not a valid URL"),
        ("https://pypi.org/sim ple/", "whitespace"),
        ("", "empty"),
        ("   ", "empty"),
    ],
)
def test_refused_urls_say_the_fix(value: str, fix: str) -> None:
    with pytest.raises(UpstreamConfigError, match=re.escape(fix)) as info:
        parse_upstreams([value])
    assert isinstance(info.value, ValueError)
    assert "e.g." in str(info.value) or "remove" in str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        "https://alice:s3cr3t-pw@pypi.example/simple/",
        "https://s3cr3t-pw@pypi.example/simple/",
        "https://alice:s3cr3t-pw@pypi.example:8443/simple/",
    ],
)
def test_credentials_in_the_url_are_refused_without_repeating_them(value: str) -> None:
    with pytest.raises(UpstreamConfigError) as info:
        parse_upstreams([value])
    message = str(info.value)
    assert "s3cr3t-pw" not in message and "alice" not in message
    assert "never put them on the command line" in message
    var = "REGISTRY_INDEX_UPSTREAM_PYPI_EXAMPLE" + ("_8443" if ":8443" in value else "")
    for hint in (f"{var}_USERNAME and {var}_PASSWORD", f"{var}_TOKEN", "netrc entry for pypi.example"):
        assert hint in message


def test_credentials_in_an_unusable_url_still_name_the_variables_generically() -> None:
    with pytest.raises(UpstreamConfigError) as info:
        parse_upstreams(["https://alice:s3cr3t@/simple/"])
    assert "REGISTRY_INDEX_UPSTREAM_<NAME>_USERNAME" in str(info.value)
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    "values",
    [
        [PYPI, PYPI],
        [PYPI, "https://PYPI.org/simple"],
        [PYPI, "http://pypi.org/simple/"],
        [PYPI, "https://pypi.org:443/simple/"],
    ],
)
def test_duplicates_are_refused(values: list[str]) -> None:
    with pytest.raises(UpstreamConfigError, match=r"listed twice.*keep one of them"):
        parse_upstreams(values)


def test_a_single_string_is_not_a_list_of_urls() -> None:
    with pytest.raises(TypeError, match="parse_upstreams_env"):
        parse_upstreams(PYPI)


def test_different_paths_are_not_duplicates() -> None:
    assert len(parse_upstreams([PYPI, "https://pypi.org/other/"])) == 2


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("", []),
        ("   ", []),
        (PYPI, [PYPI]),
        (f" {PYPI} , https://a.example/simple ,", [PYPI, "https://a.example/simple/"]),
        (f"https://a.example/simple/,,{PYPI}", ["https://a.example/simple/", PYPI]),
        (f"\n{PYPI},\thttps://b.example/\n", [PYPI, "https://b.example/"]),
    ],
)
def test_env_is_comma_separated(text: str, urls: list[str]) -> None:
    upstreams = parse_upstreams_env(text)
    assert [u.url for u in upstreams] == urls
    assert [u.priority for u in upstreams] == list(range(len(urls)))


def test_env_refuses_what_the_flag_refuses() -> None:
    with pytest.raises(UpstreamConfigError, match="listed twice"):
        parse_upstreams_env(f"{PYPI},{PYPI}")
    with pytest.raises(UpstreamConfigError, match="credentials in the URL"):
        parse_upstreams_env(f"{PYPI},https://u:p@x.example/simple/")


# --- credentials ---------------------------------------------------------------------------

UP = one("https://pkgs.example.com:8443/simple/")  # name pkgs-example-com-8443
VAR = "REGISTRY_INDEX_UPSTREAM_PKGS_EXAMPLE_COM_8443"


def test_credential_variables() -> None:
    assert credential_variables(UP.name) == (f"{VAR}_USERNAME", f"{VAR}_PASSWORD", f"{VAR}_TOKEN")
    assert credential_variables("pypi-org")[0] == "REGISTRY_INDEX_UPSTREAM_PYPI_ORG_USERNAME"


NETRC = """
machine pkgs.example.com login netrc-user password netrc-pw
machine other.example login o password op
"""


@pytest.mark.parametrize(
    ("environ", "netrc_text", "expected"),
    [
        ({}, None, None),
        ({}, "", None),
        ({f"{VAR}_USERNAME": "alice", f"{VAR}_PASSWORD": "pw"}, None, ("alice", "pw")),
        ({f"{VAR}_TOKEN": "pypi-abc"}, None, ("__token__", "pypi-abc")),
        ({f"{VAR}_USERNAME": "alice", f"{VAR}_PASSWORD": "pw"}, NETRC, ("alice", "pw")),  # env first
        ({f"{VAR}_TOKEN": "tok"}, NETRC, ("__token__", "tok")),
        ({}, NETRC, ("netrc-user", "netrc-pw")),  # by host, without the port
        ({f"{VAR}_USERNAME": "", f"{VAR}_PASSWORD": ""}, NETRC, ("netrc-user", "netrc-pw")),  # empty = unset
        ({f"{VAR}_TOKEN": ""}, None, None),
        (
            {"REGISTRY_INDEX_UPSTREAM_OTHER_USERNAME": "x", "REGISTRY_INDEX_UPSTREAM_OTHER_PASSWORD": "y"},
            None,
            None,
        ),
        ({}, "machine other.example login o password op\n", None),
        ({}, "machine other.example login o password op\ndefault login d password dp\n", ("d", "dp")),
        ({}, "machine pkgs.example.com account acct password p\n", ("acct", "p")),
        ({}, "machine pkgs.example.com password only-pw\n", ("", "only-pw")),
    ],
)
def test_credentials_for(
    environ: dict[str, str], netrc_text: str | None, expected: tuple[str, str] | None
) -> None:
    assert credentials_for(UP, environ, netrc_text) == expected


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({f"{VAR}_USERNAME": "alice"}, [f"{VAR}_PASSWORD is not set", f"{VAR}_TOKEN"]),
        ({f"{VAR}_PASSWORD": "s3cr3t"}, [f"{VAR}_USERNAME is not set"]),
        ({f"{VAR}_TOKEN": "s3cr3t", f"{VAR}_PASSWORD": "s3cr3t"}, ["either", f"{VAR}_TOKEN", "not both"]),
    ],
)
def test_half_set_credentials_are_an_error_naming_variables_not_values(
    environ: dict[str, str], names: list[str]
) -> None:
    with pytest.raises(UpstreamConfigError) as info:
        credentials_for(UP, environ, NETRC)
    message = str(info.value)
    assert all(n in message for n in names)
    assert "s3cr3t" not in message and "alice" not in message and "netrc-pw" not in message


def test_a_bad_netrc_is_reported_by_line_without_its_tokens() -> None:
    text = "machine pkgs.example.com login u password ok\nnotakeyword s3cr3t-token\n"
    with pytest.raises(UpstreamConfigError, match=r"line 2") as info:
        credentials_for(UP, {}, text)
    assert "s3cr3t" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_secrets_never_show_in_repr() -> None:
    creds = credentials_for(UP, {f"{VAR}_USERNAME": "alice", f"{VAR}_PASSWORD": "s3cr3t"}, None)
    assert creds == Credentials("alice", "s3cr3t")
    assert creds is not None and creds.password == "s3cr3t"
    for shown in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "s3cr3t" not in shown and "alice" in shown
    # Upstream has no secret field at all.
    assert set(Upstream.__dataclass_fields__) == {"name", "url", "priority"}


def test_upstream_is_frozen_and_knows_its_host() -> None:
    assert UP.host == "pkgs.example.com"
    with pytest.raises(AttributeError):
        UP.name = "other"  # type: ignore[misc]
