"""Recovery at the right level (C3): cases, recommended remedies, grants within the
empowerment policy, approvals beyond it. The policy is applied here, on the server, to
the role the API key carries; nothing the client sends can raise it."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cxloop.api.deps import Page, PageOut, Rt, Who, Ws, out, page
from cxloop.api.errors import ERROR_RESPONSES, ApiError
from cxloop.api.models_cases import (
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
from cxloop.domain.policy import entitlements
from cxloop.domain.remedies import Remedy
from cxloop.errors import PolicyError
from cxloop.services import approvals as approval_service
from cxloop.services import case_reads
from cxloop.services import cases as case_service
from cxloop.services import recovery as recovery_service
from cxloop.services.access import Principal
from cxloop.services.case_metrics import case_metrics
from cxloop.services.cases import Actor

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Text = Annotated[str, Field(max_length=2000)]


class AssignIn(BaseModel):
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    department: Annotated[str | None, Field(max_length=100)] = None


class ResolveIn(BaseModel):
    note: Annotated[str, Field(min_length=1, max_length=2000)]
    follow_up_days: Annotated[float, Field(gt=0, le=365)] = 3.0


class NoteIn(BaseModel):
    note: Annotated[str, Field(min_length=1, max_length=2000)]


class RemedyIn(BaseModel):
    remedy: Remedy
    amount: Annotated[float, Field(ge=0, le=1e9)] = 0.0
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
    ws: Ws,
    p: Page,
    state: str | None = None,
    department: str | None = None,
    owner: str | None = None,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """Cases, oldest first, filtered by state, department, owner or customer."""
    found = case_reads.list_cases(
        ws, state=state, department=department, owner=owner, customer_id=customer_id
    )
    return page(who, found, p)


@router.post("/cases/sync", response_model=SyncReport, tags=["cases"])
def sync(who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Raise cases from the current signals (broken promises, complaints); safe to re-run."""
    who.require("sync_cases")
    report = case_service.sync_cases(ws)
    rt.wrote()
    return report.as_dict()


@router.get("/cases/metrics", response_model=CaseMetrics, tags=["cases"])
def metrics(who: Who, ws: Ws, department: str | None = None) -> dict[str, Any]:
    """Time to first action and to resolution, SLA, approvals' wait, follow-ups kept."""
    return out(who, case_metrics(ws, department))  # type: ignore[no-any-return]


@router.get("/cases/{case_id}", response_model=CaseDetail, tags=["cases"])
def case(case_id: str, who: Who, ws: Ws) -> dict[str, Any]:
    """A case with its signals and its audit trail."""
    return out(who, case_reads.case_detail(ws, case_id))  # type: ignore[no-any-return]


@router.get("/cases/{case_id}/recommendation", response_model=Advice, tags=["remedies"])
def recommendation(case_id: str, who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """The recommended remedy for the case, each line judged by the empowerment policy for
    the caller's role: ``allowed`` means this key may grant it now, without approval."""
    role = recovery_service.judged_role(who.grant_as, rt.policy)
    advice = recovery_service.advise(ws, case_id, role, rt.policy).as_dict()
    judged = {"judged_for": {"key": who.key_id, "grant_as": who.grant_as}}
    return out(who, recovery_service.for_caller(advice, who.grant_as) | judged)  # type: ignore[no-any-return]


@router.post("/cases/{case_id}/start", response_model=Case, tags=["cases"])
def start(case_id: str, who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Take the case: in progress, owned by the key's name."""
    result = case_service.start(ws, case_id, _worker(who, rt), policy=rt.policy)
    rt.wrote()
    return out(who, result)  # type: ignore[no-any-return]


@router.post("/cases/{case_id}/assign", response_model=Case, tags=["cases"])
def assign(case_id: str, body: AssignIn, who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Give the case to an owner (and, optionally, another department)."""
    result = case_service.assign(
        ws, case_id, _worker(who, rt), body.owner, body.department, rt.policy
    )
    rt.wrote()
    return out(who, result)  # type: ignore[no-any-return]


@router.post("/cases/{case_id}/resolve", response_model=Case, tags=["cases"])
def resolve(case_id: str, body: ResolveIn, who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Resolve with a note; a follow-up is promised after ``follow_up_days``."""
    actor = _worker(who, rt)
    result = case_service.resolve(
        ws, case_id, actor, body.note, timedelta(days=body.follow_up_days)
    )
    rt.wrote()
    return out(who, result)  # type: ignore[no-any-return]


@router.post("/cases/{case_id}/follow-up", response_model=Case, tags=["cases"])
def follow_up(case_id: str, body: NoteIn, who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Record that the promised follow-up happened (closes the case)."""
    result = case_service.follow_up(ws, case_id, _worker(who, rt), body.note)
    rt.wrote()
    return out(who, result)  # type: ignore[no-any-return]


@router.post("/cases/{case_id}/grants", status_code=201, response_model=GrantOut, tags=["remedies"])
def grant(case_id: str, body: RemedyIn, who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Grant a remedy this key's role may give without approval. Beyond it: 403
    ``policy_denied`` naming the role that may (ask with ``POST .../approvals``)."""
    who.require("grant")
    actor = who.actor(rt.policy)
    case_service.get_case(ws, case_id)
    try:
        decision = approval_service.grant(
            ws, case_id, body.remedy, body.amount, actor, rt.policy, body.note
        )
    except PolicyError as exc:
        raise _denied(exc, who) from None
    rt.wrote()
    return out(who, {"case_id": case_id, "granted_by": actor.name, **asdict(decision)})  # type: ignore[no-any-return]


@router.post(
    "/cases/{case_id}/approvals", status_code=201, response_model=Approval, tags=["remedies"]
)
def request_approval(case_id: str, body: RemedyIn, who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Ask for a remedy beyond this key's authority; the policy names who must approve."""
    who.require("grant")
    actor = who.actor(rt.policy)
    case_service.get_case(ws, case_id)
    try:
        approval_id = approval_service.request_approval(
            ws, case_id, body.remedy, body.amount, actor, rt.policy, body.note
        )
    except PolicyError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    rt.wrote()
    return out(who, case_reads.approval(ws, approval_id))  # type: ignore[no-any-return]


@router.get("/approvals", response_model=PageOut[Approval], tags=["remedies"])
def approvals(
    who: Who, ws: Ws, p: Page, pending: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    """Approval requests (only the undecided ones with ``pending=true``), oldest first."""
    return page(who, case_reads.approvals(ws, pending), p)


@router.post("/approvals/{approval_id}/decision", response_model=Approval, tags=["remedies"])
def decide(approval_id: int, body: DecisionIn, who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Approve (and so grant) or deny. Approving needs a role the policy lets grant it."""
    who.require("decide_approvals")
    actor = who.actor(rt.policy)
    row = case_reads.approval(ws, approval_id)
    if row["decision"] is not None:
        raise ApiError(409, "conflict", f"approval {approval_id} was already {row['decision']}")
    try:
        result = approval_service.decide_approval(
            ws, approval_id, actor, rt.policy, body.approve, body.note
        )
    except PolicyError as exc:
        raise _denied(exc, who) from None
    rt.wrote()
    return out(who, result)  # type: ignore[no-any-return]


@router.get("/audit", response_model=PageOut[AuditEntry], tags=["cases"])
def audit(who: Who, ws: Ws, p: Page, case_id: str | None = None) -> dict[str, Any]:
    """Every action on cases (who, in which role, under which policy version)."""
    return page(who, case_reads.audit(ws, case_id), p)


@router.get(
    "/policy", response_model=PolicyOut, response_model_exclude_unset=True, tags=["remedies"]
)
def policy(who: Who, rt: Rt) -> dict[str, Any]:
    """The empowerment policy in force, and what this key may grant without approval."""
    mine = [
        {
            "remedy": e.remedy.value,
            "customer_tier": e.customer_tier.value,
            "lines": [rt.policy.grants[i].as_dict() for i in e.grants],
        }
        for e in entitlements(rt.policy)
        if e.role == who.grant_as and e.grants
    ]
    return {"policy": rt.policy.as_dict(), "grant_as": who.grant_as, "may_grant": mine}
