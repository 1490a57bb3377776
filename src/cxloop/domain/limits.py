"""Running totals and case rules: what makes the empowerment policy hold over a sequence.

A policy line's limit caps a running total, not one request: by default everything of
that remedy already granted (or waiting for approval) on the same case and to the same
customer, plus the request. A line may say what it is cumulative over (``per``: request,
case, customer) and over which period the customer total counts (``period_days``).
Refund-like remedies never take more money back than was paid for the order, whatever
the role. The case rules say from which role up someone may grant on a closed case
(resolved or followed up) or on a case another person owns.

The totals come in (:class:`Totals`, computed by the services from the audit log,
the pending approvals and the event log); nothing here reads a store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cxloop.domain.money import minor_down, minor_up
from cxloop.domain.remedies import Remedy
from cxloop.errors import ConfigError

#: What a line's limit can be cumulative over ("request": that request alone).
SCOPES = ("request", "case", "customer")
DEFAULT_PER: frozenset[str] = frozenset({"case", "customer"})
#: Remedies that give money back for an order: together never more than was paid.
REFUND_LIKE: frozenset[Remedy] = frozenset({Remedy.REFUND, Remedy.KEEP_ITEM})
CASE_RULE_KEYS = ("others", "closed")


@dataclass(frozen=True)
class Totals:
    """What a request adds to: the same remedy granted or waiting for approval.

    ``case``: on this case (ever). ``customer``: to this customer, by period in days
    (``None``: ever). ``order_refunded``: refund-like money already back, promised or
    waiting for approval on the case's order (from every source, not only cxloop).
    """

    case: float = 0.0
    customer: Mapping[int | None, float] = field(default_factory=dict)
    order_refunded: float = 0.0

    def customer_total(self, period_days: int | None) -> float:
        """The customer total over ``period_days``; a period not computed counts the
        largest total known (never less than the truth)."""
        if period_days in self.customer:
            return self.customer[period_days]
        return max(self.customer.values(), default=0.0)

    def used(self, per: frozenset[str], period_days: int | None) -> tuple[float, str]:
        """The largest running total a line capped ``per`` these scopes sees, and which."""
        seen = [(0.0, "request")]
        if "case" in per:
            seen.append((self.case, "case"))
        if "customer" in per:
            seen.append((self.customer_total(period_days), "customer"))
        return max(seen, key=lambda t: t[0])

    def as_dict(self) -> dict[str, Any]:
        customer = {_period_name(p): round(v, 6) for p, v in sorted(self.customer.items(), key=_k)}
        return {
            "case": round(self.case, 6),
            "customer": customer,
            "order_refunded": round(self.order_refunded, 6),
        }


def _k(item: tuple[int | None, float]) -> float:
    return float("inf") if item[0] is None else float(item[0])


def _period_name(days: int | None) -> str:
    return "ever" if days is None else f"{days} days"


@dataclass(frozen=True)
class CaseRules:
    """From which role up someone may grant on a case another person owns (``others``)
    or on a closed case (``closed``: resolved or followed up)."""

    others: str
    closed: str

    def as_dict(self) -> dict[str, str]:
        return {"others": self.others, "closed": self.closed}


def default_case_rules(roles: tuple[str, ...]) -> CaseRules:
    """Without declared rules: the lowest role may not, the one above it may."""
    second = roles[min(1, len(roles) - 1)]
    return CaseRules(second, second)


def case_rule_rank(
    roles: tuple[str, ...], rules: CaseRules, closed: bool, others: bool
) -> tuple[int, list[str]]:
    """The lowest rank that may grant on this case, and the rules that raised it."""
    rank, why = 0, []
    if closed:
        rank = max(rank, roles.index(rules.closed))
        why.append(f"on a closed case only {rules.closed} and above may grant")
    if others:
        rank = max(rank, roles.index(rules.others))
        why.append(f"on a case another person owns only {rules.others} and above may grant")
    return rank, why if rank > 0 else []


def refund_room(
    remedy: Remedy, order_amount: float | None, totals: Totals, digits: int
) -> int | None:
    """How much more may go back on the order, in minor units (None: not a refund, or no
    order known): what was paid counted down, what went back counted up."""
    if remedy not in REFUND_LIKE or order_amount is None:
        return None
    return minor_down(order_amount, digits) - minor_up(totals.order_refunded, digits)


def refund_text(order_amount: float, totals: Totals, amount: float) -> str:
    room = max(order_amount - totals.order_refunded, 0.0)
    return (
        f"refunds never exceed what was paid: {order_amount:.2f} paid for the order, "
        f"{totals.order_refunded:.2f} already refunded or waiting, so at most {room:.2f} "
        f"more, not {amount:.2f}"
    )


def describe_per(per: frozenset[str], period_days: int | None) -> str:
    """E.g. ``per case and per customer over 30 days`` ('' for a single request)."""
    parts = []
    if "case" in per:
        parts.append("per case")
    if "customer" in per:
        parts.append("per customer" + (f" over {period_days} days" if period_days else ""))
    return " and ".join(parts)


def used_text(used: float, scope: str, left: float, period_days: int | None) -> str:
    """``left``: what is left of the limit (exact, in minor units made money again)."""
    where = {"case": "on this case", "customer": "to this customer"}.get(scope, "")
    if scope == "customer" and period_days:
        where += f" in {period_days} days"
    return f"{used:.2f} already granted or waiting {where}, {max(left, 0.0):.2f} left"


# --- the policy file ----------------------------------------------------------------------


def parse_per(where: str, value: object) -> frozenset[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise ConfigError(
            f"{where}: expected a scope or a list of them ({', '.join(SCOPES)}), got {value!r}"
        )
    for v in values:
        if v not in SCOPES:
            raise ConfigError(f"{where}: unknown scope {v!r} (known: {', '.join(SCOPES)})")
    return frozenset(values) - {"request"} or frozenset({"request"})


def parse_period(where: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a whole number of days >= 1, got {value!r}")
    return value


def parse_case_rules(where: str, data: object, roles: tuple[str, ...]) -> CaseRules:
    rules = default_case_rules(roles)
    if data is None:
        return rules
    if not isinstance(data, Mapping):
        raise ConfigError(f'{where}: expected a table such as {{ others = "lead" }}, got {data!r}')
    for key in data:
        if key not in CASE_RULE_KEYS:
            raise ConfigError(
                f"{where}.{key}: unknown key; expected one of {', '.join(CASE_RULE_KEYS)}"
            )
    chosen = {}
    for key in CASE_RULE_KEYS:
        value = data.get(key, getattr(rules, key))
        if value not in roles:
            raise ConfigError(f"{where}.{key}: unknown role {value!r} (known: {', '.join(roles)})")
        chosen[key] = str(value)
    return CaseRules(**chosen)


def per_as_list(per: frozenset[str]) -> list[str]:
    return [s for s in SCOPES if s in per]
