"""What the empowerment policy needs to hold over a sequence of requests.

- **Running totals** (:func:`running_totals`): what was already granted of a remedy on
  the case and to the customer (the audit log's grant entries), what is waiting for
  approval (undecided requests), and what went back on the order from any source (the
  event log's refunds). :func:`cxloop.domain.policy.decide` adds the request to them.
- **One decision at a time** (:func:`grant_lock`): totals are read and the grant written
  under a lock on the store, so two grants at once cannot both fit under one limit, and of
  concurrent decisions on one approval exactly one wins (the rest get
  :class:`~cxloop.errors.ConflictError`).
- **Identity** (:func:`same_person`): four eyes compares people, not keys.
- **Case standing** (:func:`standing`): closed, or owned by someone else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cxloop.domain.cases import ACTIVE_STATES, CaseState
from cxloop.domain.events import EventType
from cxloop.domain.limits import REFUND_LIKE, Totals
from cxloop.domain.names import identity, skeleton
from cxloop.domain.policy import Policy
from cxloop.domain.remedies import MONETARY, Remedy
from cxloop.errors import PolicyError
from cxloop.store.cases import CaseStore
from cxloop.store.lock import WriteLock
from cxloop.workspace.workspace import Workspace

REFUND_EVENTS = (EventType.REFUND_REQUESTED.value, EventType.REFUND_ISSUED.value)


def grant_lock(ws: Workspace) -> WriteLock:
    """The lock every grant, approval request and approval decision takes on this store."""
    return WriteLock(ws.home / ".grants.lock", ws.settings.lock_timeout)


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two names stand for one person (:func:`cxloop.domain.names.identity`)."""
    return a is not None and b is not None and identity(a) == identity(b)


def may_be_same_person(a: str | None, b: str | None) -> bool:
    """Four eyes: one person, or names that look alike (``pаgent`` with a Cyrillic ``а``
    beside ``pagent``: :func:`cxloop.domain.names.skeleton`)."""
    return same_person(a, b) or (a is not None and b is not None and skeleton(a) == skeleton(b))


def standing(case: dict[str, Any], actor_name: str) -> tuple[bool, bool]:
    """(closed, someone else's): the case facts the policy's case rules judge."""
    closed = CaseState(case["state"]) not in ACTIVE_STATES
    owner = case.get("owner")
    return closed, bool(owner) and not same_person(owner, actor_name)


def _refunded_in_log(ws: Workspace, customer_id: str, order: str) -> float:
    """Money back on the order per the event log: the larger of what was requested and what
    was issued (a refund is usually both)."""
    ev = ws.events()
    mine = ev.filter(
        ev.event_type.isin(REFUND_EVENTS) & (ev.customer_id == customer_id) & (ev.ref == order)
    )
    frame = mine.group_by("event_type").aggregate(total=mine.amount.sum()).execute()
    sums = [float(v) for v in frame["total"] if v == v and v is not None]
    return max(sums, default=0.0)


def running_totals(
    ws: Workspace,
    case: dict[str, Any],
    remedy: Remedy,
    policy: Policy,
    now: datetime,
    before_approval: int | None = None,
) -> Totals:
    """The totals a request for ``remedy`` on ``case`` adds to (see the module doc);
    ``before_approval``: deciding that request, count only the requests asked for before it
    (requests queue in order: the first may be approved as it was asked)."""
    if remedy not in MONETARY:
        return Totals()
    store, names = CaseStore(ws.state), [remedy.value]
    cust, subject = case["customer_id"], case["subject"]
    with ws.state.connect() as con:
        pending_cust = store.pending_total(con, names, customer_id=cust, before=before_approval)
        on_case = store.granted_total(con, names, case_id=case["case_id"])
        on_case += store.pending_total(con, names, case_id=case["case_id"], before=before_approval)
        customer: dict[int | None, float] = {}
        for days in policy.periods(remedy):
            since = None if days is None else (now - timedelta(days=days)).isoformat()
            granted = store.granted_total(con, names, customer_id=cust, since=since)
            customer[days] = round(granted + pending_cust, 6)
        refunded = 0.0
        if remedy in REFUND_LIKE:
            like = [r.value for r in REFUND_LIKE]
            refunded = store.pending_total(
                con, like, customer_id=cust, subject=subject, before=before_approval
            )
    if remedy in REFUND_LIKE:
        refunded += _refunded_in_log(ws, cust, subject)
    return Totals(round(on_case, 6), customer, round(refunded, 6))


def refuse_taking_over(
    case: dict[str, Any], actor_name: str, actor_role: str, new_owner: str, policy: Policy
) -> None:
    """Taking a case another person owns (or giving it away from them) needs the role the
    policy's case rules require for granting on others' cases: otherwise an agent could
    assign another agent's case to themselves and grant on it after all."""
    owner = case.get("owner")
    if not owner or same_person(owner, actor_name) or same_person(owner, new_owner):
        return
    needed = policy.cases.others
    roles = policy.roles
    rank = roles.index(actor_role) if actor_role in roles else -1
    if rank < roles.index(needed):
        raise PolicyError(
            f"case {case['case_id']} is owned by {owner}: only {needed} and above may give it "
            f"to someone else (policy {policy.version}, [cases] others); ask {owner} or a "
            f"{needed}"
        )


def refuse_if_pending(ws: Workspace, case_id: str, doing: str) -> None:
    """A case whose remedy is still waiting for approval cannot be resolved or closed."""
    waiting = CaseStore(ws.state).pending_for_case(case_id)
    if not waiting:
        return
    first = waiting[0]
    what = first["remedy"] + (f" of {first['amount']:g}" if first["amount"] else "")
    more = f" (and {len(waiting) - 1} more)" if len(waiting) > 1 else ""
    raise PolicyError(
        f"case {case_id} cannot be {doing}: its {what} is still waiting for approval "
        f"{first['approval_id']}{more} (needs {first['needs_role']}); decide it first with "
        f"`cxloop cases approve {first['approval_id']}` or `cxloop cases deny "
        f"{first['approval_id']}`"
    )
