"""The web UI against a real server with uploaded packages: over HTTP, then in headless Chromium.

The browser is Debian's Chromium (``make test`` installs it) driven by Playwright, launched
once per module. Screenshots of every page land in test-output/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from registry_index.app import create_app
from registry_index.domain.model import Project
from registry_index.registry import Registry
from registry_index.settings import Settings
from registry_index.storage import MemoryStorage
from registry_index.testing import WheelSpec, build_sdist, build_wheel, metadata_text
from tests.conftest import Index

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; img-src 'self' data: https:; style-src 'self'"
)

DEMO_README = """# Web Demo

A **friendly** package for the web UI tests.

```python
import web_demo
print(web_demo.hello())
```

| Feature | Works |
| ------- | ----- |
| tables  | yes   |
"""

HOSTILE_MD = """# Hostile markdown

<script>alert('md-script')</script>

<img src=x onerror=alert('md-img')>

[click me](javascript:alert('md-link')) and <a href="javascript:alert(2)" onclick="alert(3)">raw</a>

<a href="JaVaScRiPt:alert('mixed')">mixed case</a> <svg onload=alert('svg')></svg>
<iframe src="javascript:alert('frame')"></iframe>
"""

HOSTILE_RST = """Hostile reST
============

A `javascript link <javascript:alert('rst-link')>`_ and text <script>alert('rst')</script>.

.. image:: https://example.com/logo.png
   :target: javascript:alert('rst-image')
   :alt: <img src=x onerror=alert('rst-alt')>

Some *emphasis* so the page renders reST, not plain text.
"""

RAW_RST = """Raw HTML
========

.. raw:: html

   <script>alert('raw')</script>
"""


def _wheel(
    tmp: Path,
    name: str,
    version: str,
    readme: str = "",
    *,
    summary: str = "A test package",
    requires_python: str | None = None,
    requires_dist: Sequence[str] = (),
    extra: Sequence[tuple[str, str]] = (),
) -> Path:
    """A wheel whose METADATA carries ``readme`` as its description body."""
    text = metadata_text(
        name,
        version,
        summary=summary,
        requires_python=requires_python,
        requires_dist=requires_dist,
        extra=extra,
    )
    return build_wheel(tmp, WheelSpec(name, version, metadata=text + readme))


@dataclass
class Site:
    index: Index
    url: str

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def site(index: Index, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Projects with READMEs of each kind, a yanked release, an archived project, roles."""
    tmp = tmp_path_factory.mktemp("web-dists")
    md = [("Description-Content-Type", "text/markdown")]
    demo_meta = [
        *md,
        ("Keywords", "webdemo,testing"),
        ("Classifier", "Programming Language :: Python :: 3"),
        ("Classifier", "Framework :: AsyncIO"),
        ("Project-URL", "Source, https://example.com/web-demo"),
        ("Project-URL", "Sneaky, javascript:alert('url')"),
        ("License", "MIT"),
    ]
    index.twine(
        _wheel(
            tmp,
            "Web_Demo",
            "1.0",
            DEMO_README,
            requires_python=">=3.9",
            requires_dist=["httpx>=0.27", "rich>=13; extra == 'cli'"],
            extra=demo_meta,
        ),
        build_sdist(tmp, "Web_Demo", "1.0"),
        _wheel(
            tmp,
            "Web_Demo",
            "2.0",
            DEMO_README,
            summary="The friendly demo, second edition",
            requires_python=">=3.10",
            requires_dist=["httpx>=0.28", "web-dep>=1"],
            extra=demo_meta,
        ),
        _wheel(tmp, "web-dep", "1.0", summary="A dependency of the demo"),
        _wheel(
            tmp,
            "hostile-md",
            "1.0",
            HOSTILE_MD,
            summary="<script>alert('summary')</script> & <b>bold</b>",
            extra=[*md, ("Project-URL", "Home, javascript:alert('home')")],
        ),
        _wheel(tmp, "hostile-rst", "1.0", HOSTILE_RST, extra=[("Description-Content-Type", "text/x-rst")]),
        _wheel(tmp, "raw-rst", "1.0", RAW_RST),
        _wheel(
            tmp, "web-archived", "1.0", "Old and done.", extra=[("Description-Content-Type", "text/plain")]
        ),
    )
    index.twine(_wheel(tmp, "bobs-tool", "0.1", "Bob's own."), account=index.other)
    index.cli("yank", "web-demo", "1.0", "--reason", "broken <build>")
    index.cli("status", "web-archived", "archived", "--reason", "superseded by web-demo")
    index.cli("maintainer", "add", "web-demo", index.other.name)
    result = Site(index, index.url)
    wait_for(lambda: "badge--archived" in result.get("/project/web-archived/").text, "the archived status")
    wait_for(lambda: "Yanked" in result.get("/project/web-demo/1.0/").text, "the yank")
    # Project lists follow the search index, which learns of the CLI's writes (another
    # process) at its next refresh (--search-refresh, 5 s by default).
    wait_for(
        lambda: "badge--archived" in result.get("/projects/", params={"sort": "updated"}).text,
        "the archived status in the project list",
    )
    wait_for(lambda: 'href="/project/web-demo/"' in result.get("/user/bob/").text, "the new maintainer")
    return result


class Tags(HTMLParser):
    """Every start tag with its attributes, to check what a page really contains."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def assert_inert(html: str) -> None:
    tags = tags_of(html)
    assert not [t for t, _ in tags if t in ("script", "iframe", "svg", "object", "embed")]
    for tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for name in ("href", "src"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith("javascript:"), (tag, attrs)


def assert_html_page(resp: httpx.Response, status: int = 200) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["content-security-policy"] == CSP
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"]


# -- over HTTP -----------------------------------------------------------------------------


def test_home_counts_recent_uploads_and_config(site: Site) -> None:
    resp = site.get("/")
    assert_html_page(resp)
    html = resp.text
    assert re.search(r"<strong>7</strong> projects", html)  # hostile ones too; archived is listed
    assert "Recent uploads" in html and "bobs_tool-0.1-py3-none-any.whl" in html
    assert f"pip install --index-url {site.url}/simple/ PACKAGE" in html
    assert f"url = &#34;{site.url}/simple/&#34;" in html  # uv's index configuration
    assert f"twine upload --repository-url {site.url}/legacy/ dist/*" in html
    assert 'name="q"' in html and 'action="/search"' in html
    assert "<script" not in html
    # GET / is the web UI; POST / is still the legacy upload endpoint (it asks for credentials).
    assert httpx.post(site.url + "/", data={":action": "file_upload"}).status_code == 401
    assert httpx.head(site.url + "/").status_code == 200


def test_project_list_sorts_and_pages(site: Site) -> None:
    by_name = site.get("/projects/", params={"per_page": 3})
    assert_html_page(by_name)
    names = re.findall(r'class="project-card__name" href="/project/([^/]+)/"', by_name.text)
    assert names == ["bobs-tool", "hostile-md", "hostile-rst"]
    assert (
        "Page 1 of 3" in by_name.text and 'rel="next" href="/projects/?per_page=3&amp;page=2"' in by_name.text
    )
    page3 = site.get("/projects/", params={"per_page": 3, "page": 3})
    assert re.findall(r'class="project-card__name" href="/project/([^/]+)/"', page3.text) == ["web-dep"]
    updated = site.get("/projects/", params={"sort": "updated"})
    names = re.findall(r'class="project-card__name" href="/project/([^/]+)/"', updated.text)
    assert names[0] == "bobs-tool" and set(names) >= {"web-demo", "web-archived"}
    assert "badge--archived" in updated.text
    assert site.get("/projects/", params={"sort": "size"}).status_code == 400


def test_search_page_with_filters(site: Site) -> None:
    resp = site.get("/search", params={"q": "web demo"})
    assert_html_page(resp)
    assert 'href="/project/web-demo/"' in resp.text and "The friendly demo, second edition" in resp.text
    keyword = site.get("/search", params={"keyword": "webdemo"})
    assert re.findall(r'class="project-card__name" href="/project/([^/]+)/"', keyword.text) == ["web-demo"]
    assert '<details class="filters" open>' in keyword.text  # filters in use stay visible
    classifier = site.get("/search", params={"q": "web", "classifier": "Framework :: AsyncIO"})
    assert "/project/web-demo/" in classifier.text and "/project/web-dep/" not in classifier.text
    old_python = site.get("/search", params={"q": "web-demo", "requires_python": "3.9"})
    assert "/project/web-demo/" not in old_python.text  # 2.0 needs 3.10
    bad = site.get("/search", params={"requires_python": "three"})
    assert_html_page(bad, 400)
    assert "requires_python" in bad.text and 'aria-invalid="true"' in bad.text
    assert "/project/hostile-md/" in site.get("/search", params={"q": "hostile"}).text


def test_project_page_shows_release_files_and_metadata(site: Site) -> None:
    resp = site.get("/project/web-demo/")
    assert_html_page(resp)
    html = resp.text
    project = httpx.get(f"{site.url}/pypi/web-demo/json").json()
    wheel = next(u for u in project["urls"] if u["filename"].endswith(".whl"))
    assert "<h1" in html and "Web_Demo" in html and "badge--latest" in html
    assert wheel["filename"] in html and wheel["digests"]["sha256"] in html
    assert f"/files/web-demo/{wheel['digests']['sha256']}/{wheel['filename']}" in html
    assert re.search(r"\d+(\.\d)? kB", html) and 'href="/user/alice/"' in html  # size, uploader
    assert "&gt;=3.10" in html  # requires-python, escaped
    assert "httpx&gt;=0.28" in html and 'href="/project/web-dep/"' in html  # a dependency on this index
    assert f"pip install --index-url {site.url}/simple/ Web_Demo</code>" in html
    assert "uv pip install --index-url" in html
    assert "<strong>friendly</strong>" in html and '<span class="kn">import</span>' in html  # Markdown
    assert "<table>" in html  # GFM tables
    assert 'href="https://example.com/web-demo"' in html
    assert "javascript:" not in html.replace("javascript:alert(&#39;url&#39;)", "")  # shown as text only
    assert 'href="/project/web-demo/1.0/"' in html and 'href="/project/web-demo/2.0/"' in html
    assert 'href="/user/bob/"' in html  # the maintainer
    assert "MIT" in html and "Framework :: AsyncIO" in html


def test_version_page_shows_yank_and_older_files(site: Site) -> None:
    resp = site.get("/project/web-demo/1.0/")
    assert_html_page(resp)
    html = resp.text
    assert "This release was yanked" in html and "broken &lt;build&gt;" in html
    assert "web_demo-1.0.tar.gz" in html and "web_demo-1.0-py3-none-any.whl" in html
    assert '<span class="files__kind">Source</span>' in html  # the sdist's kind
    assert "This is not the latest release" in html and 'href="/project/web-demo/2.0/"' in html
    assert "Web_Demo==1.0</code>" in html  # the install command pins an older release
    assert "rich&gt;=13" in html and "Extra <code>cli</code>" in html
    assert "&gt;=3.9" in html
    archived = site.get("/project/web-archived/")
    assert "badge--archived" in archived.text and "superseded by web-demo" in archived.text
    assert '<pre class="readme readme--text">Old and done.' in archived.text  # text/plain


def test_redirects_and_not_found(site: Site) -> None:
    for path, target in (
        ("/project/Web_Demo/", "/project/web-demo/"),
        ("/project/WEB.demo/2.0/", "/project/web-demo/2.0/"),
        ("/project/web-demo/2.0.0/", "/project/web-demo/2.0/"),
    ):
        resp = site.get(path)
        # Relative: a redirect never carries the client's Host header back (issue 12).
        assert resp.status_code == 301 and resp.headers["location"] == target, path
    for path in ("/project/no-such-thing/", "/project/web-demo/9.9/", "/user/nobody-here/", "/nowhere"):
        resp = site.get(path)
        assert resp.status_code == 404, path
    missing = site.get("/project/no-such-thing/")
    assert_html_page(missing, 404)
    assert "No project" in missing.text and "<form" in missing.text


def test_hostile_content_is_escaped_or_sanitized(site: Site) -> None:
    md = site.get("/project/hostile-md/")
    assert_html_page(md)
    assert "&lt;script&gt;alert(&#39;summary&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in md.text
    assert 'rel="nofollow">click me</a>' in md.text
    rst = site.get("/project/hostile-rst/")
    assert 'class="readme readme--rst"' in rst.text and "<em>emphasis</em>" in rst.text
    raw = site.get("/project/raw-rst/")  # raw HTML is refused by the reST renderer: shown as text
    assert '<pre class="readme readme--text">' in raw.text and "&lt;script&gt;" in raw.text
    for resp in (md, rst, raw):
        assert_inert(resp.text)
    search = site.get("/search", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)" not in search.text and "&lt;script&gt;alert(1)" in search.text


def test_user_page_lists_owned_and_maintained(site: Site) -> None:
    alice = site.get("/user/alice/")
    assert_html_page(alice)
    assert 'href="/project/web-demo/"' in alice.text and "bobs-tool" not in alice.text
    bob = site.get("/user/bob/").text
    owned, _, maintained = bob.partition("Maintainer of")
    assert 'href="/project/bobs-tool/"' in owned and 'href="/project/web-demo/"' in maintained


def test_audit_view_is_for_admins_only(site: Site) -> None:
    index = site.index
    anonymous = site.get("/admin/audit")
    assert_html_page(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert_html_page(site.get("/admin/audit", auth=(index.other.name, index.other.password)), 403)
    admin = (index.admin.name, index.admin.password)
    resp = site.get("/admin/audit", auth=admin)
    assert_html_page(resp)
    assert resp.headers["cache-control"] == "no-store"
    assert "project:file:upload" in resp.text and "project:release:yank" in resp.text
    by_project = site.get("/admin/audit", params={"project": "Web_Demo"}, auth=admin).text
    assert "project:release:yank" in by_project and "bobs_tool" not in by_project
    by_actor = site.get("/admin/audit", params={"actor": "bob"}, auth=admin).text
    assert "bobs_tool-0.1-py3-none-any.whl" in by_actor and "web_demo-1.0.tar.gz" not in by_actor
    by_action = site.get("/admin/audit", params={"action": "project:status"}, auth=admin).text
    assert "superseded by web-demo" in by_action and "project:file:upload</a>" not in by_action
    assert site.get("/admin/audit", params={"since": "yesterday"}, auth=admin).status_code == 400


def test_static_stylesheet(site: Site) -> None:
    home = site.get("/").text
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', home)
    assert href is not None
    css = site.get(href.group(1))
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["x-content-type-options"] == "nosniff"
    assert "prefers-color-scheme: dark" in css.text and ":focus-visible" in css.text


class FakeScanner:
    """Advisories for vuln-demo 1.0, in the shape Registry.vulnerabilities returns."""

    async def vulnerabilities(self, project: str, version: str) -> list[dict[str, object]]:
        if (project, version) != ("vuln-demo", "1.0"):
            return []
        return [
            {
                "id": "PYSEC-2099-1",
                "link": "https://osv.dev/vulnerability/PYSEC-2099-1",
                "aliases": ["CVE-2099-0001"],
                "summary": "Code <execution>",
                "fixed_in": ["1.1"],
            },
            {"id": "GHSA-evil", "link": "javascript:alert(1)", "fixed_in": []},
        ]


def test_vulnerability_marks_empty_projects_and_big_releases_in_process(tmp_path: Path) -> None:
    async def scenario() -> None:
        registry = Registry(MemoryStorage())
        registry.scanner = FakeScanner()
        user = await registry.accounts.add_user("carol", "password-1")
        for name, version in (("vuln-demo", "1.0"), ("vuln-demo", "1.1"), ("emptied", "1.0")):
            await registry.publish_path(build_wheel(tmp_path, WheelSpec(name, version)), user)
        await registry.delete("emptied", "1.0")
        template = (await registry.project("vuln-demo")).files[0]

        def grow(project: Project | None) -> Project:  # 300 more files in release 1.1
            assert project is not None
            extra = [
                replace(
                    template,
                    filename=f"vuln_demo-1.1-{n}-py3-none-any.whl",
                    version="1.1",
                    sha256=f"{n:064x}",
                )
                for n in range(300)
            ]
            return project.bump(files=(*project.files, *extra))

        await registry.meta.update_project("vuln-demo", grow)
        app = create_app(Settings(storage="memory:"), registry=registry)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            old = (await client.get("/project/vuln-demo/1.0/")).text
            assert "2 known vulnerabilities" in old and 'id="vulnerabilities"' in old
            assert 'href="https://osv.dev/vulnerability/PYSEC-2099-1"' in old and "Fixed in 1.1" in old
            assert "Code &lt;execution&gt;" in old and "<strong>GHSA-evil</strong>" in old
            assert "javascript:" not in old
            latest = (await client.get("/project/vuln-demo/")).text
            assert "known vulnerabilit" not in latest
            assert latest.count('<td class="files__name">') == 301
            emptied = await client.get("/project/emptied/")
            assert emptied.status_code == 200 and "no releases with files" in emptied.text

    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(scenario())).result()


# -- in a real browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
    )
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def shot(page: Page, site: Site, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{site.index.backend}-{name}.png"), full_page=True)


def tab_to(page: Page, href: str, limit: int = 80) -> None:
    """Press Tab until the link to ``href`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.getAttribute('href')") == href:
            return
    raise AssertionError(f"Tab never reached a link to {href}")


def test_browse_home_search_project_version(site: Site, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(site.url + "/")
    assert page.title().startswith("registry_index")
    assert "7" in page.locator(".hero__lead").inner_text()
    shot(page, site, "home")

    # Keyboard: Tab to the search box, type, Enter.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "home-q":
            break
    assert page.evaluate("document.activeElement.id") == "home-q"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.type("web demo")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url.endswith("/search?q=web+demo"))
    assert "result" in page.locator(".result-count").inner_text()
    shot(page, site, "search")

    # Keyboard again: Tab to the result, Enter follows it.
    tab_to(page, "/project/web-demo/")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    shot(page, site, "search-keyboard-focus")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url.endswith("/project/web-demo/"))
    assert page.locator("#project-title").inner_text().startswith("Web_Demo")
    assert page.locator(".banner__version").inner_text() == "2.0"
    assert "friendly" in page.locator(".readme").inner_text()
    assert page.locator("table.files tbody tr").count() == 1
    assert page.locator(".command code").first.inner_text().endswith("/simple/ Web_Demo")
    shot(page, site, "project")

    # Clicks: the older release from the history, then its yank notice and files.
    page.locator(".history a", has_text="1.0").click()
    page.wait_for_url(lambda url: url.endswith("/project/web-demo/1.0/"))
    assert "yanked" in page.locator(".notice--warning").inner_text()
    assert page.locator("table.files tbody tr").count() == 2
    shot(page, site, "version")
    page.locator(".breadcrumbs a", has_text="Projects").click()
    page.wait_for_url(lambda url: url.endswith("/projects/"))
    assert page.locator(".project-card").count() == 7
    shot(page, site, "projects")
    page.goto(site.url + "/search?q=web&classifier=Framework+%3A%3A+AsyncIO")
    assert page.locator("details.filters").get_attribute("open") is not None
    assert page.locator(".project-card").count() == 1
    shot(page, site, "search-filtered")
    page.goto(site.url + "/user/bob/")
    shot(page, site, "user")
    page.goto(site.url + "/project/web-archived/")
    shot(page, site, "archived")
    page.goto(site.url + "/project/no-such-thing/")
    shot(page, site, "not-found")
    assert not dialogs
    page.close()


def test_audit_page_in_the_browser(site: Site, browser: Browser) -> None:
    index = site.index
    context = browser.new_context(
        http_credentials={"username": index.admin.name, "password": index.admin.password},
        viewport={"width": 1280, "height": 900},
    )
    page = context.new_page()
    page.goto(site.url + "/admin/audit")
    page.select_option("#a-action", "project:release:yank")
    page.locator(".audit-filters button").click()
    page.wait_for_url(lambda url: "action=project%3Arelease%3Ayank" in url)
    assert page.locator("table.audit tbody tr").count() == 1
    page.goto(site.url + "/admin/audit")
    shot(page, site, "audit")
    context.close()


def test_hostile_descriptions_are_inert(site: Site, browser: Browser) -> None:
    # With the CSP bypassed, so that only the sanitizing is tested: nothing may run even then.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for name in ("hostile-md", "hostile-rst", "raw-rst"):
        page.goto(f"{site.url}/project/{name}/")
        page.wait_for_load_state("load")
        page.wait_for_timeout(100)
        found = page.evaluate(
            """() => {
                const all = [...document.querySelectorAll('*')];
                return {
                    scripts: document.querySelectorAll('script, iframe, svg, object, embed').length,
                    handlers: all.filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
                    jsLinks: [...document.querySelectorAll('[href], [src]')].filter(e =>
                        /^\\s*javascript:/i.test(e.getAttribute('href') || e.getAttribute('src') || '')
                    ).length,
                    readme: document.querySelector('.readme') !== null,
                };
            }"""
        )
        assert found == {"scripts": 0, "handlers": 0, "jsLinks": 0, "readme": True}, (name, found)
        links = page.locator(".readme a").all()
        for link in links:  # a sanitized link has no target at all: clicking it stays put
            href = link.get_attribute("href")
            assert href is None or not href.strip().lower().startswith("javascript:")
        if name == "hostile-md":
            page.locator(".readme a", has_text="click me").click()
            assert page.url.endswith("/project/hostile-md/")
        shot(page, site, name)
    assert dialogs == []
    context.close()


def test_phone_viewport_has_no_horizontal_scroll(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    for name, path in (
        ("home", "/"),
        ("search", "/search?q=web"),
        ("projects", "/projects/"),
        ("project", "/project/web-demo/"),
        ("version", "/project/web-demo/1.0/"),
        ("hostile-rst", "/project/hostile-rst/"),
    ):
        page.goto(site.url + path)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, width)
        shot(page, site, f"phone-{name}")
    context.close()


def test_works_without_javascript(site: Site, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url + "/")
    page.fill("#home-q", "hostile")
    page.press("#home-q", "Enter")
    page.wait_for_url(lambda url: url.endswith("/search?q=hostile"))
    page.locator(".project-card__name", has_text="hostile-rst").click()
    page.wait_for_url(lambda url: url.endswith("/project/hostile-rst/"))
    assert page.locator("#project-title").inner_text().startswith("hostile-rst")
    page.locator(".toc a", has_text="Release history").click()
    assert page.url.endswith("/project/hostile-rst/#history")
    context.close()


def test_dark_theme_follows_the_system(site: Site, browser: Browser) -> None:
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url + "/project/web-demo/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 20, 26)"
    shot(page, site, "dark-project")
    page.goto(site.url + "/")
    shot(page, site, "dark-home")
    context.close()
