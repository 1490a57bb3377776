"""The REST API as an attacker probed it: exact money, strict amounts, control characters
in ids and names, the key checked before the body is read, look-alike key names and four
eyes. Over the real app and a small real store (tests/test_limits.py's: 4 customers with
two late orders each, cases synced), with the default empowerment policy."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.api import create_app
from cxloop.api.keygate import REQUIRES
from cxloop.errors import ConfigError
from cxloop.services.access.permissions import create_key
from cxloop.services.recovery.policy import load_policy
from cxloop.settings import Settings
from cxloop.store.cases import CaseStore
from cxloop.workspace.workspace import Workspace
from tests.test_limits import tiny_store  # noqa: F401 - the module's store fixture

ROLES = ("viewer", "agent", "agent2", "lead", "lead2")


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    home: Path

    def post(self, path: str, role: str | None, **kw: Any) -> Any:
        headers = {"X-API-Key": self.keys[role]} if role else {}
        return self.client.post(path, headers=headers, **kw)

    def audit_amounts(self, case_id: str) -> list[float]:
        ws = Workspace.open(self.home)
        try:
            with ws.state.connect() as con:
                got = con.execute(
                    "SELECT amount FROM audit WHERE case_id = ? AND action = 'grant'", (case_id,)
                ).fetchall()
        finally:
            ws.close()
        return [float(r[0]) for r in got if r[0] is not None]


@pytest.fixture(scope="module")
def api(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:  # noqa: F811
    home = tmp_path_factory.mktemp("gate") / "store"
    shutil.copytree(tiny_store / "store", home)
    ws = Workspace.open(home)
    try:
        policy = load_policy(None)
        names = {"agent": "pagent", "agent2": "alan", "lead": "lena", "lead2": "leo"}
        keys = {r: create_key(ws, names.get(r, r), r.rstrip("2"), policy)[0] for r in ROLES}
    finally:
        ws.close()
    settings = Settings.from_env({}, home=str(home), max_body_mb="32")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Api(client, keys, home)


def _error(r: Any) -> str:
    return str(r.json()["error"]["message"])


# --- 1. money is exact, and whole cents -----------------------------------------------------


def test_a_grant_that_exactly_fills_what_is_left_is_allowed(api: Api) -> None:
    grants = "/api/v1/cases/CS-000001/grants"
    for amount in (0.01, 12.22):
        r = api.post(grants, "agent", json={"remedy": "credit", "amount": amount})
        assert r.status_code == 201, r.text
    limit = r.json()["limit"]  # the customer's line: 50 (high tier)
    rest = round(limit * 100 - 1_223) / 100  # 37.77; in floats 50 - 12.23 is 37.769999...
    r = api.post(grants, "agent", json={"remedy": "credit", "amount": rest})
    assert r.status_code == 201, r.text
    assert f"{rest:.2f} left" in r.json()["reason"] and r.json()["remaining"] == rest
    r = api.post(grants, "agent", json={"remedy": "credit", "amount": 0.01})
    assert r.status_code == 403 and "0.00 left" in _error(r), r.text
    assert sum(round(a * 100) for a in api.audit_amounts("CS-000001")) == round(limit * 100)


def test_sub_cent_amounts_are_refused_not_recorded(api: Api) -> None:
    before = api.audit_amounts("CS-000002")
    for amount in (0.001, 1.005, 24.999):
        r = api.post(
            "/api/v1/cases/CS-000002/grants", "agent", json={"remedy": "credit", "amount": amount}
        )
        assert r.status_code == 422, r.text
        assert "more decimals than USD's minor unit" in _error(r)
    assert api.audit_amounts("CS-000002") == before


# --- 2. amounts are JSON numbers ----------------------------------------------------------


@pytest.mark.parametrize("amount", [True, False, "1_0", "-0", "10", " 5 ", "NaN", -0.0, [5]])
def test_amounts_are_strict_json_numbers(api: Api, amount: Any) -> None:
    r = api.post(
        "/api/v1/cases/CS-000003/grants", "agent", json={"remedy": "credit", "amount": amount}
    )
    assert r.status_code == 422, (amount, r.text)
    assert r.json()["error"]["code"] == "invalid_request"
    assert "body.amount" in _error(r)


# --- 3. control characters in ids and names -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "role", "body"),
    [
        ("/api/v1/cases/CS-000004/assign", "agent", {"owner": "a\u0000b"}),
        ("/api/v1/cases/CS-000004/assign", "agent", {"owner": "pagent", "department": "\x1b[31m"}),
        ("/api/v1/brief/actions", "lead", {"key": "a\u0000", "note": "ok"}),
        ("/api/v1/brief/actions", "lead", {"key": "k", "note": "a\u0000b"}),
        ("/api/v1/cases/CS-000004/grants", "agent", {"remedy": "apology", "note": "x\u0000"}),
    ],
)
def test_control_characters_in_ids_and_names_are_refused(
    api: Api, path: str, role: str, body: dict[str, Any]
) -> None:
    r = api.post(path, role, json=body)
    assert r.status_code == 422, r.text
    assert "control character U+00" in _error(r)


def test_a_plain_owner_is_still_accepted(api: Api) -> None:
    r = api.post("/api/v1/cases/CS-000004/assign", "agent", json={"owner": "pagent"})
    assert r.status_code == 200, r.text


# --- 5. who is calling, before the body ----------------------------------------------------


def _raw_call(api: Api, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, int]:
    """Call the ASGI app with a 29 MiB body declared but never sent: (status, body, how
    often the app asked for the body). A server that reads the body first fails here."""
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        raise AssertionError("the server read the body of a request it should refuse")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    size = str(29 * 1024 * 1024).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/cases/CS-000005/grants",
        "raw_path": b"/api/v1/cases/CS-000005/grants",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", size), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(api.client.app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, reads


def test_no_key_is_refused_before_the_body_is_read(api: Api) -> None:
    for headers in (
        [],
        [(b"authorization", b"Bearer cxk_nothere_x")],
        [(b"x-api-key", b"garbage")],
        [(b"cookie", b"cxloop_session=forged")],
    ):
        status, body, reads = _raw_call(api, headers)
        assert (status, reads) == (401, 0), (headers, body)
    viewer = [(b"x-api-key", api.keys["viewer"].encode())]
    status, body, reads = _raw_call(api, viewer)  # the route alone says: grant needs agent
    assert (status, reads) == (403, 0) and b"grant needs role agent" in body


def test_every_write_route_is_gated_by_role_before_its_body(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()["paths"]
    writes = {
        (method.upper(), path)
        for path, ops in spec.items()
        if path.startswith("/api/")
        for method in ops
        if method not in ("get", "head", "parameters")
    }
    assert writes == set(REQUIRES), "a write route is missing from keygate.REQUIRES"
    for (_, path), action in REQUIRES.items():
        url = path.replace("{case_id}", "CS-000006").replace("{approval_id}", "1")
        url = url.replace("{incident_id}", "I-1")
        r = api.post(url, "viewer", content=b"{not json")
        assert r.status_code == 403, (url, r.text)
        assert _error(r).startswith(f"{action.replace('_', ' ')} needs role"), r.text
    r = api.post("/api/v1/outcomes/health", "viewer")
    assert "score health needs role lead" in _error(r)  # it said "detect incidents"


# --- 7. look-alike key names and four eyes ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("pagent\u200b", r"U\+200B"),  # zero-width space
        ("p\u202eagent", r"U\+202E"),  # right-to-left override
        ("pаgent", "looks like the name 'pagent'"),  # Cyrillic а
        ("PΑGENT", "looks like the name 'pagent'"),  # Greek capital alpha
    ],
)
def test_look_alike_key_names_are_refused(api: Api, name: str, why: str) -> None:
    ws = Workspace.open(api.home)
    try:
        with pytest.raises(ConfigError, match=why):
            create_key(ws, name, "lead", load_policy(None))
        create_key(ws, " PAgent ", "lead", load_policy(None))  # the same person: a second key
    finally:
        ws.close()


def test_four_eyes_compares_what_names_look_like(api: Api) -> None:
    asked = api.post(
        "/api/v1/cases/CS-000007/approvals", "agent", json={"remedy": "credit", "amount": 100}
    )
    assert asked.status_code == 201, asked.text
    approval = asked.json()["approval_id"]
    ws = Workspace.open(api.home)
    try:  # a key made before names were checked, under a look-alike name
        with ws.state.connect() as con:
            CaseStore(ws.state)  # the tables exist
        sneaky = create_key(ws, "sneaky", "lead", load_policy(None))[0]
        with ws.state.connect() as con:
            con.execute("UPDATE api_keys SET name = ? WHERE name = 'sneaky'", ("pаgent\u200b",))
    finally:
        ws.close()
    url = f"/api/v1/approvals/{approval}/decision"
    r = api.client.post(url, headers={"X-API-Key": sneaky}, json={"approve": True})
    assert r.status_code == 403 and "four eyes" in _error(r), r.text
    r = api.post(url, "lead", json={"approve": True})
    assert r.status_code == 200, r.text
