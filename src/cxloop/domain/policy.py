"""The empowerment policy: what each role may grant a customer without approval.

A policy is data (``rules/policy.toml``): an ordered ladder of roles, lowest
first, and grant lines such as "agent: credit up to 25", "agent: credit up to 50
when the customer tier is high", "lead: refund up to 150 and at most the order".
A role may grant everything the roles below it may, plus its own lines.

:func:`decide` answers one request with a :class:`Decision` (allowed, or which
role must approve, and a sentence saying why); :func:`can_grant_at_most` gives
the most a role may grant in one situation. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, TypeGuard

from cxloop.domain.limits import (
    DEFAULT_PER,
    CaseRules,
    Totals,
    case_rule_rank,
    default_case_rules,
    describe_per,
    parse_case_rules,
    parse_per,
    parse_period,
    per_as_list,
    refund_room,
    refund_text,
    used_text,
)
from cxloop.domain.money import major, minor_digits, minor_down, minor_up
from cxloop.domain.remedies import MONETARY, CustomerTier, Remedy, Severity
from cxloop.errors import ConfigError, PolicyError

UNLIMITED = "unlimited"  # the policy file's word for "no amount limit"


@dataclass(frozen=True)
class Conditions:
    """When a grant line applies; ``None`` matches anything, a set matches its members.

    A request whose tier or severity is unknown (``None``) matches no set.
    """

    customer_tier: frozenset[CustomerTier] | None = None
    severity: frozenset[Severity] | None = None

    def matches(self, severity: Severity | None, tier: CustomerTier | None) -> bool:
        if self.customer_tier is not None and tier not in self.customer_tier:
            return False
        return self.severity is None or severity in self.severity

    def describe(self) -> str:
        """E.g. ``customer tier is high and severity is high or critical`` ('' if none)."""
        parts = []
        if self.customer_tier is not None:
            parts.append("customer tier is " + _either(CustomerTier, self.customer_tier))
        if self.severity is not None:
            parts.append("severity is " + _either(Severity, self.severity))
        return " and ".join(parts)

    def as_dict(self) -> dict[str, list[str]]:
        when = {}
        if self.customer_tier is not None:
            when["customer_tier"] = [t.value for t in CustomerTier if t in self.customer_tier]
        if self.severity is not None:
            when["severity"] = [s.value for s in Severity if s in self.severity]
        return when


@dataclass(frozen=True)
class Grant:
    """One line of the policy: ``role`` may grant ``remedy`` (within limits, when ...).

    ``max_amount`` None is no cap; ``max_order_share`` caps the amount at that
    fraction of the order amount. Non-monetary remedies have neither. The cap is on
    the running total ``per`` these scopes (case, customer; the customer total over
    ``period_days``, None: ever), see :mod:`cxloop.domain.limits`.
    """

    remedy: Remedy
    role: str
    max_amount: float | None = None
    max_order_share: float | None = None
    when: Conditions = Conditions()
    note: str = ""
    per: frozenset[str] = DEFAULT_PER
    period_days: int | None = None

    def effective_limit(self, order_amount: float | None) -> float | None:
        """The most this line allows (``math.inf``: no limit), or None if it does not
        apply: it caps by a share of the order and no order amount is known."""
        limit = math.inf if self.max_amount is None else self.max_amount
        if self.max_order_share is None:
            return limit
        if order_amount is None:
            return None
        return min(limit, self.max_order_share * order_amount)

    def as_dict(self) -> dict[str, Any]:
        line: dict[str, Any] = {"remedy": self.remedy.value, "role": self.role}
        if self.remedy in MONETARY:
            line["max_amount"] = UNLIMITED if self.max_amount is None else self.max_amount
        if self.max_order_share is not None:
            line["max_order_share"] = self.max_order_share
        if self.remedy in MONETARY:
            line["per"] = per_as_list(self.per)
            if self.period_days is not None:
                line["period_days"] = self.period_days
        when = self.when.as_dict()
        return line | ({"when": when} if when else {}) | ({"note": self.note} if self.note else {})


@dataclass(frozen=True)
class Policy:
    version: str  # as the policy file declares it
    digest: str  # sha256 of the canonical content, first 12 hex digits
    currency: str
    roles: tuple[str, ...]  # lowest first
    grants: tuple[Grant, ...]
    description: str = ""
    case_rules: CaseRules | None = None  # None: the defaults for these roles

    @property
    def cases(self) -> CaseRules:
        return self.case_rules or default_case_rules(self.roles)

    def periods(self, remedy: Remedy) -> set[int | None]:
        """The customer-total periods the lines of ``remedy`` need (None: ever)."""
        return {g.period_days for g in self.grants if g.remedy == remedy and "customer" in g.per}

    @property
    def digits(self) -> int:
        """Decimals of the currency's minor unit: amounts are compared in whole units of
        it (:mod:`cxloop.domain.money`)."""
        return minor_digits(self.currency)

    def rank(self, role: str) -> int:
        """The role's place on the ladder (0 = lowest); PolicyError for an unknown role."""
        try:
            return self.roles.index(role)
        except ValueError:
            raise PolicyError(f"unknown role {role!r} (known: {', '.join(self.roles)})") from None

    def as_dict(self) -> dict[str, Any]:
        """The canonical content (what the digest is computed from); a valid policy document."""
        doc: dict[str, Any] = {"version": self.version, "currency": self.currency}
        doc |= {"roles": list(self.roles), "grants": [g.as_dict() for g in self.grants]}
        doc["cases"] = self.cases.as_dict()
        return doc | {"description": self.description} if self.description else doc


@dataclass(frozen=True)
class GrantRequest:
    remedy: Remedy
    role: str
    amount: float = 0.0  # 0 for non-monetary remedies
    order_amount: float | None = None
    severity: Severity | None = None
    customer_tier: CustomerTier | None = None
    totals: Totals = field(default_factory=Totals)  # what is already granted or waiting
    closed_case: bool = False  # the case is resolved or followed up
    others_case: bool = False  # another person owns the case


@dataclass(frozen=True)
class Decision:
    """The answer to one request.

    ``needs_role``: the lowest role that may grant exactly this request (None when
    allowed, or when no role may). ``limit``: the most the role's line lets the running
    total reach here (None: no limit, a non-monetary remedy, or nothing at all);
    ``remaining``: what is left of it after ``totals`` (the running totals the decision
    saw). ``grant_index``: the policy line that allows it (0-based), None when not
    allowed.
    """

    allowed: bool
    role: str
    needs_role: str | None
    limit: float | None
    grant_index: int | None
    reason: str
    policy_version: str
    policy_digest: str
    remaining: float | None = None
    totals: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Authority:
    """What one role may do for one remedy in one situation. Money is compared in whole
    minor units (:mod:`cxloop.domain.money`): the limit counted down, the running total
    and the request counted up."""

    best: int | None  # the applying line with the most room left (first on ties)
    limit: float  # its effective limit (inf: none); -1 when nothing applies
    needs_order: bool  # a line would apply given an order amount
    unmatched: tuple[str, ...]  # conditions of the lines that do not match
    used: float = 0.0  # the running total the best line caps
    scope: str = "request"  # which total that is
    digits: int = 2  # decimals of the currency's minor unit

    @property
    def room_minor(self) -> float:
        """What is left, in minor units (inf: no limit)."""
        if math.isinf(self.limit):
            return math.inf
        return minor_down(self.limit, self.digits) - minor_up(self.used, self.digits)

    @property
    def room(self) -> float:
        left = self.room_minor
        return left if math.isinf(left) else major(int(left), self.digits)

    def allows(self, amount: float) -> bool:
        return self.best is not None and minor_up(amount, self.digits) <= self.room_minor


def _authority(
    policy: Policy,
    rank: int,
    remedy: Remedy,
    severity: Severity | None,
    tier: CustomerTier | None,
    order_amount: float | None,
    totals: Totals | None = None,
) -> _Authority:
    totals = totals or Totals()
    best: _Authority | None = None
    needs_order, unmatched = False, []
    for i, grant in enumerate(policy.grants):
        if grant.remedy != remedy or policy.rank(grant.role) > rank:
            continue
        if not grant.when.matches(severity, tier):
            unmatched.append(grant.when.describe())
            continue
        limit = grant.effective_limit(order_amount)
        if limit is None:
            needs_order = True
            continue
        used, scope = (
            (0.0, "request")
            if remedy not in MONETARY
            else totals.used(grant.per, grant.period_days)
        )
        found = _Authority(i, limit, False, (), used, scope, policy.digits)
        if best is None or found.room_minor > best.room_minor:
            best = found
    if best is None:
        return _Authority(
            None, -1.0, needs_order, tuple(dict.fromkeys(unmatched)), digits=policy.digits
        )
    return replace(best, needs_order=needs_order, unmatched=tuple(dict.fromkeys(unmatched)))


def decide(policy: Policy, request: GrantRequest) -> Decision:
    """May ``request.role`` grant this without approval? If not, who may?

    The amount is added to the running totals the request carries; the case rules
    (closed, someone else's) and the refund cap (never more than was paid) apply to
    every role.
    """
    rank = policy.rank(request.role)
    request = replace(request, remedy=_checked_request(request))
    ladder = [
        _authority(
            policy,
            r,
            request.remedy,
            request.severity,
            request.customer_tier,
            request.order_amount,
            request.totals,
        )
        for r in range(len(policy.roles))
    ]
    case_rank, case_why = case_rule_rank(
        policy.roles, policy.cases, request.closed_case, request.others_case
    )
    room = refund_room(request.remedy, request.order_amount, request.totals, policy.digits)
    within = room is None or minor_up(request.amount, policy.digits) <= room

    def able(r: int) -> bool:
        return within and r >= case_rank and ladder[r].allows(request.amount)

    own = ladder[rank]
    allowed = able(rank)
    needs = None
    if not allowed:
        needs = next((policy.roles[r] for r in range(rank, len(ladder)) if able(r)), None)
    monetary = own.best is not None and request.remedy in MONETARY and not math.isinf(own.limit)
    reason = _reason(policy, request, own, allowed, needs)
    if case_why and rank < case_rank:
        reason = _with(reason, "; ".join(case_why), needs)
    if not within and request.order_amount is not None:
        cap = refund_text(request.order_amount, request.totals, request.amount)
        reason = _with(reason, cap, None)
    return Decision(
        allowed=allowed,
        role=request.role,
        needs_role=needs,
        limit=own.limit if monetary else None,
        grant_index=own.best if allowed else None,
        reason=reason,
        policy_version=policy.version,
        policy_digest=policy.digest,
        remaining=max(own.room, 0.0) if monetary else None,
        totals=request.totals.as_dict() | {"order_amount": request.order_amount},
    )


def _with(reason: str, rule: str, needs: str | None) -> str:
    """``reason`` with a case or refund rule said before its conclusion."""
    head = reason.split("; ")[0]
    if needs is None:
        return f"{head}; {rule}; no role may grant it"
    return f"{head}; {rule}; it needs approval from {needs}"


def can_grant_at_most(
    policy: Policy,
    role: str,
    remedy: Remedy,
    severity: Severity | None = None,
    tier: CustomerTier | None = None,
    order_amount: float | None = None,
    totals: Totals | None = None,
) -> float | None:
    """The largest amount ``role`` may grant without approval, after ``totals``: None for
    no limit (and for a non-monetary remedy it may grant), 0.0 when it may grant none.
    The case rules are not applied (they depend on the case, not the amount)."""
    rank = policy.rank(role)
    remedy = _checked_request(GrantRequest(remedy, role, 0.0, order_amount))
    totals = totals or Totals()
    own = _authority(policy, rank, remedy, severity, tier, order_amount, totals)
    if own.best is None:
        return 0.0
    if remedy not in MONETARY:
        return None
    room = refund_room(remedy, order_amount, totals, policy.digits)
    most = own.room_minor if room is None else min(own.room_minor, room)
    return None if math.isinf(most) else major(max(int(most), 0), policy.digits)


def _checked_request(request: GrantRequest) -> Remedy:
    try:
        remedy = Remedy(request.remedy)
    except ValueError:
        raise PolicyError(
            f"unknown remedy {request.remedy!r} (known: {', '.join(Remedy)})"
        ) from None
    for name, value in (("amount", request.amount), ("order_amount", request.order_amount)):
        if not (_is_number(value) and value >= 0) and not (
            name == "order_amount" and value is None
        ):
            raise PolicyError(f"{name}: expected a number >= 0, got {value!r}")
    if remedy not in MONETARY and request.amount != 0:
        raise PolicyError(f"{remedy} carries no amount; got {request.amount!r}")
    return remedy


def _reason(
    policy: Policy, request: GrantRequest, own: _Authority, allowed: bool, needs: str | None
) -> str:
    monetary = request.remedy in MONETARY
    head = _authority_text(policy, request, own)
    if allowed:
        if monetary and not math.isinf(own.limit):
            return f"{head}; {request.amount:.2f} needs no approval"
        return head
    what = f"{request.amount:.2f}" if monetary else "it"
    if needs is None:
        return f"{head}; no role may grant {what} under this policy"
    return f"{head}; {what} needs approval from {needs}"


def _authority_text(policy: Policy, request: GrantRequest, own: _Authority) -> str:
    role, remedy = request.role, request.remedy.value
    if own.best is None:
        if own.needs_order:
            return f"{role} may grant {remedy} only against an order amount, and none was given"
        if own.unmatched:
            return f"{role} may grant {remedy} only when " + " or when ".join(own.unmatched)
        return f"{role} may not grant {remedy}"
    grant = policy.grants[own.best]
    text = f"{role} may grant {remedy}"
    if request.remedy in MONETARY:
        if math.isinf(own.limit):
            text += " without limit"
        else:
            text += f" up to {own.limit:.2f} {policy.currency}"
            share, order = grant.max_order_share, request.order_amount
            if share is not None and order is not None and share * order == own.limit:
                text += f" ({share * 100:g}% of the order amount {order:.2f})"
    conditions = grant.when.describe()
    if conditions:
        text += f" when {conditions}"
    if request.remedy in MONETARY and own.used > 0 and not math.isinf(own.limit):
        per = describe_per(grant.per, grant.period_days)
        left = used_text(own.used, own.scope, own.room, grant.period_days)
        text += f", {per} ({left})"
    return text


@dataclass(frozen=True)
class Entitlement:
    """What ``role`` may grant of ``remedy`` to a customer of ``customer_tier``: the policy
    lines that apply (its own and inherited ones), less those another line covers."""

    role: str
    remedy: Remedy
    customer_tier: CustomerTier
    grants: tuple[int, ...]  # indexes into Policy.grants; empty: it needs approval


def entitlements(policy: Policy) -> list[Entitlement]:
    """The whole policy as a table: every role x remedy x customer tier."""
    table = []
    for rank, role in enumerate(policy.roles):
        for remedy in Remedy:
            for tier in CustomerTier:
                lines = [
                    i
                    for i, g in enumerate(policy.grants)
                    if g.remedy == remedy
                    and policy.rank(g.role) <= rank
                    and (g.when.customer_tier is None or tier in g.when.customer_tier)
                ]
                kept = tuple(i for i in lines if not _covered(policy.grants, i, lines))
                table.append(Entitlement(role, remedy, tier, kept))
    return table


def _covered(grants: tuple[Grant, ...], i: int, lines: list[int]) -> bool:
    """Whether another line allows at least what line ``i`` does (first of equals stays)."""
    b = grants[i]
    return any(
        _covers(grants[j], b) and (j < i or not _covers(b, grants[j])) for j in lines if j != i
    )


def _covers(a: Grant, b: Grant) -> bool:
    """Whether line ``a`` allows at least as much as ``b`` wherever ``b`` applies."""
    sev_a, sev_b = a.when.severity, b.when.severity
    return (
        (sev_a is None or (sev_b is not None and sev_b <= sev_a))
        and (a.max_amount is None or (b.max_amount is not None and b.max_amount <= a.max_amount))
        and (
            a.max_order_share is None
            or (b.max_order_share is not None and b.max_order_share <= a.max_order_share)
        )
        and _looser_totals(a, b)
    )


def _looser_totals(a: Grant, b: Grant) -> bool:
    """Whether line ``a``'s running totals restrict no more than ``b``'s."""
    scopes_a, scopes_b = a.per - {"request"}, b.per - {"request"}
    if not scopes_a <= scopes_b:
        return False
    if "customer" not in scopes_a:
        return True
    return b.period_days is None or (a.period_days is not None and a.period_days <= b.period_days)


# --- the policy file -------------------------------------------------------------------

POLICY_KEYS = (
    "version",
    "currency",
    "roles",
    "grants",
    "description",
    "per",
    "period_days",
    "cases",
)
GRANT_KEYS = (
    "remedy",
    "role",
    "max_amount",
    "max_order_share",
    "when",
    "note",
    "per",
    "period_days",
)
WHEN_KEYS = ("customer_tier", "severity", "min_severity")


def _bad(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def _expected(where: str, expected: str, value: object) -> ConfigError:
    if value is None:
        return _bad(where, f"missing; expected {expected}")
    return _bad(where, f"expected {expected}, got {value!r}")


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _either(enum: Iterable[Any], members: frozenset[Any]) -> str:
    return " or ".join(m.value for m in enum if m in members)


def _known_keys(where: str, data: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    for key in data:
        if key not in keys:
            prefix = f"{where}.{key}" if where else str(key)
            raise _bad(prefix, f"unknown key; expected one of {', '.join(keys)}")


def policy_from_dict(data: Mapping[str, Any]) -> Policy:
    """Build and validate a policy from a parsed document; errors name the entry and field
    (``grants[3].max_amount: expected a number >= 0 or "unlimited", got 'x'``)."""
    _known_keys("", data, POLICY_KEYS)
    version = data.get("version")
    if isinstance(version, date):  # an unquoted TOML date: version = 2026-11-01
        version = version.isoformat()
    if not isinstance(version, str) or not version.strip():
        raise _expected("version", 'a non-empty string such as "2026-11-01"', version)
    currency = data.get("currency")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isascii()):
        raise _expected("currency", 'a 3-letter currency code such as "USD"', currency)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _bad("description", f"expected a string, got {description!r}")
    roles = _roles(data.get("roles"))
    raw = data.get("grants")
    if not isinstance(raw, list) or not raw:
        raise _expected("grants", "a non-empty list of [[grants]] tables", raw)
    per = parse_per("per", data.get("per", sorted(DEFAULT_PER)))
    period = parse_period("period_days", data.get("period_days"))
    grants = tuple(_grant(f"grants[{i}]", g, roles, per, period) for i, g in enumerate(raw))
    cases = parse_case_rules("cases", data.get("cases"), roles)
    policy = Policy(version, "", currency.upper(), roles, grants, description, cases)
    text = json.dumps(policy.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return replace(policy, digest=hashlib.sha256(text.encode()).hexdigest()[:12])


def _roles(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _expected("roles", "a non-empty list of role names, lowest first", value)
    for role in value:
        if not isinstance(role, str) or not role.strip():
            raise _bad("roles", f"expected role names (non-empty strings), got {role!r}")
        if value.count(role) > 1:
            raise _bad("roles", f"{role!r} is listed more than once")
    return tuple(value)


def _grant(
    where: str,
    data: object,
    roles: tuple[str, ...],
    per: frozenset[str] = DEFAULT_PER,
    period: int | None = None,
) -> Grant:
    if not isinstance(data, Mapping):
        raise _bad(where, f"expected a table, got {data!r}")
    _known_keys(where, data, GRANT_KEYS)
    remedy = _member(f"{where}.remedy", "remedy", Remedy, data.get("remedy"))
    role = _known(f"{where}.role", "role", list(roles), data.get("role"))
    note = data.get("note", "")
    if not isinstance(note, str):
        raise _bad(f"{where}.note", f"expected a string, got {note!r}")
    max_amount, share = data.get("max_amount"), data.get("max_order_share")
    if remedy not in MONETARY:
        for key in ("max_amount", "max_order_share", "per", "period_days"):
            if key in data:
                raise _bad(f"{where}.{key}", f"{remedy} carries no amount; remove {key}")
    elif max_amount is None and share is None:
        raise _bad(
            f"{where}.max_amount",
            f'missing; a {remedy} grant needs max_amount (a number or "unlimited") '
            "and/or max_order_share",
        )
    return Grant(
        remedy=remedy,
        role=role,
        max_amount=None
        if max_amount in (None, UNLIMITED)
        else _number(f"{where}.max_amount", max_amount, 'a number >= 0 or "unlimited"'),
        max_order_share=None if share is None else _number(f"{where}.max_order_share", share),
        when=_conditions(f"{where}.when", data.get("when", {})),
        note=note,
        **_line_totals(where, data, per, period) if remedy in MONETARY else {},
    )


def _line_totals(
    where: str, data: Mapping[str, Any], per: frozenset[str], period: int | None
) -> dict[str, Any]:
    """A monetary line's ``per`` and ``period_days`` (the policy's when it gives none)."""
    return {
        "per": parse_per(f"{where}.per", data["per"]) if "per" in data else per,
        "period_days": parse_period(f"{where}.period_days", data.get("period_days", period)),
    }


def _number(where: str, value: object, expected: str = "a number >= 0") -> float:
    if not (_is_number(value) and value >= 0):
        raise _expected(where, expected, value)
    return float(value)


def _member(where: str, noun: str, enum: Any, value: object) -> Any:
    return enum(_known(where, noun, [m.value for m in enum], value))


def _known(where: str, noun: str, known: list[str], value: object) -> str:
    if value is None:
        raise _bad(where, f"missing; expected one of {', '.join(known)}")
    if value not in known:
        raise _bad(where, f"unknown {noun} {value!r} (known: {', '.join(known)})")
    return str(value)


def _members(where: str, noun: str, enum: Any, value: object) -> frozenset[Any]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise _bad(where, f"expected a {noun} or a non-empty list of them, got {value!r}")
    return frozenset(_member(where, noun, enum, v) for v in values)


def _conditions(where: str, data: object) -> Conditions:
    if not isinstance(data, Mapping):
        raise _bad(where, f'expected a table such as {{ customer_tier = ["high"] }}, got {data!r}')
    _known_keys(where, data, WHEN_KEYS)
    if "severity" in data and "min_severity" in data:
        raise _bad(f"{where}.min_severity", "give severity or min_severity, not both")
    tiers = data.get("customer_tier")
    severity = data.get("severity")
    severities = None
    if severity is not None:
        severities = _members(f"{where}.severity", "severity", Severity, severity)
    if "min_severity" in data:
        least = _member(f"{where}.min_severity", "severity", Severity, data["min_severity"])
        severities = frozenset(s for s in Severity if s.rank >= least.rank)
    return Conditions(
        customer_tier=None
        if tiers is None
        else _members(f"{where}.customer_tier", "customer tier", CustomerTier, tiers),
        severity=severities,
    )
