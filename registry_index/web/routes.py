"""The web UI's pages: home, project list, search, project and version pages, users, audit log.

Every page reads the same cached sidecars as the APIs, works without JavaScript and carries
the security headers of render.SECURITY_HEADERS. Errors inside a page render as HTML pages
with the status the APIs would give.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from os import PathLike
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from ..api.context import AppContext, context
from ..api.params import int_param
from ..api.search import query_from
from ..api.urls import base_url, redirect
from ..audit import EventKind
from ..audit.log import AuditQuery
from ..domain.model import Project
from ..errors import InvalidRequest, NotFound, RegistryError
from ..names import canonical_version, is_valid_name, normalize
from ..pagination import Pagination
from ..simple.relayed import relayable
from ..storage import StorageError
from .catalog import Catalog, Listing
from .render import STATIC, error_page, page, render_description, root_of
from .view import ProjectView, ReleaseView, dependencies, project_view, safe_url

Endpoint = Callable[[Request], Awaitable[Response]]


def html_errors(endpoint: Endpoint) -> Endpoint:
    """Registry errors and store outages as HTML pages (401 keeps its WWW-Authenticate)."""

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except RegistryError as exc:
            return error_page(request, exc.status, exc.message)
        except StorageError:
            return error_page(request, 503, "The package store is unavailable; retry shortly.")

    return wrapper


def catalog(request: Request, ctx: AppContext) -> Catalog:
    state = request.app.state
    found: Catalog | None = getattr(state, "web_catalog", None)
    if found is None or found.registry is not ctx.registry:
        found = Catalog(ctx.registry)
        state.web_catalog = found
    return found


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    pages: int
    total: int
    first: int  # 1-based index of the first item shown
    last: int
    prev_url: str | None
    next_url: str | None


def pager(request: Request, paged: Pagination) -> Pager:
    """The pager a template shows: relative links, with page 1 and empty parameters left out."""

    def link(n: int | None) -> str | None:
        if n is None:
            return None
        params = {k: v for k, v in request.query_params.items() if k != "page" and v}
        if n > 1:
            params["page"] = str(n)
        query = urlencode(params)
        return request.url.path + (f"?{query}" if query else "")

    return Pager(
        page=paged.page,
        pages=paged.pages,
        total=paged.total,
        first=paged.first,
        last=paged.last,
        prev_url=link(paged.prev),
        next_url=link(paged.next),
    )


def _redirect(request: Request, path: str) -> Response:
    return redirect(request, root_of(request) + path)


# -- home, project list, search ----------------------------------------------------------


@html_errors
async def home(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    found = catalog(request, ctx)
    listing = found.listing()
    return page(
        request,
        "home.html",
        {
            "projects": len(listing.projects),
            "files": listing.files,
            "recent": await found.recent_uploads(listing),
            "complete": listing.complete,
            "base": base_url(request, ctx.settings.public_url),
        },
    )


SORTS = {"name": "Name", "updated": "Last update"}


@html_errors
async def project_list(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    params = request.query_params
    sort = params.get("sort") or "name"
    if sort not in SORTS:
        raise InvalidRequest(f"Sort by one of {', '.join(SORTS)}, not {sort!r}.")
    page_no = int_param(params, "page", 1, low=1, high=1_000_000)
    per_page = int_param(params, "per_page", 50, low=1, high=200)
    listing: Listing = catalog(request, ctx).listing()
    rows = listing.by_updated if sort == "updated" else listing.projects
    paged = Pagination(page_no, per_page, len(rows))
    sort_links = {
        key: root_of(request) + "/projects/" + ("" if key == "name" else "?sort=" + key) for key in SORTS
    }
    return page(
        request,
        "projects.html",
        {
            "rows": paged.slice(rows),
            "pager": pager(request, paged),
            "sort": sort,
            "sorts": SORTS,
            "sort_links": sort_links,
        },
    )


@html_errors
async def search(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    params = dict(request.query_params)
    page_no = int_param(params, "page", 1, low=1, high=100_000)
    per_page = int_param(params, "per_page", 20, low=5, high=100)
    problem = ""
    try:
        query = query_from(params)
    except InvalidRequest as exc:
        problem = exc.message
        results = []
    else:
        results = ctx.registry.search(query)
    filters = {k: params.get(k, "") for k in ("keyword", "classifier", "author", "requires_python")}
    paged = Pagination(page_no, per_page, len(results))
    return page(
        request,
        "search.html",
        {
            "q": params.get("q", ""),
            "filters": filters,
            "filtered": any(filters.values()),
            "problem": problem,
            "results": paged.slice(results),
            "pager": pager(request, paged),
        },
        status=400 if problem else 200,
    )


# -- project and version pages -----------------------------------------------------------


async def _project(request: Request, ctx: AppContext, name: str) -> Project:
    project = await ctx.registry.project(name)
    if project.status == "quarantined":
        raise NotFound(f"Project {project.name!r} is quarantined: its files are not available.")
    return project


def _urls(meta: Mapping[str, Any]) -> list[tuple[str, str | None, str]]:
    """(label, href or None, text) for the project's links; only http(s) become links."""
    out: list[tuple[str, str | None, str]] = []
    if meta.get("home_page"):
        out.append(("Homepage", safe_url(meta["home_page"]), str(meta["home_page"])))
    urls = meta.get("project_urls")
    if isinstance(urls, dict):
        out += [(str(label), safe_url(url), str(url)) for label, url in urls.items()]
    if meta.get("download_url"):
        out.append(("Download", safe_url(meta["download_url"]), str(meta["download_url"])))
    return out


async def _release_page(request: Request, view: ProjectView, shown: ReleaseView, is_latest: bool) -> Response:
    ctx = context(request)
    project = view.project
    release = shown.release
    meta = release.metadata
    # A release may have thousands of files: the README comes from the first readable one.
    text = await ctx.registry.description(project, shown.readme_from)
    if not text and len(shown.readme_from) < len(shown.files):
        text = await ctx.registry.description(project, shown.files)
    description = await render_description(text, meta.get("description_content_type"))
    vulnerabilities = await ctx.registry.vulnerabilities(project.normalized, release.version)
    index, _ = await ctx.registry.index()
    deps = dependencies(meta.get("requires_dist"))
    # Only the dependencies are looked up: a set of all 700,000 names per view was O(index).
    known = {
        d.normalized for d in deps if d.normalized in index.projects and d.normalized not in index.hidden
    }
    license_text = str(meta.get("license_expression") or meta.get("license") or "")
    publishers = await ctx.registry.trusted.of_project(project.normalized)
    return page(
        request,
        "project.html",
        {
            "project": project,
            "view": view,
            "shown": shown,
            "release": release,
            "meta": meta,
            "is_latest": is_latest,
            "latest": view.by_key[view.latest] if view.latest else None,
            "description": description,
            "vulnerabilities": vulnerabilities,
            "dependencies": deps,
            "known": known,
            "urls": _urls(meta),
            "license": license_text.splitlines()[0][:200] if license_text else "",
            "base": base_url(request, ctx.settings.public_url),
            "publishers": publishers,
        },
    )


@html_errors
async def project_page(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    name: str = request.path_params["project"]
    if name != normalize(name):
        return _redirect(request, f"/project/{normalize(name)}/")
    try:
        project = await _project(request, ctx, name)
    except NotFound:
        relayed = await ctx.registry.relayed_page(name) if is_valid_name(name) else None
        if relayed is None:
            raise
        files = [f for f in relayed.project.files if relayable(f)]
        return page(
            request,
            "upstream_project.html",
            {"project": relayed.project, "upstream": relayed.upstream, "stale": relayed.stale,
             "files": files, "root": root_of(request)},
        )  # fmt: skip
    view = project_view(project)
    if view.latest is None:
        return page(request, "empty_project.html", {"project": project})
    return await _release_page(request, view, view.by_key[view.latest], True)


@html_errors
async def version_page(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    name: str = request.path_params["project"]
    version: str = request.path_params["version"]
    project = await _project(request, ctx, name)
    view = project_view(project)
    shown = view.by_key.get(canonical_version(version))
    if shown is None:
        raise NotFound(f"Project {project.name!r} has no version {version!r}.")
    if name != project.normalized or version != shown.release.version:
        return _redirect(request, f"/project/{project.normalized}/{shown.release.version}/")
    return await _release_page(request, view, shown, shown.key == view.latest)


# -- users and the audit log ---------------------------------------------------------------


@html_errors
async def user_page(request: Request) -> Response:
    ctx = context(request)
    await ctx.require_reader(request)
    name: str = request.path_params["user"]
    if not is_valid_name(name):  # never a storage key built from an arbitrary string
        raise NotFound(f"No user {name!r} on this index.")
    listing = catalog(request, ctx).listing()
    owned = [s for s in listing.projects if name in s.owners]
    maintained = [s for s in listing.projects if name in s.maintainers and name not in s.owners]
    account = await ctx.registry.accounts.get_user(name)
    if account is None and not owned and not maintained:
        raise NotFound(f"No user {name!r} on this index.")
    return page(request, "user.html", {"name": name, "owned": owned, "maintained": maintained})


def _time_param(value: str | None, name: str) -> str | None:
    if value and not (len(value) >= 10 and value[4] == "-" and value[7] == "-"):
        raise InvalidRequest(f"The {name!r} filter must be an ISO date or time, e.g. 2026-01-31.")
    return value or None


@html_errors
async def audit_page(request: Request) -> Response:
    ctx = context(request)
    user = (await ctx.require_admin(request)).user
    q = request.query_params
    page_no = int_param(q, "page", 1, low=1, high=1_000_000)
    per_page = int_param(q, "per_page", 50, low=10, high=500)
    filters = {k: (q.get(k) or "").strip() for k in ("project", "actor", "action", "since", "until")}
    query = AuditQuery(
        project=normalize(filters["project"]) if filters["project"] else None,
        actor=filters["actor"] or None,
        action=filters["action"] or None,
        since=_time_param(filters["since"], "since"),
        until=_time_param(filters["until"], "until"),
    )
    matched = [e async for e in ctx.registry.audit.events(query)]
    matched.reverse()  # newest first
    paged = Pagination(page_no, per_page, len(matched))
    return page(
        request,
        "audit.html",
        {
            "user": user,
            "events": paged.slice(matched),
            "filters": filters,
            "actions": [str(kind) for kind in EventKind],
            "pager": pager(request, paged),
        },
        headers={"Cache-Control": "no-store"},
    )


class Static(StaticFiles):
    """The stylesheet and icon; URLs carry a content digest, so they may be cached a day."""

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


routes: list[BaseRoute] = [
    # GET only: POST / is the legacy upload endpoint (upload/routes.py).
    Route("/", home, methods=["GET", "HEAD"]),
    Route("/projects/", project_list, methods=["GET", "HEAD"]),
    Route("/search", search, methods=["GET", "HEAD"]),
    Route("/search/", search, methods=["GET", "HEAD"]),
    Route("/project/{project}/", project_page, methods=["GET", "HEAD"]),
    Route("/project/{project}/{version}/", version_page, methods=["GET", "HEAD"]),
    Route("/user/{user}/", user_page, methods=["GET", "HEAD"]),
    Route("/admin/audit", audit_page, methods=["GET", "HEAD"]),
    Mount("/static", app=Static(directory=STATIC), name="static"),
]
