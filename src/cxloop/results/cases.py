"""Cases, approvals, recovery advice and the empowerment policy (C3): what the library returns
and the API answers (see :mod:`cxloop.results.base`)."""

from __future__ import annotations

from cxloop.results.base import Json
from cxloop.results.record import Record


class Case(Record):
    """A case: one customer's problem, owned by a person in a department."""

    case_id: str
    customer_id: str
    subject: str
    """What the case is about (an order, a ticket: the signals' reference)."""
    department: str | None
    owner: str | None
    severity: str
    state: str
    """open, in_progress, resolved or closed."""
    opened_at: str
    sla_due_at: str | None
    started_at: str | None
    resolved_at: str | None
    resolution: str | None
    contacts: int | None
    """How many contacts it took to resolve (1: first-contact resolution)."""
    follow_up_due_at: str | None
    followed_up_at: str | None
    updated_at: str


class Signal(Record):
    """A signal that raised or updated a case (a broken promise, a complaint, a low score)."""

    signal_id: str
    kind: str
    customer_id: str
    subject: str
    ts: str
    department: str | None
    severity: str
    detail: str
    source_ref: str | None
    facts: Json
    """The signal's facts (its kind decides which: lateness, a score, a text)."""
    case_id: str | None
    recorded_at: str


class AuditEntry(Record):
    """An action on a case: who, in which role, under which policy version."""

    audit_id: int
    at: str
    actor: str
    role: str
    action: str
    case_id: str | None
    remedy: str | None
    amount: float | None
    policy_version: str | None
    detail: Json | None


class CaseDetail(Record):
    """A case with its signals and its audit trail."""

    case: Case
    signals: list[Signal]
    audit: list[AuditEntry]


class SyncReport(Record):
    """What a sync of cases from the current signals did."""

    as_of: str
    signals_found: int
    signals_new: int
    cases_opened: int
    cases_updated: int
    cases_reopened: int
    cases_auto_resolved: int


class Durations(Record):
    median_hours: float | None
    p90_hours: float | None
    max_hours: float | None


class ApprovalFigures(Record):
    requests: int
    pending: int
    decided: dict[str, int]
    """Requests per decision (approved, denied)."""
    wait: Durations


class FollowUps(Record):
    promised: int
    made_on_time: int
    missed: int
    due: int


class CaseMetrics(Record):
    """Figures over every case (or one department's), as of the store's clock."""

    as_of: str
    department: str | None
    cases: int
    by_state: dict[str, int]
    active: int
    active_past_sla: int
    resolved: int
    first_contact_resolution: float | None
    """Share of resolved cases resolved at the first contact."""
    resolved_within_sla: float | None
    time_to_resolve: Durations
    approvals: ApprovalFigures
    follow_ups: FollowUps


class AdviceLine(Record):
    """One remedy of the recommendation, judged by the policy for the caller's role."""

    remedy: str
    amount: float
    why: str
    allowed: bool
    """Whether this key may grant it now, without approval."""
    needs_role: str | None
    policy: str


class JudgedFor(Record):
    """The API key the advice was judged for, and the role it grants as."""

    key: str
    grant_as: str | None


class Advice(Record):
    """The recommended remedy for a case."""

    case_id: str
    customer_id: str
    subject: str
    severity: str
    customer_tier: str
    reason: str
    lines: list[AdviceLine]
    policy_version: str
    evidence: Json
    """What the amounts were learned from (similar cases), or the playbook's default."""
    judged_for: JudgedFor | None = None
    """The API key the lines were judged for (null from the library: judged for a role)."""

    def seen_by(self, grant_as: str | None) -> Advice:
        """The advice as a caller sees it: one who may not grant (no ``grant_as``) may grant
        no line now, whatever the role it was judged for allows."""
        if grant_as is not None:
            return self
        lines = [line.model_copy(update={"allowed": False}) for line in self.lines]
        return self.model_copy(update={"lines": lines})


class Totals(Record):
    case: float
    customer: dict[str, float]
    """The customer's running totals per period."""
    order_refunded: float
    order_amount: float | None


class GrantOut(Record):
    """A remedy granted within the empowerment policy."""

    case_id: str
    granted_by: str
    allowed: bool
    role: str
    needs_role: str | None
    limit: float | None
    grant_index: int | None
    """Which line of the policy allowed it."""
    reason: str
    policy_version: str
    policy_digest: str
    remaining: float | None
    totals: Totals | None


class Approval(Record):
    """A request for a remedy beyond the requester's authority, and its decision."""

    approval_id: int
    case_id: str
    remedy: str
    amount: float
    requested_by: str
    requested_role: str
    needs_role: str
    requested_at: str
    policy_version: str
    note: str | None
    decision: str | None
    """null while pending; approved or denied."""
    decided_by: str | None
    decided_role: str | None
    decided_at: str | None


class PolicyLine(Record):
    """A line of the policy: ``role`` may grant ``remedy`` (within limits, when ...);
    the optional keys are those of the policy file (docs/policy.md)."""

    remedy: str
    role: str
    max_amount: float | str | None = None
    max_order_share: float | None = None
    per: list[str] | None = None
    period_days: int | None = None
    when: dict[str, list[str]] | None = None
    note: str | None = None


class PolicyDoc(Record):
    version: str
    currency: str
    roles: list[str]
    grants: list[PolicyLine]
    cases: dict[str, str]
    """Who may work a case another person owns, or a closed one."""
    description: str | None = None


class Entitlement(Record):
    remedy: str
    customer_tier: str
    lines: list[PolicyLine]


class PolicyOut(Record):
    """The empowerment policy in force and what this key may grant without approval."""

    policy: PolicyDoc
    grant_as: str | None
    may_grant: list[Entitlement]
