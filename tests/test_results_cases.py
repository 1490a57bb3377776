"""One definition per answer: the API declares the very types the library returns
(cxloop.results), and those types read like the dicts the library returned before."""

from __future__ import annotations

import typing

import pytest
from fastapi.routing import APIRoute

import cxloop
from cxloop.api import routes_cases, routes_data, routes_insight
from cxloop.client import Cxloop

# endpoint -> the Cxloop method whose result it answers with
SAME_TYPE = {
    ("GET", "/api/v1/cases/{case_id}"): "case",
    ("POST", "/api/v1/cases/sync"): "sync_cases",
    ("GET", "/api/v1/cases/metrics"): "case_metrics",
    ("GET", "/api/v1/cases/{case_id}/recommendation"): "advice_for",
    ("POST", "/api/v1/cases/{case_id}/start"): "start_case",
    ("POST", "/api/v1/cases/{case_id}/grants"): "grant",
    ("POST", "/api/v1/cases/{case_id}/approvals"): "request_approval",
    ("POST", "/api/v1/approvals/{approval_id}/decision"): "decide_approval",
    ("GET", "/api/v1/policy"): "policy_for",
    ("GET", "/api/v1/brief"): "brief",
    ("POST", "/api/v1/brief/actions"): "brief_act",
    ("GET", "/api/v1/ledger"): "ledger_status",
    ("POST", "/api/v1/ledger/build"): "build_ledger",
    ("GET", "/api/v1/customers/{customer_id}/baselines"): "customer_baselines",
    ("GET", "/api/v1/promises/report"): "promise_counts",
}
PAGED = {
    ("GET", "/api/v1/cases"): "cases",
    ("GET", "/api/v1/approvals"): "approvals",
    ("GET", "/api/v1/audit"): "audit",
    ("GET", "/api/v1/brief/actions"): "brief_actions",
    ("GET", "/api/v1/ingests"): "ingest_runs",
    ("GET", "/api/v1/quarantine"): "quarantined",
}


def _routes() -> dict[tuple[str, str], APIRoute]:
    found = {}
    for router in (routes_cases.router, routes_data.router, routes_insight.router):
        for r in router.routes:
            if isinstance(r, APIRoute):
                for method in r.methods:
                    found[(method, r.path)] = r
    return found


def _returns(method: str) -> object:
    """The return hint of ``Cxloop.<method>``, read with cxloop's public names (the library
    imports its hints' types only for type checkers: tests/test_public_api.py)."""
    exported = {n: getattr(cxloop, n) for n in cxloop.__all__}
    return typing.get_type_hints(getattr(Cxloop, method), localns=exported)["return"]


def test_each_endpoint_declares_the_type_its_library_method_returns() -> None:
    routes = _routes()
    for key, method in SAME_TYPE.items():
        returned = _returns(method)
        assert routes[key].response_model == returned, (key, method)
        (kind,) = typing.get_args(returned) or (returned,)
        assert getattr(cxloop, kind.__name__) is kind  # exported from cxloop
    for key, method in PAGED.items():
        (item,) = typing.get_args(_returns(method))
        page = routes[key].response_model
        assert page.model_fields["items"].annotation == list[item], (key, method)


def test_a_result_reads_like_the_dict_it_was_made_from() -> None:
    row = {
        "approval_id": 3,
        "case_id": "CS-000001",
        "remedy": "credit",
        "amount": 120.0,
        "requested_by": "alice",
        "requested_role": "agent",
        "needs_role": "lead",
        "requested_at": "2026-11-20T17:57:37",
        "policy_version": "2026-11-01",
        "note": None,
        "decision": None,
        "decided_by": None,
        "decided_role": None,
        "decided_at": None,
        "source": "api",  # a key the model does not document is kept, last
    }
    a = cxloop.Approval.model_validate(row)
    assert a.needs_role == "lead" and a["needs_role"] == "lead" and a["source"] == "api"
    assert "decision" in a and "nothing" not in a and a.get("nothing", 7) == 7
    assert a.as_dict() == row and list(a.as_dict()) == list(row)
    assert {**a} == row
    with pytest.raises(KeyError):
        a["nothing"]


def test_advice_seen_by_a_caller_who_may_not_grant() -> None:
    line = {"remedy": "credit", "amount": 24.0, "why": "10%", "allowed": True}
    advice = cxloop.Advice.model_validate(
        {
            "case_id": "CS-1",
            "customer_id": "CU-1",
            "subject": "O-1",
            "severity": "medium",
            "customer_tier": "standard",
            "reason": "late",
            "lines": [line | {"needs_role": None, "policy": "agent may grant"}],
            "policy_version": "v",
            "evidence": {},
        }
    )
    assert advice.seen_by("agent") is advice
    seen = advice.seen_by(None)
    assert [x.allowed for x in seen.lines] == [False] and advice.lines[0].allowed
    assert "judged_for" not in advice.as_dict()  # the library judges for a role, not a key
