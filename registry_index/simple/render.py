"""The two serializations of the Simple API: PEP 503 HTML and PEP 691 JSON (pure)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_HEAD = '<!DOCTYPE html>\n<html>\n<head>\n<meta name="pypi:repository-version" content="{v}">\n'


def _attr(value: str) -> str:
    # quote=True escapes & < > " ', as PEP 503 wants for data-requires-python.
    return escape(value, quote=True)


def index_html(doc: dict[str, Any], prefix: str) -> bytes:
    parts = [
        _HEAD.format(v=doc["meta"]["api-version"]),
        "<title>Simple index</title>\n</head>\n<body>\n",
    ]
    for project in doc["projects"]:
        parts.append(
            f'<a href="{prefix}{_attr(project["_normalized"])}/">{escape(project["name"])}</a><br>\n'
        )
    parts.append("</body>\n</html>\n")
    return "".join(parts).encode()


def project_html(doc: dict[str, Any]) -> bytes:
    name = escape(doc["name"])
    parts = [_HEAD.format(v=doc["meta"]["api-version"])]
    status = doc.get("project-status", {})
    if status.get("status", "active") != "active":
        parts.append(f'<meta name="pypi:project-status" content="{_attr(status["status"])}">\n')
        if status.get("reason"):
            parts.append(f'<meta name="pypi:project-status-reason" content="{_attr(status["reason"])}">\n')
    parts.append(f"<title>Links for {name}</title>\n</head>\n<body>\n<h1>Links for {name}</h1>\n")
    for f in doc["files"]:
        attrs = [f'href="{_attr(f["url"])}#sha256={f["hashes"]["sha256"]}"']
        if "requires-python" in f:
            attrs.append(f'data-requires-python="{_attr(f["requires-python"])}"')
        if f.get("core-metadata"):
            value = f"sha256={f['core-metadata']['sha256']}"
            attrs.append(f'data-core-metadata="{value}" data-dist-info-metadata="{value}"')
        yanked = f.get("yanked")
        if yanked:
            reason = "" if yanked is True else str(yanked)
            attrs.append(f'data-yanked="{_attr(reason)}"')
        parts.append(f"<a {' '.join(attrs)}>{escape(f['filename'])}</a><br>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts).encode()


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": doc["meta"],
        "projects": [{"name": p["name"]} for p in doc["projects"]],
    }


def index_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(_public(doc), separators=(",", ":")).encode()


def project_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()
