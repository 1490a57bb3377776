"""One call to every endpoint of the API over a real store (the demo company, cases
synced and incidents detected): what tests/test_openapi.py checks the documented
response models against. Writes go in an order that works: a case is started, assigned,
resolved and followed up; a grant, an approval asked for and decided; a brief action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

Call = tuple[str, str]  # (method, the path as the OpenAPI spec names it)


def every_call(client: TestClient, keys: dict[str, str]) -> dict[Call, Any]:
    """The JSON of one successful call per endpoint, keyed by (METHOD, path template)."""
    seen: dict[Call, Any] = {}

    def call(method: str, template: str, role: str = "admin", **kw: Any) -> Any:
        path = template.format(**kw.pop("at", {}))
        response = client.request(
            method, path, headers={"Authorization": f"Bearer {keys[role]}"}, **kw
        )
        assert response.status_code in (200, 201), (method, path, response.text)
        seen[(method, template.split("?")[0])] = response.json()
        return response.json()

    seen[("GET", "/health")] = client.get("/health").json()
    for step in (_data, _cases, _journeys, _outcomes, _insight):
        step(call)
    return seen


def _data(call: Callable[..., Any]) -> None:
    v1 = "/api/v1"
    bad = {"event_id": "api-bad-1", "customer_id": "C1", "event_type": "x", "ts": "nope"}
    call("POST", f"{v1}/events", json={"events": [bad]})
    call("GET", f"{v1}/ingests")
    call("GET", f"{v1}/quarantine?all=true")
    promised = call("GET", f"{v1}/promises?state=broken&limit=1")["items"][0]["customer_id"]
    at = {"customer_id": promised}
    call("GET", v1 + "/customers/{customer_id}/timeline", at=at)
    call("GET", v1 + "/customers/{customer_id}/promises", at=at)
    call("GET", v1 + "/customers/{customer_id}/baselines", at=at)
    call("GET", f"{v1}/promises/report?by=rule")
    call("GET", f"{v1}/ledger")
    call("POST", f"{v1}/ledger/build")


def _cases(call: Callable[..., Any]) -> None:
    v1 = "/api/v1"
    call("POST", f"{v1}/cases/sync")
    call("GET", f"{v1}/cases/metrics")
    opened = call("GET", f"{v1}/cases?state=open&limit=2")["items"]
    at = {"case_id": opened[0]["case_id"]}
    call("GET", v1 + "/cases/{case_id}/recommendation", at=at)
    call("POST", v1 + "/cases/{case_id}/start", "agent", at=at)
    call("POST", v1 + "/cases/{case_id}/assign", "lead", at=at, json={"owner": "agent-1"})
    call("POST", v1 + "/cases/{case_id}/grants", "agent", at=at, json={"remedy": "apology"})
    asked = call(
        "POST",
        v1 + "/cases/{case_id}/approvals",
        "agent",
        at=at,
        json={"remedy": "credit", "amount": 500},
    )
    call(
        "POST",
        v1 + "/approvals/{approval_id}/decision",
        at={"approval_id": asked["approval_id"]},
        json={"approve": True, "note": "ok"},
    )
    call("GET", f"{v1}/approvals")
    call("POST", v1 + "/cases/{case_id}/resolve", "agent", at=at, json={"note": "done"})
    call("POST", v1 + "/cases/{case_id}/follow-up", "agent", at=at, json={"note": "called"})
    call("GET", v1 + "/cases/{case_id}", at=at)
    call("GET", f"{v1}/cases")
    call("GET", f"{v1}/audit")
    call("GET", f"{v1}/policy", "agent")
    call("GET", f"{v1}/me")


def _insight(call: Callable[..., Any]) -> None:
    v1 = "/api/v1"
    for what in ("scores?by=month", "topics", "emerging", "drivers", "compare"):
        call("GET", f"{v1}/voice/{what}")
    found = call("POST", f"{v1}/incidents/detect")
    call("GET", f"{v1}/incidents")
    at = {"incident_id": found[0]["incident_id"]}
    call("GET", v1 + "/incidents/{incident_id}", at=at)
    call("GET", v1 + "/incidents/{incident_id}/cohort", at=at)
    call("GET", v1 + "/incidents/{incident_id}/notices", at=at)
    call("POST", v1 + "/incidents/{incident_id}/send", "lead", at=at, json={"limit": 2})
    call("GET", f"{v1}/outreach")
    one = call("GET", f"{v1}/brief")["one_thing"]
    call("POST", f"{v1}/brief/actions", "lead", json={"key": one["key"], "note": "told them"})
    call("GET", f"{v1}/brief/actions")
    call("GET", f"{v1}/brief")  # again: with the action and its effect


def _journeys(call: Callable[..., Any]) -> None:
    v1 = "/api/v1"
    stages = call("GET", f"{v1}/journeys/map")
    call("GET", f"{v1}/journeys/tanks?significant_only=false")
    reached = call("GET", f"{v1}/journeys/customers?stage={stages[0]['stage']}")
    call("GET", f"{v1}/journeys/path?customer_id={reached[0]['customer_id']}")
    steps = ["order_placed", "order_delivered", "review"]
    query = "&".join(f"step={s}" for s in steps)
    call("GET", f"{v1}/funnel?{query}")
    call("GET", f"{v1}/funnel/dropped?{query}&dropped=3")
    call("GET", f"{v1}/funnel/next?{query}&dropped=3")
    call("GET", f"{v1}/paths?after=order_delivered")
    call("GET", f"{v1}/paths/customers?after=order_delivered&rank=1")
    call("GET", f"{v1}/effort?by=channel")
    call("GET", f"{v1}/effort/issues?flag=repeat")
    call("GET", f"{v1}/effort/customers?flag=repeat")


def _outcomes(call: Callable[..., Any]) -> None:
    v1 = "/api/v1/outcomes"
    call("GET", f"{v1}/retention")
    call("GET", f"{v1}/retention/customers?periods_after=1")
    call("GET", f"{v1}/repeat")
    cycle = call("GET", f"{v1}/lifecycle")["rows"]
    call("GET", f"{v1}/lifecycle/customers?at={cycle[1]['period']}&state=returning")
    call("GET", f"{v1}/promise-value")
    call("GET", f"{v1}/promise-value/customers")
    call("POST", f"{v1}/health", "lead")
    call("GET", f"{v1}/health")
    call("GET", f"{v1}/health/customers")
    call("GET", f"{v1}/health/distribution")
    call("GET", f"{v1}/remedies?kind=delivery")
    call("GET", f"{v1}/remedies/qini?kind=delivery&remedy=credit")
    call("GET", f"{v1}/remedies/customers?kind=delivery&remedy=credit&group=control")
