"""The dashboard: server-rendered pages over the real app and a copy of the demo company,
the SVG charts on their own, and one run in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

import cxloop
from cxloop.api import charts, create_app
from cxloop.api.deps import COOKIE
from cxloop.api.pages import safe_next
from cxloop.services.access.permissions import create_key, sign_in
from cxloop.services.recovery.policy import load_policy
from cxloop.store.brief import BriefActions
from cxloop.workspace.workspace import Workspace

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
CHART = '<svg class="chart"'
ROLES = ("viewer", "agent", "lead")


@dataclass
class Site:
    client: TestClient
    home: Path
    keys: dict[str, str]  # role -> plain key
    case_id: str
    customer_id: str  # has a case and orders whose attributes carry an e-mail address
    sessions: dict[str, str]  # role -> a signed-in session's cookie

    def get(self, path: str, role: str | None = "agent", **kw: Any) -> Any:
        self.client.cookies.clear()
        if role is not None:
            self.client.cookies.set(COOKIE, self.sessions[role])
        return self.client.get(path, **kw)


@pytest.fixture(scope="module")
def store(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("dashboard") / "store"
    shutil.copytree(demo_store, home)
    with cxloop.open(home) as cx:
        cx.sync_cases()
        cx.detect_incidents()
    ws = Workspace.open(home)
    try:  # something done about a brief item earlier, so the brief shows then and now
        item: dict[str, Any] = {"key": "cases:overdue:logistics", "kind": "cases past their SLA"}
        item |= {"title": "logistics cases past SLA", "customers": 60, "revenue": 1.0}
        BriefActions(ws.state).record(
            item | {"reach": 1.0, "control": 1.0},
            "Extra <b>shift</b> on overdue",
            "ana",
            "2026-11-01",
        )
    finally:
        ws.close()
    return home


@pytest.fixture(scope="module")
def keys(store: Path) -> dict[str, str]:
    ws = Workspace.open(store)
    try:
        policy = load_policy(None)
        return {r: create_key(ws, f"{r}-dash", r, policy)[0] for r in ROLES}
    finally:
        ws.close()


@pytest.fixture(scope="module")
def site(store: Path, keys: dict[str, str]) -> Iterator[Site]:
    from cxloop.store.cases import CaseStore

    ws = Workspace.open(store)
    try:
        first = CaseStore(ws.state).cases()[0]
        sessions = {}
        for role, key in keys.items():
            opened = sign_in(ws, key, 1.0)
            assert opened is not None
            sessions[role] = opened[0]
    finally:
        ws.close()
    with TestClient(create_app(home=store)) as client:
        yield Site(client, store, keys, first["case_id"], first["customer_id"], sessions)


def html_of(response: Any, status: int = 200) -> str:
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    text: str = response.text
    return text


# ---------------------------------------------------------------- signing in
def test_a_page_without_a_key_sends_you_to_sign_in(site: Site) -> None:
    r = site.get("/cases?state=open", role=None, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fcases%3Fstate%3Dopen"
    site.client.cookies.set(COOKIE, "cxk_nope_nope")
    r = site.client.get("/brief", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fbrief"
    form = html_of(site.get("/login?next=/brief", role=None))
    assert 'name="key"' in form and 'value="/brief"' in form and "<script" not in form


def login_token(site: Site) -> str:
    """Open the sign-in form as a browser does: its CSRF token (also set as a cookie)."""
    form = html_of(site.client.get("/login?next=/cases"))
    found = re.search(r'name="csrf" value="([^"]+)"', form)
    assert found is not None
    return found.group(1)


def sign_in_as(site: Site, role: str, **extra: str) -> Any:
    site.client.cookies.clear()
    token = login_token(site)
    return site.client.post(
        "/login",
        data={"key": site.keys[role], "next": "/cases", "csrf": token} | extra,
        follow_redirects=False,
    )


def test_sign_in_opens_a_server_side_session_in_a_strict_http_only_cookie(site: Site) -> None:
    site.client.cookies.clear()
    token = login_token(site)
    bad = site.client.post("/login", data={"key": "cxk_wrong_key", "next": "/cases", "csrf": token})
    assert "unknown or revoked" in html_of(bad, 401)
    assert COOKIE not in bad.headers.get("set-cookie", "")
    good = sign_in_as(site, "agent")
    assert good.status_code == 303 and good.headers["location"] == "/cases"
    cookie = next(c for c in good.headers.get_list("set-cookie") if c.startswith(COOKIE))
    # the cookie holds a session token, never the API key, and it expires
    assert site.keys["agent"] not in cookie and "cxk_" not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Max-Age=" in cookie
    # the cookie now opens the pages
    assert "<h1>Cases</h1>" in html_of(site.client.get("/cases"))
    # another host is never a target after signing in
    away = sign_in_as(site, "agent", next="//evil.example/x")
    assert away.headers["location"] == "/"


def test_sign_in_needs_the_forms_csrf_token_and_this_origin(site: Site) -> None:
    site.client.cookies.clear()
    token = login_token(site)
    data = {"key": site.keys["agent"], "next": "/"}
    assert "expired or came from another site" in html_of(
        site.client.post("/login", data=data | {"csrf": "forged"}), 403
    )
    assert "expired or came from another site" in html_of(
        site.client.post(
            "/login", data=data | {"csrf": token}, headers={"Origin": "https://evil.example"}
        ),
        403,
    )
    site.client.cookies.clear()  # a token without its cookie (another browser) is refused
    html_of(site.client.post("/login", data=data | {"csrf": token}), 403)


def test_logout_ends_the_session_on_the_server(site: Site) -> None:
    sign_in_as(site, "agent")
    session = site.client.cookies.get(COOKIE)
    assert session
    page = html_of(site.client.get("/cases"))
    csrf = re.search(r'action="/logout"><input type="hidden" name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    # by GET it is not a logout, and without the token it is refused
    assert site.client.get("/logout").status_code == 405
    html_of(site.client.post("/logout", data={"csrf": "forged"}), 403)
    out = site.client.post("/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    # a copy of the old cookie opens nothing: the session ended on the server
    site.client.cookies.set(COOKIE, session)
    assert site.client.get("/cases", follow_redirects=False).status_code == 303
    r = site.client.get("/api/v1/me")
    assert r.status_code == 401 and "sign in again" in r.text


def test_a_session_ends_with_its_key_and_with_its_time(site: Site) -> None:
    from cxloop.store.keys import ApiKeys
    from cxloop.store.sessions import Sessions

    ws = Workspace.open(site.home)
    try:
        token, _ = create_key(ws, "short-lived", "agent", load_policy(None))
        opened = sign_in(ws, token, 1.0)
        assert opened is not None
        cookie = opened[0]
        gone, _ = Sessions(ws.state).open(opened[2].key_id, -1.0)  # already expired
    finally:
        ws.close()
    site.client.cookies.clear()
    site.client.cookies.set(COOKIE, gone)
    assert site.client.get("/cases", follow_redirects=False).status_code == 303
    site.client.cookies.set(COOKIE, cookie)
    assert site.client.get("/cases").status_code == 200
    ws = Workspace.open(site.home)
    try:
        ApiKeys(ws.state).revoke(opened[2].key_id)
    finally:
        ws.close()
    assert site.client.get("/cases", follow_redirects=False).status_code == 303


def test_the_api_takes_the_session_only_from_this_site(site: Site) -> None:
    site.client.cookies.clear()
    site.client.cookies.set(COOKIE, site.sessions["agent"])
    assert site.client.get("/api/v1/me").json()["role"] == "agent"
    for other in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        r = site.client.get("/api/v1/me", headers=other)
        assert r.status_code == 403 and "another site" in r.json()["error"]["message"]
    # a change through the cookie needs the session's CSRF token
    r = site.client.post(f"/api/v1/cases/{site.case_id}/start")
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/cases?state=open", "/cases?state=open"),
        ("/", "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_only_local_paths_are_followed(target: str, expected: str) -> None:
    assert safe_next(target) == expected


# ---------------------------------------------------------------- the pages
def test_overview_answers_with_charts(site: Site) -> None:
    page = html_of(site.get("/"))
    for heading in (
        "Promises kept, by month due",
        "Broken promises by department",
        "NPS by month",
        "What customers write about",
        "Cohort alerts: systemic failures",
        "The one thing to do today",
    ):
        assert heading in page, heading
    assert page.count(CHART) >= 4
    assert 'href="/brief#item-inc-' in page  # each alert leads to its customers
    assert "<script" not in page
    r = site.get("/")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    css = site.get("/static/style.css", role=None)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_brief_page_has_the_three_answers_and_links(site: Site) -> None:
    page = html_of(site.get("/brief"))
    for heading in (
        "1. What customers are saying",
        "2. What employees are saying",
        "The one thing to do today",
        "3. What to do, ranked",
        "Actions taken, then and now",
    ):
        assert heading in page, heading
    assert page.count(CHART) >= 5
    assert "Extra &lt;b&gt;shift&lt;/b&gt; on overdue" in page  # an action, escaped
    then_now = page[page.index("Extra &lt;b&gt;") :].split("</tr>")[0]
    assert ">60<" in then_now and re.search(r">\d+ \(-\d+\)<", then_now), then_now
    customers = re.findall(r'href="/customers/(CU-\d+)"', page)
    cases = re.findall(r'href="/cases/(CS-\d+)"', page)
    assert customers and cases
    first = page.index('id="item-')  # each candidate is an anchor the ranked chart links to
    assert re.search(r'<a href="#item-[\w-]+">', page) and first > 0


def test_case_queue_says_what_you_may_grant(site: Site) -> None:
    agent = html_of(site.get("/cases"))
    assert agent.count('href="/cases/CS-') == 25  # a page of 25
    assert "you may grant:" in agent and 'class="grant"' in agent
    assert "page 1 of" in agent and 'rel="next"' in agent
    viewer = html_of(site.get("/cases", role="viewer"))
    assert viewer.count('href="/cases/CS-') == 25
    assert "you may grant:" not in viewer and "—" in viewer
    # filters and paging
    billing = html_of(site.get("/cases?department=billing&state=open"))
    rows = re.findall(r"<tr>\s*<td class=\"nw\"><a href=\"/cases/", billing)
    assert rows and all("logistics</td>" not in r for r in rows)
    assert 'value="billing" selected' in billing
    nothing = html_of(site.get("/cases?state=no_such_state"))
    assert "No cases" in nothing
    bad = site.get("/cases?page=0")
    assert "Bad request" in html_of(bad, 422)


def test_case_page(site: Site) -> None:
    page = html_of(site.get(f"/cases/{site.case_id}"))
    for heading in ("The case", "Recommended remedy", "Signals", "Audit trail"):
        assert heading in page, heading
    assert f'href="/customers/{site.customer_id}"' in page
    viewer = html_of(site.get(f"/cases/{site.case_id}", role="viewer"))
    assert "Viewers grant nothing" in viewer and 'class="grant"' not in viewer
    missing = html_of(site.get("/cases/CS-999999"), 404)
    assert "Not found" in missing and "CS-999999" in missing


def test_customer_timeline_masks_personal_data_for_viewers(site: Site) -> None:
    agent = html_of(site.get(f"/customers/{site.customer_id}"))
    for heading in ("Across departments", "Promises", "Timeline", "Cases"):
        assert heading in agent, heading
    assert agent.count(CHART) == 1
    assert "order placed" in agent and "logistics" in agent and "billing" in agent
    assert EMAIL.search(agent), "an agent sees the customer's e-mail address"
    viewer = html_of(site.get(f"/customers/{site.customer_id}", role="viewer"))
    assert not EMAIL.search(viewer), EMAIL.findall(viewer)[:3]
    assert "•••" in viewer and "personal data masked" in viewer
    jump = site.get(f"/customers?q={site.customer_id}", follow_redirects=False)
    assert jump.status_code == 303 and jump.headers["location"] == f"/customers/{site.customer_id}"
    listing = html_of(site.get("/customers"))
    assert "most broken promises" in listing and 'href="/customers/CU-' in listing


def test_unknown_customer_is_a_404_page(site: Site) -> None:
    page = html_of(site.get("/customers/CU-NOBODY%3Cb%3E"), 404)
    assert "<h1>Not found</h1>" in page and "Traceback" not in page
    assert "CU-NOBODY&lt;b&gt;" in page and "CU-NOBODY<b>" not in page


def test_cached_pages_are_fast(site: Site) -> None:
    site.get("/")
    site.get("/cases")
    start = time.perf_counter()
    for path in ("/", "/brief", "/cases"):
        html_of(site.get(path))
    assert time.perf_counter() - start < 3.0


# ---------------------------------------------------------------- the charts alone
def test_charts_are_well_formed_escaped_svg() -> None:
    evil = '<script>alert("x")</script> & co'
    made = [
        charts.line_chart(
            [
                charts.Point(evil, 1.0, 0.5, 1.5, evil),
                charts.Point("b", None),
                charts.Point("c", 2),
            ],
            label=evil,
            reference=0.0,
        ),
        charts.bar_chart([(evil, 3.0), ("b", 0.0)], label=evil),
        charts.hbar_chart([charts.Bar(evil, 2.0, evil, href="/x?a=1&b=2")], label=evil),
        charts.interval_chart(
            [charts.Interval(evil, 10.0, 5.0, 15.0, -100, 100, reference=3.0, note=evil)],
            label=evil,
        ),
        charts.lane_chart(
            [
                charts.Mark(datetime(2026, 1, 1), evil, evil),
                charts.Mark(datetime(2026, 2, 1), "b", evil, warn=True),
            ],
            label=evil,
        ),
        charts.line_chart([], label="empty"),
        charts.hbar_chart([], label="empty"),
    ]
    for svg in made:
        assert svg.startswith('<svg class="chart" role="img" aria-label="')
        assert "<script" not in svg and "e+" not in svg
        root = ElementTree.fromstring(svg)  # well-formed XML
        assert root.get("viewBox") and root.get("aria-label")


def test_nice_ticks_and_formats() -> None:
    assert charts.nice_ticks(0, 329) == [0, 100, 200, 300, 400]
    assert charts.nice_ticks(0.9, 1.0)[0] <= 0.9 and charts.nice_ticks(0.9, 1.0)[-1] >= 1.0
    assert charts.percent(0.975) == "97.5%" and charts.percent(0.5) == "50%"
    assert charts.plain(1234.0) == "1,234" and charts.plain(12.34) == "12.3"
    assert charts.plain(float("nan")) == "–"


# ---------------------------------------------------------------- a real browser
def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows of an 8-bit RGB(A) PNG (Chromium's screenshots)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, head = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            head = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", head[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    bpp = 4 if color == 6 else 3
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                near = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + near) & 0xFF
        rows.append(bytes(line))
        prev = line
    pixels = [row[i : i + 3] for row in rows for i in range(0, stride, bpp)]
    return width, height, pixels


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(store: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    code = (
        "import sys, uvicorn\n"
        "from cxloop.api import create_app\n"
        "uvicorn.run(create_app(home=sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]),"
        " log_level='warning')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(store), str(port)], stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
def test_brief_renders_its_charts_in_chromium(
    server: str, keys: dict[str, str], tmp_path: Path
) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not on PATH (.ci/run installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    args = [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(60_000)
            page.goto(server + "/brief")
            assert "/login?next=%2Fbrief" in page.url
            page.fill("#key", keys["viewer"])
            page.click("button[type=submit]")
            page.wait_for_url(server + "/brief")
            assert page.locator("h1").inner_text() == "Daily brief"
            shown = page.locator("svg.chart")
            assert shown.count() >= 5
            for i in range(shown.count()):
                box = shown.nth(i).bounding_box()
                assert shown.nth(i).is_visible() and box is not None
                assert box["width"] > 150 and box["height"] > 30, box
                assert box["x"] >= 0 and box["x"] + box["width"] <= 1366, box
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 1366 + 2, f"the page scrolls sideways ({wide}px)"
            page.screenshot(path=str(tmp_path / "brief.png"), full_page=True)
            assert (tmp_path / "brief.png").stat().st_size > 10_000
            width, height, pixels = png_pixels(shown.first.screenshot())
            assert width > 150 and height > 30
            background = max(set(pixels), key=pixels.count)
            inked = sum(px != background for px in pixels) / len(pixels)
            assert len(set(pixels)) > 8 and inked > 0.02, (len(set(pixels)), inked)
            # the chart's bars are drawn in the chart's colours
            accent = bytes.fromhex(charts.ACCENT[1:])
            assert any(px == accent for px in pixels)
        finally:
            browser.close()


# ---------------------------------------------------------------- remedies (issue 19)
@pytest.fixture(scope="module")
def remedies_site(
    remedies_store: tuple[Path, dict[str, float]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("remedies-site") / "store"
    shutil.copytree(remedies_store[0] / "store", home)
    ws = Workspace.open(home)
    try:
        keys = {r: create_key(ws, f"{r}-rem", r, load_policy(None))[0] for r in ("viewer", "agent")}
        sessions = {}
        for role, key in keys.items():
            opened = sign_in(ws, key, 1.0)
            assert opened is not None
            sessions[role] = opened[0]
    finally:
        ws.close()
    with TestClient(create_app(home=home)) as client:
        yield client, keys, sessions, home


def test_remedies_api_and_page(
    remedies_site: tuple[TestClient, dict[str, str], dict[str, str], Path],
) -> None:
    client, keys, sessions, home = remedies_site
    auth = {"Authorization": f"Bearer {keys['agent']}"}
    got = client.get("/api/v1/outcomes/remedies?kind=delivery&horizon=90", headers=auth)
    assert got.status_code == 200, got.text
    body = got.json()
    credit = next(r for r in body["rows"] if r["remedy"] == "credit" and r["band"] == "0-25")
    assert credit["low"] > 0 and credit["policy_limit"] == "agent"
    with cxloop.open(home) as cx:  # the library's figure is the API's
        mine = cx.remedies_uplift(90, "delivery")
    row = mine[(mine.remedy == "credit") & (mine.band == "0-25")].iloc[0]
    assert credit["uplift"] == pytest.approx(row.uplift)
    behind = client.get(
        "/api/v1/outcomes/remedies/customers?kind=delivery&remedy=credit&band=0-25&limit=1000",
        headers=auth,
    ).json()
    assert behind["total"] == credit["n_treated"]
    assert sum(c["retained"] for c in behind["items"]) / behind["total"] == pytest.approx(
        credit["rate_treated"]
    )
    q = client.get("/api/v1/outcomes/remedies/qini?kind=delivery&remedy=credit", headers=auth)
    assert q.status_code == 200 and q.json()["share"][-1] == 1.0
    bad = client.get("/api/v1/outcomes/remedies?horizon=45", headers=auth)
    assert bad.status_code == 400 and "horizon 45" in bad.text
    client.cookies.set(COOKIE, sessions["viewer"])
    page = html_of(client.get("/outcomes/remedies?kind=delivery&remedy=credit&band=0-25"))
    assert page.count(CHART) == 2 and "What it means for the empowerment policy" in page
    assert not EMAIL.search(page)  # nothing personal on the page
    client.cookies.set(COOKIE, sessions["agent"])
    page = html_of(client.get("/outcomes/remedies?kind=delivery&remedy=credit&band=0-25"))
    assert page.count('href="/customers/CU-') == credit["n_treated"]
    client.cookies.clear()


@pytest.mark.slow
def test_remedies_page_renders_in_chromium(
    remedies_site: tuple[TestClient, dict[str, str], dict[str, str], Path], tmp_path: Path
) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not on PATH (.ci/run installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    _, keys, _, home = remedies_site
    port = free_port()
    code = (
        "import sys, uvicorn\nfrom cxloop.api import create_app\n"
        "uvicorn.run(create_app(home=sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]),"
        " log_level='warning')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(home), str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        args = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run"]
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=args)
            try:
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                page.set_default_timeout(60_000)
                page.goto(base + "/outcomes/remedies?kind=delivery")
                page.fill("#key", keys["agent"])
                page.click("button[type=submit]")
                page.wait_for_url("**/outcomes/remedies?kind=delivery")
                assert page.locator("h1").inner_text() == "Which remedies won customers back"
                shown = page.locator("svg.chart")
                assert shown.count() == 2
                for i in range(2):
                    box = shown.nth(i).bounding_box()
                    assert box is not None and box["width"] > 150 and box["height"] > 30, box
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= 1366 + 2, f"the page scrolls sideways ({wide}px)"
                _, _, pixels = png_pixels(shown.first.screenshot())
                accent = bytes.fromhex(charts.ACCENT[1:])
                assert any(px == accent for px in pixels)  # the uplift dots are drawn
                page.click("a[href*='remedy=credit'][href*='band=0-25']")
                page.wait_for_selector("#h-behind")
                assert page.locator("#h-behind ~ div a[href^='/customers/']").count() > 0
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---------------------------------------------------------------- outcomes: churn risk (issue 19)
def test_churn_risk_page_before_any_scoring(site: Site) -> None:
    page = html_of(site.get("/outcomes/health", role="viewer"))
    assert "No health scoring yet" in page and "cxloop outcomes health" in page
    assert 'href="/outcomes/health" aria-current="page"' in page


@pytest.mark.slow
def test_churn_risk_page_in_chromium(
    server: str, store: Path, keys: dict[str, str], tmp_path: Path
) -> None:
    from datetime import timedelta

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not on PATH (.ci/run installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with cxloop.open(store) as cx:
        h = cx.health(timedelta(days=45))
    calls = h.rows[h.rows["risk"] >= 0.5]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(60_000)
            page.goto(server + "/outcomes/health")
            page.fill("#key", keys["viewer"])
            page.click("button[type=submit]")
            page.wait_for_url(server + "/outcomes/health")
            assert page.locator("h1").inner_text() == "Churn risk"
            shown = page.locator("svg.chart")
            assert shown.count() == 2
            for i in range(2):
                box = shown.nth(i).bounding_box()
                assert shown.nth(i).is_visible() and box is not None and box["width"] > 150
            # ten bands, their customers adding up to everyone scored
            bars = page.locator("svg.chart").first.locator("rect title")
            assert bars.count() == 10
            titles = bars.evaluate_all("els => els.map(e => e.textContent)")
            counts = [float(t.split(": ")[1].replace(",", "")) for t in titles]
            assert sum(counts) == len(h.rows)
            text = page.locator("main").inner_text()
            assert f"{h.summary['revenue_at_risk']:,.2f}" in text
            rows = page.locator("#h-calls ~ div table tbody tr")
            assert rows.count() == min(len(calls), 50)
            if len(calls):
                assert calls["customer_id"].iloc[0] in rows.first.inner_text()
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 1366 + 2, f"the page scrolls sideways ({wide}px)"
        finally:
            browser.close()
