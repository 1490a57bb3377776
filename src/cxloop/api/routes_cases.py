"""Recovery at the right level (C3): cases, recommended remedies, grants within the
empowerment policy, approvals beyond it. The policy is applied here, on the server, to
the role the API key carries; nothing the client sends can raise it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from cxloop import Actor
from cxloop.api.deps import Cx, Page, PageOut, Rt, Who, page
from cxloop.api.errors import ERROR_RESPONSES, ApiError
from cxloop.api.inputs import Amount, Ident, NonEmptyNote, Note
from cxloop.domain.remedies import Remedy
from cxloop.errors import PolicyError
from cxloop.library.edges import Principal
from cxloop.results.cases import (
    Advice,
    Approval,
    AuditEntry,
    Case,
    CaseDetail,
    CaseMetrics,
    GrantOut,
    PolicyOut,
    SyncReport,
)

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Text = Note
#: an approval's number: a 64-bit row id (a larger one overflowed SQLite's integer: a 500)
ApprovalId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class AssignIn(BaseModel):
    owner: Annotated[Ident, Field(min_length=1, max_length=200)]
    department: Annotated[Ident, Field(max_length=100)] | None = None


class ResolveIn(BaseModel):
    note: NonEmptyNote
    follow_up_days: Annotated[float, Field(gt=0, le=365)] = 3.0


class NoteIn(BaseModel):
    note: NonEmptyNote


class RemedyIn(BaseModel):
    remedy: Remedy
    amount: Amount = 0.0
    note: Text = ""


class DecisionIn(BaseModel):
    approve: bool
    note: Text = ""


def _worker(who: Principal, rt: Rt) -> Actor:
    who.require("work_cases")
    return who.actor(rt.policy)


def _denied(exc: PolicyError, who: Principal) -> ApiError:
    return ApiError(
        403,
        "policy_denied",
        str(exc),
        [{"key": who.key_id, "role": who.role, "grant_as": who.grant_as}],
    )


@router.get("/cases", response_model=PageOut[Case], tags=["cases"])
def cases(
    who: Who,
    cx: Cx,
    p: Page,
    state: str | None = None,
    department: str | None = None,
    owner: str | None = None,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """Cases, oldest first, filtered by state, department, owner or customer."""
    found = cx.cases(state=state, department=department, owner=owner, customer_id=customer_id)
    return page(who, found, p)


@router.post("/cases/sync", response_model=SyncReport, tags=["cases"])
def sync(who: Who, rt: Rt, cx: Cx) -> SyncReport:
    """Raise cases from the current signals (broken promises, complaints); safe to re-run."""
    who.require("sync_cases")
    report = cx.sync_cases()
    rt.wrote()
    return report


@router.get("/cases/metrics", response_model=CaseMetrics, tags=["cases"])
def metrics(who: Who, cx: Cx, department: str | None = None) -> CaseMetrics:
    """Time to first action and to resolution, SLA, approvals' wait, follow-ups kept."""
    return cx.case_metrics(department)


@router.get("/cases/{case_id}", response_model=CaseDetail, tags=["cases"])
def case(case_id: str, who: Who, cx: Cx) -> CaseDetail:
    """A case with its signals and its audit trail."""
    return cx.case(case_id)


@router.get("/cases/{case_id}/recommendation", response_model=Advice, tags=["remedies"])
def recommendation(case_id: str, who: Who, cx: Cx) -> Advice:
    """The recommended remedy for the case, each line judged by the empowerment policy for
    the caller's role: ``allowed`` means this key may grant it now, without approval."""
    return cx.advice_for(case_id, who.key_id, who.grant_as)


@router.post("/cases/{case_id}/start", response_model=Case, tags=["cases"])
def start(case_id: str, who: Who, rt: Rt, cx: Cx) -> Case:
    """Take the case: in progress, owned by the key's name."""
    result = cx.start_case(case_id, _worker(who, rt))
    rt.wrote()
    return result


@router.post("/cases/{case_id}/assign", response_model=Case, tags=["cases"])
def assign(case_id: str, body: AssignIn, who: Who, rt: Rt, cx: Cx) -> Case:
    """Give the case to an owner (and, optionally, another department)."""
    result = cx.assign_case(case_id, _worker(who, rt), body.owner, body.department)
    rt.wrote()
    return result


@router.post("/cases/{case_id}/resolve", response_model=Case, tags=["cases"])
def resolve(case_id: str, body: ResolveIn, who: Who, rt: Rt, cx: Cx) -> Case:
    """Resolve with a note; a follow-up is promised after ``follow_up_days``."""
    actor = _worker(who, rt)
    result = cx.resolve_case(case_id, actor, body.note, timedelta(days=body.follow_up_days))
    rt.wrote()
    return result


@router.post("/cases/{case_id}/follow-up", response_model=Case, tags=["cases"])
def follow_up(case_id: str, body: NoteIn, who: Who, rt: Rt, cx: Cx) -> Case:
    """Record that the promised follow-up happened (closes the case)."""
    result = cx.follow_up_case(case_id, _worker(who, rt), body.note)
    rt.wrote()
    return result


@router.post("/cases/{case_id}/grants", status_code=201, response_model=GrantOut, tags=["remedies"])
def grant(case_id: str, body: RemedyIn, who: Who, rt: Rt, cx: Cx) -> GrantOut:
    """Grant a remedy this key's role may give without approval. Beyond it: 403
    ``policy_denied`` naming the role that may (ask with ``POST .../approvals``)."""
    who.require("grant")
    actor = who.actor(rt.policy)
    try:
        result = cx.grant(case_id, body.remedy, body.amount, actor, body.note)
    except PolicyError as exc:
        raise _denied(exc, who) from None
    rt.wrote()
    return result


@router.post(
    "/cases/{case_id}/approvals", status_code=201, response_model=Approval, tags=["remedies"]
)
def request_approval(case_id: str, body: RemedyIn, who: Who, rt: Rt, cx: Cx) -> Approval:
    """Ask for a remedy beyond this key's authority; the policy names who must approve."""
    who.require("grant")
    actor = who.actor(rt.policy)
    try:
        result = cx.request_approval(case_id, body.remedy, body.amount, actor, body.note)
    except PolicyError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    rt.wrote()
    return result


@router.get("/approvals", response_model=PageOut[Approval], tags=["remedies"])
def approvals(
    who: Who, cx: Cx, p: Page, pending: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    """Approval requests (only the undecided ones with ``pending=true``), oldest first."""
    return page(who, cx.approvals(pending), p)


@router.post("/approvals/{approval_id}/decision", response_model=Approval, tags=["remedies"])
def decide(approval_id: ApprovalId, body: DecisionIn, who: Who, rt: Rt, cx: Cx) -> Approval:
    """Approve (and so grant) or deny. Approving needs a role the policy lets grant it."""
    who.require("decide_approvals")
    actor = who.actor(rt.policy)
    row = cx.approval(approval_id)
    if row.decision is not None:
        raise ApiError(409, "conflict", f"approval {approval_id} was already {row.decision}")
    try:
        result = cx.decide_approval(approval_id, actor, body.approve, body.note)
    except PolicyError as exc:
        raise _denied(exc, who) from None
    rt.wrote()
    return result


@router.get("/audit", response_model=PageOut[AuditEntry], tags=["cases"])
def audit(who: Who, cx: Cx, p: Page, case_id: str | None = None) -> dict[str, Any]:
    """Every action on cases (who, in which role, under which policy version)."""
    return page(who, cx.audit(case_id), p)


@router.get(
    "/policy", response_model=PolicyOut, response_model_exclude_unset=True, tags=["remedies"]
)
def policy(who: Who, cx: Cx) -> PolicyOut:
    """The empowerment policy in force, and what this key may grant without approval."""
    return cx.policy_for(who.grant_as)
