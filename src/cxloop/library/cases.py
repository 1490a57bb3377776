"""Recovery at the right level (C3) in the library: cases, advice, grants, approvals, the
audit trail and the empowerment policy, as typed results (:mod:`cxloop.results.cases`).

The command line, the API and the dashboard call these methods; each answer is assembled
here once."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cxloop.serialize import clean
from cxloop.services.recovery import cases as case_service

if TYPE_CHECKING:
    from cxloop.domain.cases import SignalRules
    from cxloop.domain.policy import Policy
    from cxloop.domain.remedies import Remedy
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
    from cxloop.services.recovery.cases import Actor
    from cxloop.workspace.workspace import Workspace


class CasesMixin:
    """The cases methods of :class:`cxloop.Cxloop`."""

    workspace: Workspace

    if TYPE_CHECKING:

        @property
        def policy(self) -> Policy: ...

    def sync_cases(
        self, rules: SignalRules | None = None, as_of: datetime | None = None
    ) -> SyncReport:
        """Raise cases from the current signals (safe to re-run)."""
        return case_service.sync_cases(self.workspace, rules, as_of)

    def cases(self, **where: str | None) -> list[Case]:
        """Cases, oldest first, filtered by any of state, department, owner, customer_id."""
        from cxloop.results.cases import Case
        from cxloop.services.recovery import reads as case_reads

        return [Case.model_validate(r) for r in case_reads.list_cases(self.workspace, **where)]

    def case(self, case_id: str) -> CaseDetail:
        """A case with its signals and audit trail."""
        from cxloop.results.cases import CaseDetail
        from cxloop.services.recovery import reads as case_reads

        return CaseDetail.model_validate(case_reads.case_detail(self.workspace, case_id))

    def start_case(self, case_id: str, actor: Actor, owner: str | None = None) -> Case:
        """Take the case: in progress, owned by ``owner`` (default: the actor)."""
        from cxloop.results.cases import Case

        row = case_service.start(self.workspace, case_id, actor, owner, self.policy)
        return Case.model_validate(row)

    def assign_case(
        self, case_id: str, actor: Actor, owner: str, department: str | None = None
    ) -> Case:
        """Give the case to an owner (and, optionally, another department)."""
        from cxloop.results.cases import Case

        row = case_service.assign(self.workspace, case_id, actor, owner, department, self.policy)
        return Case.model_validate(row)

    def resolve_case(
        self,
        case_id: str,
        actor: Actor,
        note: str,
        follow_up_in: timedelta = case_service.FOLLOW_UP_AFTER,
        at: datetime | None = None,
    ) -> Case:
        """Resolve with a note; a follow-up is promised after ``follow_up_in``."""
        from cxloop.results.cases import Case

        row = case_service.resolve(self.workspace, case_id, actor, note, follow_up_in, at)
        return Case.model_validate(row)

    def follow_up_case(
        self, case_id: str, actor: Actor, note: str, at: datetime | None = None
    ) -> Case:
        """Record that the promised follow-up happened (closes the case)."""
        from cxloop.results.cases import Case

        row = case_service.follow_up(self.workspace, case_id, actor, note, at)
        return Case.model_validate(row)

    def recover(self, case_id: str, role: str = "agent") -> Advice:
        """The recommended remedy for a case, each line judged by the policy for ``role``."""
        from cxloop.results.cases import Advice
        from cxloop.services.recovery import advice as recovery_service

        found = recovery_service.advise(self.workspace, case_id, role, self.policy)
        return Advice.model_validate(found.as_dict())

    def advice_role(self, grant_as: str | None) -> str:
        """The role a caller's advice is judged for: the one it grants as, else the lowest."""
        from cxloop.services.recovery import advice as recovery_service

        return recovery_service.judged_role(grant_as, self.policy)

    def advice_for(self, case_id: str, key: str, grant_as: str | None) -> Advice:
        """The advice as the holder of API key ``key`` sees it: judged for the role it grants
        as (else the lowest); one who may not grant may grant no line now."""
        from cxloop.results.cases import JudgedFor

        seen = self.recover(case_id, self.advice_role(grant_as)).seen_by(grant_as)
        return seen.model_copy(update={"judged_for": JudgedFor(key=key, grant_as=grant_as)})

    def grant(
        self, case_id: str, remedy: Remedy | str, amount: float, actor: Actor, note: str = ""
    ) -> GrantOut:
        """Grant a remedy within the actor's authority (PolicyError beyond it)."""
        from cxloop.domain.remedies import Remedy
        from cxloop.results.cases import GrantOut
        from cxloop.services.recovery import approvals as approval_service

        case_service.get_case(self.workspace, case_id)
        decision = approval_service.grant(
            self.workspace, case_id, Remedy(remedy), amount, actor, self.policy, note
        )
        return GrantOut.model_validate(
            {"case_id": case_id, "granted_by": actor.name, **asdict(decision)}
        )

    def request_approval(
        self, case_id: str, remedy: Remedy | str, amount: float, actor: Actor, note: str = ""
    ) -> Approval:
        """Ask for a remedy beyond the actor's authority; the policy names who must approve."""
        from cxloop.domain.remedies import Remedy
        from cxloop.services.recovery import approvals as approval_service

        case_service.get_case(self.workspace, case_id)
        approval_id = approval_service.request_approval(
            self.workspace, case_id, Remedy(remedy), amount, actor, self.policy, note
        )
        return self.approval(approval_id)

    def decide_approval(
        self, approval_id: int, actor: Actor, approve: bool, note: str = ""
    ) -> Approval:
        """Approve (and so grant) or deny a pending request."""
        from cxloop.results.cases import Approval
        from cxloop.services.recovery import approvals as approval_service

        row = approval_service.decide_approval(
            self.workspace, approval_id, actor, self.policy, approve, note
        )
        return Approval.model_validate(row)

    def approval(self, approval_id: int) -> Approval:
        """One approval request and its decision (NotFoundError when there is none)."""
        from cxloop.results.cases import Approval
        from cxloop.services.recovery import reads as case_reads

        return Approval.model_validate(case_reads.approval(self.workspace, approval_id))

    def approvals(self, pending_only: bool = False) -> list[Approval]:
        """Approval requests (only the undecided ones with ``pending_only``), oldest first."""
        from cxloop.results.cases import Approval
        from cxloop.services.recovery import reads as case_reads

        rows = case_reads.approvals(self.workspace, pending_only)
        return [Approval.model_validate(r) for r in rows]

    def audit(self, case_id: str | None = None) -> list[AuditEntry]:
        """The append-only audit trail, of one case or of all."""
        from cxloop.results.cases import AuditEntry
        from cxloop.services.recovery import reads as case_reads

        return [AuditEntry.model_validate(r) for r in case_reads.audit(self.workspace, case_id)]

    def case_metrics(self, department: str | None = None) -> CaseMetrics:
        """Time to resolve, SLA, first-contact resolution, approvals' wait, follow-ups."""
        from cxloop.results.cases import CaseMetrics
        from cxloop.services.recovery.metrics import case_metrics

        return CaseMetrics.model_validate(clean(case_metrics(self.workspace, department)))

    def policy_for(self, grant_as: str | None) -> PolicyOut:
        """The empowerment policy in force, and what a caller granting as ``grant_as`` may
        grant without approval."""
        from cxloop.domain.policy import entitlements
        from cxloop.results.cases import Entitlement, PolicyOut

        policy = self.policy
        mine = [
            Entitlement.model_validate(
                {
                    "remedy": e.remedy.value,
                    "customer_tier": e.customer_tier.value,
                    "lines": [policy.grants[i].as_dict() for i in e.grants],
                }
            )
            for e in entitlements(policy)
            if e.role == grant_as and e.grants
        ]
        return PolicyOut.model_validate(
            {"policy": policy.as_dict(), "grant_as": grant_as, "may_grant": mine}
        )
