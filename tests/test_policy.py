"""The empowerment policy: decisions, the policy file, and ``cxloop policy``."""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from cxloop.cli.policy import _entitlement_table, policy_app
from cxloop.domain.limits import REFUND_LIKE, Totals
from cxloop.domain.policy import (
    GRANT_KEYS,
    POLICY_KEYS,
    WHEN_KEYS,
    Grant,
    GrantRequest,
    Policy,
    can_grant_at_most,
    decide,
    entitlements,
    policy_from_dict,
)
from cxloop.domain.remedies import MONETARY, CustomerTier, Remedy, Severity
from cxloop.errors import ConfigError, PolicyError
from cxloop.services.recovery.policy import load_policy
from tests.conftest import REPO

# --- random policies and requests ------------------------------------------------------

ROLE_NAMES = ["agent", "lead", "manager", "director", "vp"]
KNOWN_REMEDIES = "apology, expedite, credit, refund, replacement, keep_item, callback"
#: amounts as the policy takes them: whole cents (USD), sent as floats
money = st.one_of(
    st.integers(0, 400).map(float),
    st.integers(0, 40_000).map(lambda c: c / 100),
    st.sampled_from([0.0, 25.0, 30.0, 8.99, 16.01]),
)


def cents_down(x: float) -> int:
    """Independent of cxloop.domain.money: a limit in whole cents, float noise below a
    millionth dropped, then rounded down."""
    return math.floor(round(x * 1_000_000) / 10_000)


def cents_up(x: float) -> int:
    return math.ceil(round(x * 1_000_000) / 10_000)


@st.composite
def grant_lines(draw: st.DrawFn, roles: list[str]) -> dict[str, Any]:
    remedy = draw(st.sampled_from(list(Remedy)))
    line: dict[str, Any] = {"remedy": remedy.value, "role": draw(st.sampled_from(roles))}
    if remedy in MONETARY:
        cap = draw(st.one_of(st.none(), st.just("unlimited"), money))
        share = draw(st.one_of(st.none(), st.sampled_from([0.5, 1.0]), st.floats(0, 2)))
        line["max_amount"] = "unlimited" if cap is None and share is None else cap
        if share is not None:
            line["max_order_share"] = share
        scopes = st.lists(st.sampled_from(["request", "case", "customer"]), min_size=1, unique=True)
        line["per"] = draw(st.one_of(st.none(), scopes))
        line["period_days"] = draw(st.sampled_from([None, 7, 30]))
        line = {k: v for k, v in line.items() if v is not None}
    when: dict[str, Any] = {}
    if draw(st.integers(0, 2)) == 0:
        tiers = st.lists(st.sampled_from([t.value for t in CustomerTier]), min_size=1, unique=True)
        when["customer_tier"] = draw(tiers)
    kind = draw(st.sampled_from(["any", "any", "set", "min"]))
    if kind == "set":
        levels = st.lists(st.sampled_from([s.value for s in Severity]), min_size=1, unique=True)
        when["severity"] = draw(levels)
    elif kind == "min":
        when["min_severity"] = draw(st.sampled_from([s.value for s in Severity]))
    return line | ({"when": when} if when else {})


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    roles = draw(st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=4, unique=True))
    grants = draw(st.lists(grant_lines(roles), min_size=1, max_size=8))
    return policy_from_dict({"version": "t1", "currency": "USD", "roles": roles, "grants": grants})


@st.composite
def cases(draw: st.DrawFn) -> tuple[Policy, GrantRequest]:
    policy = draw(policies())
    remedy = draw(st.sampled_from([g.remedy for g in policy.grants]) | st.sampled_from(Remedy))
    order = draw(st.one_of(st.none(), money))
    limits = [g.effective_limit(order) for g in policy.grants if g.remedy == remedy]
    edges = [x for x in limits if x is not None and math.isfinite(x)] or [0.0]
    amount = draw(st.one_of(money, st.sampled_from(edges))) if remedy in MONETARY else 0.0
    return policy, GrantRequest(
        remedy=remedy,
        role=draw(st.sampled_from(policy.roles)),
        amount=amount,
        order_amount=order,
        severity=draw(st.sampled_from([None, *Severity])),
        customer_tier=draw(st.sampled_from([None, *CustomerTier])),
        totals=draw(running_totals()),
    )


@st.composite
def running_totals(draw: st.DrawFn) -> Totals:
    """Nothing granted yet (half the time), or some running totals."""
    if draw(st.booleans()):
        return Totals()
    customer = {draw(st.sampled_from([None, 7, 30])): draw(money)}
    return Totals(draw(money), customer, draw(money))


def oracle_limits(policy: Policy, req: GrantRequest, role: str) -> dict[int, float]:
    """Straight from the grant fields: every line that applies to ``role`` and its limit."""
    rank = policy.roles.index(role)
    limits = {}
    for i, g in enumerate(policy.grants):
        if g.remedy != req.remedy or policy.roles.index(g.role) > rank:
            continue
        if g.when.customer_tier is not None and req.customer_tier not in g.when.customer_tier:
            continue
        if g.when.severity is not None and req.severity not in g.when.severity:
            continue
        caps = [] if g.max_amount is None else [g.max_amount]
        if g.max_order_share is not None:
            if req.order_amount is None:
                continue
            caps.append(g.max_order_share * req.order_amount)
        used = max(
            [0.0]
            + ([req.totals.case] if "case" in g.per else [])
            + ([req.totals.customer_total(g.period_days)] if "customer" in g.per else [])
        )
        if req.remedy in REFUND_LIKE and req.order_amount is not None:
            caps.append(req.order_amount - req.totals.order_refunded + used)  # never past paid
        cap = min(caps, default=math.inf)
        limits[i] = math.inf if math.isinf(cap) else cents_down(cap) - cents_up(used)
    return limits


def allowed_as(policy: Policy, req: GrantRequest, role: str) -> bool:
    return decide(policy, replace(req, role=role)).allowed


# --- properties --------------------------------------------------------------------------


@given(cases())
def test_grants_exactly_what_a_line_allows(case: tuple[Policy, GrantRequest]) -> None:
    policy, req = case
    decision = decide(policy, req)
    covering = {
        i
        for i, limit in oracle_limits(policy, req, req.role).items()
        if limit >= cents_up(req.amount)
    }
    assert decision.allowed == bool(covering)
    if decision.allowed:
        assert decision.grant_index in covering
    else:
        assert decision.grant_index is None


@given(cases(), st.floats(0, 1))
def test_monotonic_in_amount_and_role(case: tuple[Policy, GrantRequest], fraction: float) -> None:
    policy, req = case
    if not decide(policy, req).allowed:
        return
    if req.remedy in MONETARY:
        less = math.floor(req.amount * fraction * 100) / 100
        assert decide(policy, replace(req, amount=less)).allowed
    higher = policy.roles[policy.roles.index(req.role) :]
    assert all(allowed_as(policy, req, r) for r in higher)


@given(cases())
def test_needs_role_is_the_lowest_role_that_may(case: tuple[Policy, GrantRequest]) -> None:
    policy, req = case
    decision = decide(policy, req)
    able = [r for r in policy.roles if allowed_as(policy, req, r)]
    if decision.allowed:
        assert decision.needs_role is None
    elif not able:
        assert decision.needs_role is None
        assert "no role may grant" in decision.reason
    else:
        assert decision.needs_role == able[0]
        assert policy.roles.index(able[0]) > policy.roles.index(req.role)
        assert decision.reason.endswith(f"needs approval from {able[0]}")


@given(cases())
def test_deterministic_and_round_trips(case: tuple[Policy, GrantRequest]) -> None:
    policy, req = case
    assert decide(policy, req) == decide(policy, req)
    again = policy_from_dict(json.loads(json.dumps(policy.as_dict())))
    assert again == policy
    assert again.digest == policy.digest and re.fullmatch(r"[0-9a-f]{12}", policy.digest)


@given(cases())
def test_can_grant_at_most_agrees_with_decide(case: tuple[Policy, GrantRequest]) -> None:
    policy, req = case
    most = can_grant_at_most(
        policy, req.role, req.remedy, req.severity, req.customer_tier, req.order_amount, req.totals
    )
    if req.remedy not in MONETARY:
        assert (most is None) == decide(policy, req).allowed
        assert most in (None, 0.0)
        return
    if most is None:
        assert decide(policy, replace(req, amount=1e12)).allowed
        return
    assert not decide(policy, replace(req, amount=round(most + 0.01, 2))).allowed
    if most > 0:
        assert decide(policy, replace(req, amount=most)).allowed
    # in whole cents, as the policy compares (an edge drawn from a share can be 1e-181)
    assert decide(policy, req).allowed <= (cents_up(req.amount) <= cents_down(most))


@given(cases())
def test_entitlements_table_agrees_with_can_grant_at_most(
    case: tuple[Policy, GrantRequest],
) -> None:
    policy, req = case
    tier = req.customer_tier or CustomerTier.NEW
    (row,) = [
        e
        for e in entitlements(policy)
        if (e.role, e.remedy, e.customer_tier) == (req.role, req.remedy, tier)
    ]
    lines = [policy.grants[i] for i in row.grants]
    limits = [
        g.effective_limit(req.order_amount)
        for g in lines
        if g.when.severity is None or req.severity in g.when.severity
    ]
    best = max((x for x in limits if x is not None), default=None)
    if best is not None and req.remedy in REFUND_LIKE and req.order_amount is not None:
        best = min(best, req.order_amount)
    most = can_grant_at_most(policy, req.role, req.remedy, req.severity, tier, req.order_amount)
    if best is None:
        assert most == 0.0
    elif req.remedy in MONETARY and not math.isinf(best):
        assert most is not None and round(most * 100) == cents_down(best)
    else:
        assert most is None


# --- the default policy ------------------------------------------------------------------


@pytest.fixture(scope="module")
def default() -> Policy:
    return load_policy(None)


@pytest.mark.parametrize(
    ("request_", "allowed", "needs", "reason"),
    [
        (
            GrantRequest(Remedy.CREDIT, "agent", 40),
            False,
            "lead",
            "agent may grant credit up to 25.00 USD; 40.00 needs approval from lead",
        ),
        (
            GrantRequest(Remedy.CREDIT, "agent", 20),
            True,
            None,
            "agent may grant credit up to 25.00 USD; 20.00 needs no approval",
        ),
        (
            GrantRequest(Remedy.CREDIT, "agent", 45, customer_tier=CustomerTier.HIGH),
            True,
            None,
            "agent may grant credit up to 50.00 USD when customer tier is high; "
            "45.00 needs no approval",
        ),
        (
            GrantRequest(Remedy.CREDIT, "manager", 5000),
            False,
            "director",
            "manager may grant credit up to 1000.00 USD; 5000.00 needs approval from director",
        ),
        (
            GrantRequest(Remedy.REFUND, "agent", 25, order_amount=20),
            False,
            None,
            "agent may grant refund up to 20.00 USD (100% of the order amount 20.00); "
            "refunds never exceed what was paid: 20.00 paid for the order, 0.00 already "
            "refunded or waiting, so at most 20.00 more, not 25.00; no role may grant it",
        ),
        (
            GrantRequest(Remedy.REFUND, "agent", 40, order_amount=60),
            False,
            "lead",
            "agent may grant refund up to 30.00 USD; 40.00 needs approval from lead",
        ),
        (
            GrantRequest(Remedy.REFUND, "lead", 20),
            False,
            "director",
            "lead may grant refund only against an order amount, and none was given; "
            "20.00 needs approval from director",
        ),
        (
            GrantRequest(Remedy.REFUND, "director", 1e6),
            True,
            None,
            "director may grant refund without limit",
        ),
        (
            GrantRequest(Remedy.KEEP_ITEM, "agent", 10, order_amount=12, severity=Severity.LOW),
            False,
            "lead",
            "agent may grant keep_item only when severity is high or critical; "
            "10.00 needs approval from lead",
        ),
        (
            GrantRequest(Remedy.KEEP_ITEM, "agent", 10, order_amount=12, severity=Severity.HIGH),
            True,
            None,
            "agent may grant keep_item up to 12.00 USD (100% of the order amount 12.00) "
            "when severity is high or critical; 10.00 needs no approval",
        ),
        (GrantRequest(Remedy.EXPEDITE, "agent"), True, None, "agent may grant expedite"),
    ],
)
def test_default_policy_decisions(
    default: Policy, request_: GrantRequest, allowed: bool, needs: str | None, reason: str
) -> None:
    decision = decide(default, request_)
    assert (decision.allowed, decision.needs_role, decision.reason) == (allowed, needs, reason)
    assert decision.policy_version == "2026-11-01"


def test_decision_fields(default: Policy) -> None:
    d = decide(default, GrantRequest(Remedy.CREDIT, "lead", 150))
    assert (d.allowed, d.limit, d.policy_digest) == (True, 200.0, default.digest)
    assert default.grants[d.grant_index or 0] == Grant(Remedy.CREDIT, "lead", 200.0, period_days=30)
    assert can_grant_at_most(default, "agent", Remedy.REFUND, None, None, 12.5) == 12.5
    assert can_grant_at_most(default, "agent", Remedy.REFUND) == 0.0
    assert can_grant_at_most(default, "director", Remedy.REFUND) is None
    assert can_grant_at_most(default, "agent", Remedy.APOLOGY) is None


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            GrantRequest(Remedy.CREDIT, "boss", 5),
            "unknown role 'boss' (known: agent, lead, manager, director)",
        ),
        (GrantRequest(Remedy.CREDIT, "agent", -1), "amount: expected a number >= 0, got -1"),
        (
            GrantRequest(Remedy.CREDIT, "agent", math.nan),
            "amount: expected a number >= 0, got nan",
        ),
        (
            GrantRequest(Remedy.REFUND, "agent", 5, order_amount=-3.5),
            "order_amount: expected a number >= 0, got -3.5",
        ),
        (GrantRequest(Remedy.APOLOGY, "agent", 5), "apology carries no amount; got 5"),
        (
            GrantRequest("voucher", "agent", 5),  # type: ignore[arg-type]
            f"unknown remedy 'voucher' (known: {KNOWN_REMEDIES})",
        ),
    ],
)
def test_bad_requests(default: Policy, request_: GrantRequest, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        decide(default, request_)
    assert str(info.value) == message


# --- validation --------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "version": "v1",
    "currency": "USD",
    "roles": ["agent", "lead", "manager", "director"],
    "grants": [
        {"remedy": "apology", "role": "agent"},
        {"remedy": "credit", "role": "agent", "max_amount": 25},
        {"remedy": "refund", "role": "lead", "max_amount": 150, "max_order_share": 1.0},
        {"remedy": "credit", "role": "lead", "max_amount": 200},
    ],
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """BASE with one value set (``...`` deletes it); path like ``grants.1.when``."""
    doc = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "grants.3.max_amount",
            "x",
            "grants[3].max_amount: expected a number >= 0 or \"unlimited\", got 'x'",
        ),
        (
            "grants.1.max_amount",
            -1,
            'grants[1].max_amount: expected a number >= 0 or "unlimited", got -1',
        ),
        (
            "grants.2.max_order_share",
            True,
            "grants[2].max_order_share: expected a number >= 0, got True",
        ),
        (
            "grants.0.remedy",
            "voucher",
            f"grants[0].remedy: unknown remedy 'voucher' (known: {KNOWN_REMEDIES})",
        ),
        ("grants.0.remedy", ..., f"grants[0].remedy: missing; expected one of {KNOWN_REMEDIES}"),
        (
            "grants.2.role",
            "boss",
            "grants[2].role: unknown role 'boss' (known: agent, lead, manager, director)",
        ),
        (
            "grants.1.when",
            {"tier": ["high"]},
            "grants[1].when.tier: unknown key; expected one of customer_tier, severity, "
            "min_severity",
        ),
        (
            "grants.1.when",
            {"customer_tier": ["vip"]},
            "grants[1].when.customer_tier: unknown customer tier 'vip' "
            "(known: new, standard, high)",
        ),
        (
            "grants.1.when",
            {"customer_tier": []},
            "grants[1].when.customer_tier: expected a customer tier or a non-empty list of them, "
            "got []",
        ),
        (
            "grants.1.when",
            {"severity": ["high"], "min_severity": "high"},
            "grants[1].when.min_severity: give severity or min_severity, not both",
        ),
        (
            "grants.1.when",
            {"min_severity": "urgent"},
            "grants[1].when.min_severity: unknown severity 'urgent' "
            "(known: low, medium, high, critical)",
        ),
        (
            "grants.1.when",
            "high",
            "grants[1].when: expected a table such as { customer_tier = [\"high\"] }, got 'high'",
        ),
        (
            "grants.0.max_amount",
            5,
            "grants[0].max_amount: apology carries no amount; remove max_amount",
        ),
        (
            "grants.1.max_amount",
            ...,
            "grants[1].max_amount: missing; a credit grant needs max_amount (a number or "
            '"unlimited") and/or max_order_share',
        ),
        (
            "grants.1.limit",
            5,
            "grants[1].limit: unknown key; expected one of remedy, role, max_amount, "
            "max_order_share, when, note, per, period_days",
        ),
        ("grants.1", "credit", "grants[1]: expected a table, got 'credit'"),
        ("grants", [], "grants: expected a non-empty list of [[grants]] tables, got []"),
        ("roles", ["agent", "lead", "lead"], "roles: 'lead' is listed more than once"),
        ("roles", [], "roles: expected a non-empty list of role names, lowest first, got []"),
        (
            "verison",
            "v2",
            "verison: unknown key; expected one of version, currency, roles, grants, "
            "description, per, period_days, cases",
        ),
        ("version", ..., 'version: missing; expected a non-empty string such as "2026-11-01"'),
        (
            "currency",
            "dollars",
            "currency: expected a 3-letter currency code such as \"USD\", got 'dollars'",
        ),
    ],
)
def test_validation_errors_name_entry_and_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy_from_dict(_with(path, value))
    assert str(info.value) == message


def test_conditions_parse() -> None:
    policy = policy_from_dict(
        _with("grants.1.when", {"min_severity": "high", "customer_tier": "high"})
    )
    when = policy.grants[1].when
    assert when.severity == frozenset({Severity.HIGH, Severity.CRITICAL})
    assert when.customer_tier == frozenset({CustomerTier.HIGH})
    unquoted = policy_from_dict(_with("version", date(2026, 11, 1)))  # version = 2026-11-01
    assert unquoted.version == "2026-11-01"


def test_digest_follows_content_not_layout() -> None:
    one = policy_from_dict(BASE)
    reordered = policy_from_dict(dict(reversed(list(BASE.items()))))
    changed = policy_from_dict(_with("grants.1.max_amount", 26))
    assert one.digest == reordered.digest != changed.digest


# --- the file ------------------------------------------------------------------------------


def test_load_policy_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = (REPO / "src/cxloop/rules/policy.toml").read_text()
    Path("policy.toml").write_text(text.replace('role = "lead"', 'role = "boss"', 1))
    with pytest.raises(ConfigError) as info:
        load_policy(Path("policy.toml"))
    assert str(info.value) == (
        "policy.toml: grants[6].role: unknown role 'boss' (known: agent, lead, manager, director)"
    )
    Path("broken.toml").write_text("version = ")
    with pytest.raises(ConfigError, match=r"^broken\.toml: not valid TOML: "):
        load_policy(Path("broken.toml"))
    with pytest.raises(ConfigError, match=r"^missing\.toml: policy file not found$"):
        load_policy(Path("missing.toml"))
    Path("ok.toml").write_text(text)
    assert load_policy(Path("ok.toml")) == load_policy(None)


# --- the command line ---------------------------------------------------------------------

runner = CliRunner()


def test_cli_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default: Policy) -> None:
    ok = runner.invoke(policy_app, ["check"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == (
        f"built-in default policy: policy 2026-11-01 (digest {default.digest}): 17 grants "
        "for roles agent < lead < manager < director\n"
    )
    monkeypatch.chdir(tmp_path)
    Path("p.toml").write_text(_toml(_with("grants.2.role", "boss")))
    bad = runner.invoke(policy_app, ["check", "p.toml"])
    assert bad.exit_code == 1
    assert isinstance(bad.exception, ConfigError)
    assert str(bad.exception) == (
        "p.toml: grants[2].role: unknown role 'boss' (known: agent, lead, manager, director)"
    )


def _toml(doc: dict[str, Any]) -> str:
    """A tiny TOML writer for these documents (strings, numbers, lists, [[grants]])."""
    head = [f"{k} = {json.dumps(v)}" for k, v in doc.items() if k != "grants"]
    body = []
    for g in doc["grants"]:
        body += ["[[grants]]", *(f"{k} = {json.dumps(v)}" for k, v in g.items())]
    return "\n".join(head + body) + "\n"


def test_cli_show_json(default: Policy) -> None:
    result = runner.invoke(policy_app, ["show", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == len(default.roles) * len(Remedy) * len(CustomerTier)
    cell = {(r["role"], r["remedy"], r["customer_tier"]): r for r in rows}
    assert [g["max_amount"] for g in cell["agent", "credit", "high"]["grants"]] == [50.0]
    assert cell["agent", "credit", "new"]["grants"][0] == {
        "index": 4,
        "remedy": "credit",
        "role": "agent",
        "max_amount": 25.0,
        "per": ["case", "customer"],
        "period_days": 30,
    }
    assert cell["agent", "keep_item", "new"]["grants"][0]["when"] == {
        "severity": ["high", "critical"]
    }
    assert cell["lead", "refund", "new"]["may_grant"] is True


def test_cli_show_table() -> None:
    result = runner.invoke(policy_app, ["show"])
    assert result.exit_code == 0, result.output
    assert "what each role may grant without approval, in USD" in result.stdout
    assert re.search(r"credit\s+│ high\s+│ 50\s+│ 200\s+│ 1,000\s+│ no limit", result.stdout)


def test_cli_decide(default: Policy) -> None:
    args = ["decide", "--role", "agent", "--remedy", "credit", "--amount", "40"]
    result = runner.invoke(policy_app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "allowed": False,
        "role": "agent",
        "needs_role": "lead",
        "limit": 25.0,
        "grant_index": None,
        "reason": "agent may grant credit up to 25.00 USD; 40.00 needs approval from lead",
        "policy_version": "2026-11-01",
        "policy_digest": default.digest,
        "remaining": 25.0,
        "totals": {"case": 0.0, "customer": {}, "order_refunded": 0.0, "order_amount": None},
    }
    text = runner.invoke(policy_app, [*args, "--tier", "high", "--severity", "low"])
    assert text.stdout == (
        "allowed: agent may grant credit up to 50.00 USD when customer tier is high; "
        f"40.00 needs no approval\n(policy 2026-11-01, digest {default.digest}, grants[5])\n"
    )
    unknown = runner.invoke(policy_app, ["decide", "--role", "boss", "--remedy", "apology"])
    assert unknown.exit_code == 1 and isinstance(unknown.exception, PolicyError)


# --- docs ------------------------------------------------------------------------------------


def test_docs_list_every_key_and_the_default_table() -> None:
    doc = (REPO / "docs" / "policy.md").read_text()
    for key in (*POLICY_KEYS, *GRANT_KEYS, *WHEN_KEYS):
        assert f"`{key}`" in doc, key
    df = _entitlement_table(load_policy(None))
    for row in df.itertuples(index=False):
        line = "| " + " | ".join(str(v) for v in row) + " |"
        assert line in doc, line
    for command in ("check", "show", "decide"):
        assert f"`cxloop policy {command}" in doc, command


# --- money: whole cents, whatever the float sums say ---------------------------------------

SEQUENCE_POLICY = {
    "version": "seq",
    "currency": "USD",
    "roles": ["agent", "lead"],
    "grants": [{"remedy": "credit", "role": "agent", "max_amount": 25, "per": ["case"]}],
}


@given(st.lists(st.integers(1, 2_500).map(lambda c: c / 100), min_size=1, max_size=12))
def test_no_sequence_of_grants_passes_the_limit_and_the_exact_rest_is_allowed(
    amounts: list[float],
) -> None:
    """Grants of whole cents in any order: what was granted never passes the limit (in
    exact cents), and a request for exactly what is left is always allowed (8.99 after
    8.00 + 8.01, though 25 - 16.01 is 8.989999999999998 in floats)."""
    policy = policy_from_dict(SEQUENCE_POLICY)
    granted_cents, granted = 0, 0.0  # the store's SUM is a float sum
    for amount in amounts:
        d = decide(policy, GrantRequest(Remedy.CREDIT, "agent", amount, totals=Totals(granted)))
        assert d.remaining is not None and round(d.remaining * 100) == 2_500 - granted_cents
        assert d.allowed == (granted_cents + round(amount * 100) <= 2_500)
        if d.allowed:
            granted_cents += round(amount * 100)
            granted += amount
        assert granted_cents <= 2_500
    rest = (2_500 - granted_cents) / 100
    if rest > 0:
        last = decide(policy, GrantRequest(Remedy.CREDIT, "agent", rest, totals=Totals(granted)))
        assert last.allowed, last.reason
    over = decide(policy, GrantRequest(Remedy.CREDIT, "agent", rest + 0.01, totals=Totals(granted)))
    assert not over.allowed


def test_the_probe_sequence_8_00_8_01_then_8_99() -> None:
    policy = policy_from_dict(SEQUENCE_POLICY)
    d = decide(policy, GrantRequest(Remedy.CREDIT, "agent", 8.99, totals=Totals(8.0 + 8.01)))
    assert d.allowed, d.reason
    assert d.remaining == 8.99
    assert "8.99 left" in d.reason
    tiny = decide(policy, GrantRequest(Remedy.CREDIT, "agent", 0.001, totals=Totals(25.0)))
    assert not tiny.allowed  # a sub-cent request counts as a whole cent


@pytest.mark.parametrize(
    ("currency", "amount", "ok"),
    [
        ("USD", 8.99, True),
        ("USD", 0.001, False),
        ("USD", 10.0, True),
        ("JPY", 100.0, True),
        ("JPY", 100.5, False),
        ("KWD", 1.234, True),
        ("KWD", 1.2345, False),
        ("USD", -0.0, False),
    ],
)
def test_amounts_are_whole_minor_units_of_the_currency(
    currency: str, amount: float, ok: bool
) -> None:
    from cxloop.domain.money import AmountError, check_amount

    if ok:
        check_amount(amount, currency)
        return
    with pytest.raises(AmountError, match="amount"):
        check_amount(amount, currency)
