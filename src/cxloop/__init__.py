"""cxloop: closed-loop customer experience.

>>> import cxloop
>>> cx = cxloop.open(".cxloop")
>>> cx.ingest("exports/", source="generic")
>>> cx.promise_report(by="department")

Everything a program needs to call the library is importable from here (the names in
:data:`__all__`); the modules behind them may move.
"""

from cxloop.client import Cxloop, open
from cxloop.domain.cases import SignalRules
from cxloop.domain.events import Department, EventType
from cxloop.domain.funnels import FunnelSpec
from cxloop.domain.incidents import Incident
from cxloop.domain.policy import Policy
from cxloop.domain.promises import PromiseRule, PromiseState, RuleSet
from cxloop.domain.remedies import Remedy
from cxloop.domain.sending import Notice, Receipt
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
from cxloop.settings import Settings
from cxloop.version import __version__

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
