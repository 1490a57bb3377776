"""cxloop: closed-loop customer experience.

>>> import cxloop
>>> cx = cxloop.open(".cxloop")
>>> cx.ingest("exports/", source="generic")
>>> cx.promise_report(by="department")

Everything a program needs to call the library is importable from here (the names in
:data:`__all__`); the modules behind them may move.
"""

import typing as _typing

from cxloop.errors import (
    Busy,
    ConfigError,
    ConflictError,
    CxloopError,
    DeliveryError,
    InputError,
    MappingError,
    NotFoundError,
    PolicyError,
    RuleError,
    StoreError,
    Unsupported,
)
from cxloop.settings import Settings
from cxloop.version import __version__

if _typing.TYPE_CHECKING:
    from cxloop.client import Cxloop, open
    from cxloop.domain.cases import SignalRules
    from cxloop.domain.events import Department, EventType
    from cxloop.domain.funnels import FunnelSpec
    from cxloop.domain.incidents import Incident
    from cxloop.domain.policy import Policy
    from cxloop.domain.promises import PromiseRule, PromiseState, RuleSet
    from cxloop.domain.remedies import Remedy
    from cxloop.domain.sending import Notice, Receipt
    from cxloop.notify.base import Channel
    from cxloop.results.brief import Brief, BriefAction
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
    from cxloop.results.journeys import FunnelReport, Paths
    from cxloop.results.ledger import (
        Baseline,
        IngestRun,
        LedgerBuild,
        LedgerStatus,
        Promise,
        PromiseCounts,
        Quarantined,
        TimelineEvent,
    )
    from cxloop.results.outcomes import HealthReport, PromiseValue, Qini, RemediesReport
    from cxloop.results.outreach import IncidentDetail, SendReport
    from cxloop.services.brief.refresh import Refreshed
    from cxloop.services.incidents.outreach import Draft
    from cxloop.services.incidents.sending import DeliveryReport
    from cxloop.services.journeys.funnels import FunnelCustomers, FunnelResult
    from cxloop.services.journeys.stages import Journeys
    from cxloop.services.log.corrections import Operator
    from cxloop.services.log.ingest import IngestReport
    from cxloop.services.outcomes.health import Health
    from cxloop.services.recovery.cases import Actor
    from cxloop.services.voice.analysis import Voice

#: Where each public name lives: imported on first use (PEP 562), so that ``import cxloop``
#: and a command that needs a little of it (``cxloop timeline``) do not pay for all of it.
_LAZY = {
    "Cxloop": "cxloop.client",
    "open": "cxloop.client",
    "SignalRules": "cxloop.domain.cases",
    "Department": "cxloop.domain.events",
    "EventType": "cxloop.domain.events",
    "FunnelSpec": "cxloop.domain.funnels",
    "Incident": "cxloop.domain.incidents",
    "Policy": "cxloop.domain.policy",
    "PromiseRule": "cxloop.domain.promises",
    "PromiseState": "cxloop.domain.promises",
    "RuleSet": "cxloop.domain.promises",
    "Remedy": "cxloop.domain.remedies",
    "Notice": "cxloop.domain.sending",
    "Receipt": "cxloop.domain.sending",
    "Channel": "cxloop.notify.base",
    "Brief": "cxloop.results.brief",
    "BriefAction": "cxloop.results.brief",
    "Advice": "cxloop.results.cases",
    "Approval": "cxloop.results.cases",
    "AuditEntry": "cxloop.results.cases",
    "Case": "cxloop.results.cases",
    "CaseDetail": "cxloop.results.cases",
    "CaseMetrics": "cxloop.results.cases",
    "GrantOut": "cxloop.results.cases",
    "PolicyOut": "cxloop.results.cases",
    "SyncReport": "cxloop.results.cases",
    "FunnelReport": "cxloop.results.journeys",
    "Paths": "cxloop.results.journeys",
    "Baseline": "cxloop.results.ledger",
    "IngestRun": "cxloop.results.ledger",
    "LedgerBuild": "cxloop.results.ledger",
    "LedgerStatus": "cxloop.results.ledger",
    "Promise": "cxloop.results.ledger",
    "PromiseCounts": "cxloop.results.ledger",
    "Quarantined": "cxloop.results.ledger",
    "TimelineEvent": "cxloop.results.ledger",
    "HealthReport": "cxloop.results.outcomes",
    "PromiseValue": "cxloop.results.outcomes",
    "Qini": "cxloop.results.outcomes",
    "RemediesReport": "cxloop.results.outcomes",
    "IncidentDetail": "cxloop.results.outreach",
    "SendReport": "cxloop.results.outreach",
    "Refreshed": "cxloop.services.brief.refresh",
    "Draft": "cxloop.services.incidents.outreach",
    "DeliveryReport": "cxloop.services.incidents.sending",
    "FunnelCustomers": "cxloop.services.journeys.funnels",
    "FunnelResult": "cxloop.services.journeys.funnels",
    "Journeys": "cxloop.services.journeys.stages",
    "Operator": "cxloop.services.log.corrections",
    "IngestReport": "cxloop.services.log.ingest",
    "Health": "cxloop.services.outcomes.health",
    "Actor": "cxloop.services.recovery.cases",
    "Voice": "cxloop.services.voice.analysis",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cxloop' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Actor",
    "Advice",
    "Approval",
    "AuditEntry",
    "Baseline",
    "Brief",
    "BriefAction",
    "Busy",
    "Case",
    "CaseDetail",
    "CaseMetrics",
    "Channel",
    "ConfigError",
    "ConflictError",
    "Cxloop",
    "CxloopError",
    "DeliveryError",
    "DeliveryReport",
    "Department",
    "Draft",
    "EventType",
    "FunnelCustomers",
    "FunnelReport",
    "FunnelResult",
    "FunnelSpec",
    "GrantOut",
    "Health",
    "HealthReport",
    "Incident",
    "IncidentDetail",
    "IngestReport",
    "IngestRun",
    "InputError",
    "Journeys",
    "LedgerBuild",
    "LedgerStatus",
    "MappingError",
    "NotFoundError",
    "Notice",
    "Operator",
    "Paths",
    "Policy",
    "PolicyError",
    "PolicyOut",
    "Promise",
    "PromiseCounts",
    "PromiseRule",
    "PromiseState",
    "PromiseValue",
    "Qini",
    "Quarantined",
    "Receipt",
    "Refreshed",
    "RemediesReport",
    "Remedy",
    "RuleError",
    "RuleSet",
    "SendReport",
    "Settings",
    "SignalRules",
    "StoreError",
    "SyncReport",
    "TimelineEvent",
    "Unsupported",
    "Voice",
    "__version__",
    "open",
]
