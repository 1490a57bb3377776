"""The REST API over the real app and a real store (a copy of the demo company)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import cxloop
from cxloop.api import create_app
from cxloop.services.access.permissions import create_key
from cxloop.services.recovery.policy import load_policy
from cxloop.settings import Settings
from cxloop.store.cases import CaseStore
from cxloop.store.keys import ApiKeys
from cxloop.store.state import StateDB
from cxloop.workspace.workspace import Workspace
from tests.test_notify import SmtpServer, smtp  # noqa: F401 - the fixture


@dataclass
class Api:
    client: TestClient
    home: Path
    keys: dict[str, str]  # role -> plain key

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def get(self, path: str, role: str = "agent", **kw: Any) -> Any:
        return self.client.get(path, headers=self.h(role), **kw)

    def post(self, path: str, role: str = "agent", **kw: Any) -> Any:
        return self.client.post(path, headers=self.h(role), **kw)


def make_keys(home: Path) -> dict[str, str]:
    ws = Workspace.open(home)
    try:
        policy = load_policy(None)
        return {
            r: create_key(ws, f"{r}-1", r, policy)[0] for r in ("viewer", "agent", "lead", "admin")
        }
    finally:
        ws.close()


@pytest.fixture(scope="module")
def api(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("api") / "store"
    shutil.copytree(demo_store, home)
    with cxloop.open(home) as cx:
        cx.sync_cases()
        cx.detect_incidents()
    keys = make_keys(home)
    with TestClient(create_app(home=home)) as client:
        yield Api(client, home, keys)


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


def test_every_request_needs_a_live_key(api: Api) -> None:
    assert api.client.get("/health").json()["status"] == "ok"
    error_of(api.client.get("/api/v1/me"), 401, "unauthorized")
    error_of(
        api.client.get("/api/v1/me", headers={"X-API-Key": "cxk_nope_nope"}), 401, "unauthorized"
    )
    ok = api.client.get("/api/v1/me", headers={"X-API-Key": api.keys["lead"]}).json()
    assert ok["role"] == "lead" and ok["grant_as"] == "lead" and "decide_approvals" in ok["may"]
    # a revoked key stops working at once
    ws = Workspace.open(api.home)
    try:
        token, row = create_key(ws, "leaver", "agent", load_policy(None))
        assert api.client.get("/api/v1/me", headers={"X-API-Key": token}).status_code == 200
        ApiKeys(ws.state).revoke(row["key_id"])
    finally:
        ws.close()
    error_of(api.client.get("/api/v1/me", headers={"X-API-Key": token}), 401, "unauthorized")
    # only a digest is at rest
    secret = token.split("_")[2]
    assert secret.encode() not in (api.home / "state.sqlite").read_bytes()


def test_roles_are_enforced_on_the_server(api: Api) -> None:
    case_id = api.get("/api/v1/cases?state=open&limit=1").json()["items"][0]["case_id"]
    err = error_of(api.post(f"/api/v1/cases/{case_id}/start", "viewer"), 403, "forbidden")
    assert "work cases needs role agent" in err["message"]
    error_of(api.post("/api/v1/events", "lead", json={"events": [{}]}), 403, "forbidden")
    error_of(api.post("/api/v1/ledger/build", "agent"), 403, "forbidden")
    error_of(api.post("/api/v1/incidents/detect", "agent"), 403, "forbidden")
    started = api.post(f"/api/v1/cases/{case_id}/start", "agent").json()
    assert started["state"] == "in_progress" and started["owner"] == "agent-1"
    audit = api.get(f"/api/v1/cases/{case_id}").json()["audit"]
    assert audit[-1]["actor"] == "agent-1" and audit[-1]["role"] == "agent"


def test_empowerment_policy_holds_whatever_the_client_sends(api: Api) -> None:
    case_id = api.get("/api/v1/cases?state=open&limit=1&offset=3").json()["items"][0]["case_id"]
    advice = api.get(f"/api/v1/cases/{case_id}/recommendation").json()
    assert advice["judged_for"]["grant_as"] == "agent" and advice["lines"]
    viewer_advice = api.get(f"/api/v1/cases/{case_id}/recommendation", "viewer").json()
    assert not any(line["allowed"] for line in viewer_advice["lines"])
    ok = api.post(f"/api/v1/cases/{case_id}/grants", json={"remedy": "apology"})
    assert ok.status_code == 201 and ok.json()["allowed"] is True
    # over the agent's limit: refused, whatever role the body claims
    body = {"remedy": "credit", "amount": 500, "role": "director", "grant_as": "director"}
    err = error_of(api.post(f"/api/v1/cases/{case_id}/grants", json=body), 403, "policy_denied")
    assert "needs approval from manager" in err["message"]
    asked = api.post(f"/api/v1/cases/{case_id}/approvals", json={"remedy": "credit", "amount": 500})
    assert asked.status_code == 201, asked.text
    approval = asked.json()
    assert approval["needs_role"] == "manager" and approval["requested_by"] == "agent-1"
    pending = api.get("/api/v1/approvals?pending=true").json()["items"]
    assert approval["approval_id"] in [a["approval_id"] for a in pending]
    decision = f"/api/v1/approvals/{approval['approval_id']}/decision"
    error_of(api.post(decision, "agent", json={"approve": True}), 403, "forbidden")
    error_of(api.post(decision, "lead", json={"approve": True}), 403, "policy_denied")
    done = api.post(decision, "admin", json={"approve": True, "note": "long-standing customer"})
    assert done.status_code == 200 and done.json()["decision"] == "approved"
    assert done.json()["decided_role"] == "director"
    error_of(api.post(decision, "admin", json={"approve": False}), 409, "conflict")


def test_batch_ingest_is_idempotent_and_reports_bad_rows(api: Api) -> None:
    events = [
        {
            "event_id": f"api-test-{i}",
            "customer_id": "CU-API-1",
            "event_type": "order_placed",
            "ts": f"2026-11-0{i + 1}T10:00:00Z",
            "ref": f"O-API-{i}",
            "amount": 10 + i,
            "due_at": f"2026-11-1{i + 1}T10:00:00Z",
            "attrs": {"email": "someone@example.org", "region": "north"},
        }
        for i in range(3)
    ]
    bad = {"event_id": "api-test-bad", "customer_id": "CU-API-1", "event_type": "order_placed"}
    first = api.post("/api/v1/events", "admin", json={"events": [*events, bad]})
    assert first.status_code == 200, first.text
    out = first.json()
    assert (out["rows_read"], out["events_new"], out["rows_quarantined"]) == (4, 3, 1)
    assert out["problems"][0]["row"] == 4 and out["problems"][0]["field"] == "ts"
    assert (api.home / "inbox" / out["file"]).exists()  # nothing lost: the batch is kept
    again = api.post("/api/v1/events", "admin", json={"events": events}).json()
    assert (again["events_new"], again["events_duplicate"]) == (0, 3)
    changed = [{**events[0], "amount": 99}]
    conflict = api.post("/api/v1/events", "admin", json={"events": changed}).json()
    assert conflict["rows_quarantined"] == 1 and conflict["problems"][0]["field"] == "event_id"
    timeline = api.get("/api/v1/customers/CU-API-1/timeline").json()
    assert timeline["total"] == 3 and timeline["items"][0]["attrs"]["region"] == "north"
    promises = api.get("/api/v1/customers/CU-API-1/promises").json()
    assert promises["total"] == 3  # the ledger was rebuilt for the new events
    quarantined = api.get(f"/api/v1/quarantine?file={api.home / 'inbox' / out['file']}").json()
    assert quarantined["total"] == 1 and quarantined["items"][0]["row"] == 4
    error_of(api.post("/api/v1/events", "admin", json={"events": []}), 422, "invalid_request")


def test_viewers_see_no_personal_data(api: Api) -> None:
    customer = api.get("/api/v1/cases?limit=1").json()["items"][0]["customer_id"]
    agent = api.get(f"/api/v1/customers/{customer}/timeline").text
    viewer = api.get(f"/api/v1/customers/{customer}/timeline", "viewer").text
    assert "@customers.northwind.example" in agent
    assert "@" not in viewer and "•••" in viewer
    incident = api.get("/api/v1/incidents?limit=1", "viewer").json()["items"][0]["incident_id"]
    notices = api.get(f"/api/v1/incidents/{incident}/notices", "viewer").json()["items"]
    assert notices and all(n["address"] == "•••" for n in notices)
    assert "@customers" in api.get(f"/api/v1/incidents/{incident}/notices").text


def test_lists_are_paged(api: Api) -> None:
    first = api.get("/api/v1/promises?state=broken&limit=50").json()
    total, seen, offset = first["total"], [], 0
    assert total > 100 and first["next_offset"] == 50
    while offset is not None:
        page = api.get(f"/api/v1/promises?state=broken&limit=200&offset={offset}").json()
        assert all(p["state"] == "broken" for p in page["items"])
        seen += [p["promise_id"] for p in page["items"]]
        offset = page["next_offset"]
    assert len(seen) == len(set(seen)) == total
    last = api.get(f"/api/v1/promises?state=broken&limit=10&offset={total}").json()
    assert last["items"] == [] and last["next_offset"] is None
    error_of(api.get("/api/v1/promises?limit=0"), 422, "invalid_request")
    error_of(api.get("/api/v1/promises?limit=abc"), 422, "invalid_request")


def test_errors_have_one_shape(api: Api) -> None:
    error_of(api.get("/api/v1/cases/CS-999999"), 404, "not_found")
    error_of(api.get("/api/v1/customers/nobody/timeline"), 404, "not_found")
    error_of(api.get("/api/v1/incidents/nope"), 404, "not_found")
    error_of(api.get("/api/v1/nothing-here"), 404, "not_found")
    error_of(api.client.delete("/api/v1/cases", headers=api.h("admin")), 405, "method_not_allowed")
    err = error_of(
        api.post("/api/v1/cases/CS-000001/grants", json={"remedy": "gold bars"}),
        422,
        "invalid_request",
    )
    assert err["details"][0]["field"] == "body.remedy"
    bad = api.client.post(
        "/api/v1/cases/CS-000001/grants",
        headers={**api.h("agent"), "Content-Type": "application/json"},
        content=b"{not json",
    )
    error_of(bad, 422, "invalid_request")
    err = error_of(api.get("/api/v1/promises/report?by=colour"), 422, "invalid_request")
    assert "colour" in err["message"]
    error_of(api.get("/api/v1/voice/scores?by=colour"), 422, "invalid_request")


def test_openapi_describes_auth_errors_and_paging(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
    ops = [(p, m, o) for p, item in spec["paths"].items() for m, o in item.items()]
    assert len(ops) >= 35
    for path, _method, op in ops:
        if path.startswith("/api/v1"):
            assert "401" in op["responses"] and op.get("security"), path
    paged = spec["paths"]["/api/v1/promises"]["get"]
    assert {"limit", "offset"} <= {p["name"] for p in paged["parameters"]}
    assert "ErrorBody" in spec["components"]["schemas"]


def test_docs_page_needs_nothing_from_outside(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    spec = api.client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in page.text.replace("&#39;", "'"), path
    assert "<script" not in page.text and "cdn" not in page.text.lower()
    assert "JSON body: <code>EventBatch</code>" in page.text
    assert api.client.get("/redoc").status_code == 404


def test_voice_and_brief(api: Api) -> None:
    enps = api.get("/api/v1/voice/scores?voice=employee&by=month").json()
    assert enps and {r["metric"] for r in enps} <= {"enps", "pulse"}
    topics = api.get("/api/v1/voice/topics").json()
    assert len(topics) >= 6 and all(t["label"] for t in topics)
    b = api.get("/api/v1/brief", "viewer").json()
    assert {"customers", "employees", "one_thing", "candidates", "actions"} <= set(b)
    one = b["one_thing"]
    assert one["customers"] > 0 and one["customer_ids"]
    error_of(
        api.post("/api/v1/brief/actions", "agent", json={"key": one["key"], "note": "x"}),
        403,
        "forbidden",
    )
    error_of(
        api.post("/api/v1/brief/actions", "lead", json={"key": "nope", "note": "x"}),
        404,
        "not_found",
    )
    acted = api.post("/api/v1/brief/actions", "lead", json={"key": one["key"], "note": "told them"})
    assert acted.status_code == 201 and acted.json()["actor"] == "lead-1"
    after = api.get("/api/v1/brief").json()  # the cache was refreshed by the write
    assert [a["item_key"] for a in after["actions"]] == [one["key"]]
    listed = api.get("/api/v1/brief/actions").json()
    assert listed["total"] == 1


def test_outreach_goes_out_through_real_smtp(
    demo_store: Path,
    tmp_path: Path,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    home = tmp_path / "store"
    shutil.copytree(demo_store, home)
    keys = make_keys(home)
    settings = Settings.from_env({}, home=home, smtp_port=str(smtp.port))
    with TestClient(create_app(settings)) as client:
        lead = {"Authorization": f"Bearer {keys['lead']}"}
        found = client.post("/api/v1/incidents/detect", headers=lead).json()
        assert found, "the demo company has systemic failures"
        incident = found[0]["incident_id"]
        cohort = client.get(f"/api/v1/incidents/{incident}/cohort?limit=5", headers=lead).json()
        assert cohort["total"] >= 5 and len(cohort["items"]) == 5
        sent = client.post(
            f"/api/v1/incidents/{incident}/send", headers=lead, json={"limit": 3}
        ).json()
        assert sent["sent"] == 3 and len(smtp.mailbox.messages) == 3
        again = client.post(f"/api/v1/incidents/{incident}/send", headers=lead, json={"limit": 3})
        assert again.json()["skipped_already_sent"] >= 3
        status = client.get(f"/api/v1/outreach?incident_id={incident}", headers=lead).json()
        assert sum(r["status"] == "sent" for r in status["items"]) == 6
        assert json.dumps(status).count("@") > 0


def test_a_zero_score_is_a_score(api: Api) -> None:
    """An NPS answer of 0 is the worst one, not a missing one (it used to be dropped from
    the stored signal, and the recommendation for its case failed)."""
    store = CaseStore(StateDB(api.home / "state.sqlite"))
    zero = [
        c["case_id"]
        for c in store.cases()
        if any(s["facts"].get("score") == 0 for s in store.signals(c["case_id"]))
    ]
    assert zero, "the demo company has NPS answers of 0"
    advice = api.get(f"/api/v1/cases/{zero[0]}/recommendation")
    assert advice.status_code == 200 and "score 0" in advice.json()["reason"], advice.text
