"""The cases and remedies answers (C3) are the library's own types: they are defined once, in
:mod:`cxloop.results.cases`; this module only names them for imports written before."""

from __future__ import annotations

from cxloop.results.cases import (
    Advice,
    AdviceLine,
    Approval,
    ApprovalFigures,
    AuditEntry,
    Case,
    CaseDetail,
    CaseMetrics,
    Durations,
    Entitlement,
    FollowUps,
    GrantOut,
    JudgedFor,
    PolicyDoc,
    PolicyLine,
    PolicyOut,
    Signal,
    SyncReport,
    Totals,
)

__all__ = [
    "Advice",
    "AdviceLine",
    "Approval",
    "ApprovalFigures",
    "AuditEntry",
    "Case",
    "CaseDetail",
    "CaseMetrics",
    "Durations",
    "Entitlement",
    "FollowUps",
    "GrantOut",
    "JudgedFor",
    "PolicyDoc",
    "PolicyLine",
    "PolicyOut",
    "Signal",
    "SyncReport",
    "Totals",
]
