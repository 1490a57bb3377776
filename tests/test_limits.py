"""The empowerment policy over sequences of requests: running totals per case and customer,
refunds never past what was paid, four eyes, closed and others' cases, concurrent decisions
(issue 16 items 1-3). Runs on a small real store: 4 customers with 2 late orders each."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import cxloop
from cxloop.domain.limits import Totals
from cxloop.domain.policy import GrantRequest, decide, policy_from_dict
from cxloop.domain.remedies import Remedy
from cxloop.errors import ConfigError, ConflictError, PolicyError
from cxloop.services.access.permissions import create_key
from cxloop.services.recovery.cases import Actor
from cxloop.services.recovery.limits import same_person
from cxloop.services.recovery.policy import load_policy
from cxloop.workspace.workspace import Workspace
from tests.test_notify import free_port
from tests.test_serve import wait_up

ORDER = 52.99
POLICY = """
version = "t-limits"
currency = "USD"
roles = ["agent", "lead", "manager", "director"]
per = ["case", "customer"]
period_days = 30

[cases]
others = "lead"
closed = "manager"

[[grants]]
remedy = "apology"
role = "agent"

[[grants]]
remedy = "credit"
role = "agent"
max_amount = 25

[[grants]]
remedy = "credit"
role = "lead"
max_amount = 200

[[grants]]
remedy = "credit"
role = "manager"
max_amount = 1000
per = "case"

[[grants]]
remedy = "refund"
role = "agent"
max_amount = 30
max_order_share = 1.0

[[grants]]
remedy = "refund"
role = "director"
max_amount = "unlimited"

[[grants]]
remedy = "keep_item"
role = "lead"
max_amount = 150
max_order_share = 1.0
"""
ALICE, ALAN = Actor("alice", "agent"), Actor("alan", "agent")
BOB, BEA, CAROL = Actor("bob", "lead"), Actor("bea", "lead"), Actor("carol", "manager")
DIRECTOR = Actor("dora", "director")


def tiny_events(folder: Path, customers: int = 4) -> Path:
    """Two orders per customer, each delivered four days after its promised date."""
    rows = []
    for c in range(customers):
        for o in range(2):
            ref = f"O-{c}-{o}"
            placed = {"customer_id": f"C{c}", "ref": ref, "amount": ORDER}
            rows.append(
                placed
                | {
                    "event_id": f"p-{ref}",
                    "event_type": "order_placed",
                    "ts": f"2026-11-0{1 + o}T09:00:00Z",
                    "due_at": f"2026-11-0{3 + o}T09:00:00Z",
                }
            )
            rows.append(
                {
                    "event_id": f"d-{ref}",
                    "customer_id": f"C{c}",
                    "event_type": "order_delivered",
                    "ts": f"2026-11-0{7 + o}T09:00:00Z",
                    "ref": ref,
                }
            )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("limits")
    (root / "policy.toml").write_text(POLICY)
    with cxloop.open(root / "store") as cx:
        cx.ingest(tiny_events(root / "data"))
        cx.build_ledger()
        cx.sync_cases()
    return root


@pytest.fixture
def cx(tiny_store: Path, tmp_path: Path) -> Iterator[cxloop.Cxloop]:
    shutil.copytree(tiny_store / "store", tmp_path / "store")
    with cxloop.open(tmp_path / "store", policy=tiny_store / "policy.toml") as handle:
        yield handle


def cases_of(cx: cxloop.Cxloop, customer: str) -> list[str]:
    return [c["case_id"] for c in cx.cases(customer_id=customer)]


def test_split_grants_cannot_pass_the_limit_per_case_or_customer(cx: cxloop.Cxloop) -> None:
    one, other = cases_of(cx, "C0")
    outcomes = []
    for _ in range(8):
        try:
            cx.grant(one, "credit", 10, ALICE)
            outcomes.append("granted")
        except PolicyError as exc:
            outcomes.append(str(exc))
    assert outcomes[:2] == ["granted", "granted"]
    assert "20.00 already granted or waiting on this case, 5.00 left" in outcomes[2]
    assert "needs approval from lead" in outcomes[2]
    with pytest.raises(PolicyError, match="another person owns only lead and above may grant"):
        cx.grant(one, "credit", 5, ALAN)  # alice owns the case now
    cx.grant(one, "credit", 5, BOB)  # a lead adds to the same case total
    with pytest.raises(
        PolicyError, match=re.escape("25.00 already granted or waiting to this customer")
    ):
        cx.grant(other, "credit", 1, ALICE)  # the customer's other case: the customer total
    grants = [a for a in cx.audit(one) if a["action"] == "grant"]
    assert sum(a["amount"] for a in grants) == 25
    assert [a["detail"]["totals"]["case"] for a in grants] == [0, 10, 20]
    assert grants[-1]["detail"]["totals"]["customer"] == {"30 days": 20}
    assert [a["detail"]["remaining"] for a in grants] == [25, 15, 180]


def test_pending_requests_count_so_a_request_cannot_be_split_around_the_limit(
    cx: cxloop.Cxloop,
) -> None:
    case_id = cases_of(cx, "C1")[0]
    approval = cx.request_approval(case_id, "credit", 180, ALICE)
    assert approval["needs_role"] == "lead"
    with pytest.raises(
        PolicyError, match=re.escape("180.00 already granted or waiting on this case")
    ):
        cx.grant(case_id, "credit", 10, ALICE)
    second = cx.request_approval(case_id, "credit", 30, ALICE)
    assert second["needs_role"] == "manager"  # 180 waiting + 30 is past the lead's 200
    cx.decide_approval(approval["approval_id"], BOB, True)
    with pytest.raises(PolicyError, match="bob \\(lead\\) cannot approve"):
        cx.decide_approval(second["approval_id"], BOB, True)
    done = cx.decide_approval(second["approval_id"], CAROL, True)
    assert done["decision"] == "approved"
    first, second = [a for a in cx.audit(case_id) if a["action"] == "approve"]
    assert first["detail"]["totals"]["case"] == 0  # requests queue: the later one not counted
    assert second["detail"]["totals"]["case"] == 180


def test_refunds_never_exceed_what_was_paid_whatever_the_role(cx: cxloop.Cxloop) -> None:
    case_id = cases_of(cx, "C2")[0]
    cx.grant(case_id, "refund", 30, ALICE)
    for actor in (ALICE, DIRECTOR):
        with pytest.raises(
            PolicyError, match=re.escape("refunds never exceed what was paid: 52.99 paid")
        ):
            cx.grant(case_id, "refund", 30, actor)
    with pytest.raises(PolicyError, match="no role may grant it"):
        cx.request_approval(case_id, "refund", 30, ALICE)
    with pytest.raises(PolicyError, match=re.escape("at most 22.99 more")):
        cx.grant(case_id, "keep_item", 23, BOB)  # refund-like: the same cap
    cx.grant(case_id, "refund", 22.99, DIRECTOR)
    ev = cx.events()
    back = ev.filter((ev.event_type == "refund_requested") & (ev.customer_id == "C2"))
    assert float(back.amount.sum().execute()) == pytest.approx(ORDER)


def test_four_eyes_compares_people_not_keys(cx: cxloop.Cxloop) -> None:
    case_id = cases_of(cx, "C3")[0]
    approval = cx.request_approval(case_id, "credit", 100, Actor("Bob", "agent"))
    for me in (Actor("bob", "lead"), Actor("  BOB ", "director")):
        with pytest.raises(PolicyError, match="four eyes: Bob asked for approval"):
            cx.decide_approval(approval["approval_id"], me, True)
    assert cx.decide_approval(approval["approval_id"], BEA, True)["decided_by"] == "bea"
    with pytest.raises(ConflictError, match="already approved by bea"):
        cx.decide_approval(approval["approval_id"], BOB, False)
    assert same_person("Ève Dupont", "ÈVE  dupont") and not same_person("eve", "eva")


def test_closed_and_others_cases_follow_the_declared_rules(cx: cxloop.Cxloop) -> None:
    mine, closing = cases_of(cx, "C0")
    cx.start_case(mine, ALICE)
    with pytest.raises(PolicyError, match="another person owns only lead and above"):
        cx.grant(mine, "apology", 0, ALAN)
    cx.grant(mine, "apology", 0, ALICE)
    cx.grant(mine, "apology", 0, BOB)  # the declared rule: a lead may
    cx.resolve_case(closing, ALICE, "fixed")
    with pytest.raises(PolicyError, match="on a closed case only manager and above"):
        cx.grant(closing, "credit", 5, BOB)
    asked = cx.request_approval(closing, "credit", 5, BOB)
    assert asked["needs_role"] == "manager"
    cx.decide_approval(asked["approval_id"], CAROL, True)


def test_an_agent_cannot_take_another_agents_case_to_grant_on_it(cx: cxloop.Cxloop) -> None:
    mine = cases_of(cx, "C2")[0]
    cx.start_case(mine, ALICE)
    for take in (
        lambda: cx.assign_case(mine, ALAN, ALAN.name, None),
        lambda: cx.start_case(mine, ALAN, ALAN.name),
    ):
        with pytest.raises(PolicyError, match="owned by alice: only lead and above may give it"):
            take()
    assert cx.case(mine)["case"]["owner"] == ALICE.name
    with pytest.raises(PolicyError, match="another person owns"):
        cx.grant(mine, "apology", 0, ALAN)
    cx.assign_case(mine, ALICE, ALAN.name, None)  # the owner may hand it over
    cx.grant(mine, "apology", 0, ALAN)
    cx.assign_case(mine, BOB, ALICE.name, None)  # and a lead may reassign it


def test_a_case_with_a_remedy_waiting_for_approval_is_not_resolved(cx: cxloop.Cxloop) -> None:
    case_id = cases_of(cx, "C1")[1]
    approval = cx.request_approval(case_id, "credit", 60, ALICE)
    with pytest.raises(PolicyError, match=r"credit of 60 is still waiting for approval \d+"):
        cx.resolve_case(case_id, ALICE, "done")
    assert cx.case(case_id)["case"]["state"] != "resolved"
    cx.decide_approval(approval["approval_id"], BOB, False)
    assert cx.resolve_case(case_id, ALICE, "done")["state"] == "resolved"


def test_the_policy_format_for_totals_and_case_rules() -> None:
    policy = load_policy(None)
    assert policy.cases.as_dict() == {"others": "lead", "closed": "lead"}
    doc = policy.as_dict()
    credit = next(g for g in doc["grants"] if g["remedy"] == "credit")
    assert (credit["per"], credit["period_days"]) == (["case", "customer"], 30)
    base = {"version": "x", "currency": "EUR", "roles": ["a", "b"]}
    line = {"remedy": "credit", "role": "a", "max_amount": 10}
    one = policy_from_dict(base | {"grants": [line | {"per": "request"}]})
    seen = Totals(case=10, customer={None: 10})
    assert decide(one, GrantRequest(Remedy.CREDIT, "a", 10, totals=seen)).allowed
    ever = policy_from_dict(base | {"grants": [line]})
    assert not decide(ever, GrantRequest(Remedy.CREDIT, "a", 1, totals=seen)).allowed
    for bad, message in (
        ({"per": ["case", "week"]}, "grants[0].per: unknown scope 'week'"),
        ({"period_days": 0}, "grants[0].period_days: expected a whole number of days >= 1"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            policy_from_dict(base | {"grants": [line | bad]})
    with pytest.raises(ConfigError, match=re.escape("cases.closed: unknown role 'boss'")):
        policy_from_dict(base | {"grants": [line], "cases": {"closed": "boss"}})


def test_concurrent_decisions_one_wins_the_rest_get_409(tiny_store: Path, tmp_path: Path) -> None:
    home = tmp_path / "store"
    shutil.copytree(tiny_store / "store", home)
    ws = Workspace.open(home)
    try:
        policy = load_policy(None)
        agent = create_key(ws, "alice", "agent", policy)[0]
        leads = [create_key(ws, f"lead-{i}", "lead", policy)[0] for i in range(8)]
        own_lead = create_key(ws, "alice", "lead", policy)[0]  # the same person, a second key
    finally:
        ws.close()
    port = free_port()
    env = {**os.environ, "CXLOOP_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cxloop", "serve", "--port", str(port)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/health", proc)
        case_id = "CS-000001"
        asked = httpx.post(
            f"{base}/api/v1/cases/{case_id}/approvals",
            headers={"Authorization": f"Bearer {agent}"},
            json={"remedy": "credit", "amount": 150},
            timeout=60,
        )
        assert asked.status_code == 201, asked.text
        url = f"{base}/api/v1/approvals/{asked.json()['approval_id']}/decision"
        mine = httpx.post(
            url, headers={"Authorization": f"Bearer {own_lead}"}, json={"approve": True}
        )
        assert mine.status_code == 403 and "four eyes" in mine.json()["error"]["message"]
        statuses: list[int] = []
        start = threading.Barrier(len(leads))

        def decide_as(key: str) -> None:
            with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
                start.wait()
                statuses.append(c.post(url, json={"approve": True}).status_code)

        threads = [threading.Thread(target=decide_as, args=(k,)) for k in leads]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(statuses) == [200] + [409] * 7, statuses
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    with cxloop.open(home) as cx:
        ev = cx.events()
        credits = ev.filter(ev.event_type == "credit_issued").execute()
        assert list(credits.amount) == [150]
        assert [a["action"] for a in cx.audit(case_id)].count("approve") == 1
