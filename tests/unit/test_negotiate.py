from __future__ import annotations

import pytest

from registry_index.simple.negotiate import HTML, V1_HTML, V1_JSON, negotiate

PIP = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
UV = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, HTML),
        ("", HTML),
        ("*/*", HTML),
        ("text/html", HTML),
        (PIP, V1_JSON),
        (UV, V1_JSON),
        ("text/html;q=0.01, application/vnd.pypi.simple.v1+json", V1_JSON),  # order is irrelevant
        ("application/vnd.pypi.simple.v1+html", V1_HTML),
        ("application/vnd.pypi.simple.latest+json", V1_JSON),
        ("application/vnd.pypi.simple.latest+html", V1_HTML),
        ("application/*;q=0.5, text/html;q=0.4", V1_HTML),
        ("application/vnd.pypi.simple.v1+json;q=0, */*", HTML),
        ("image/png", HTML),  # nothing acceptable: fall back like PyPI
        ("application/vnd.pypi.simple.v1+json;q=bogus, text/html;q=0.5", HTML),
    ],
)
def test_negotiate(accept: str | None, expected: str) -> None:
    assert negotiate(accept) == expected


def test_format_parameter_wins() -> None:
    assert negotiate("text/html", "application/vnd.pypi.simple.v1+json") == V1_JSON
    assert negotiate(PIP, "text/html") == HTML
    assert negotiate(PIP, "nonsense") == V1_JSON
