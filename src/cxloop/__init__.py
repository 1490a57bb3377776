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
from cxloop.results.journeys import FunnelReport, Paths
from cxloop.results.outcomes import HealthReport, PromiseValue, Qini, RemediesReport
from cxloop.results.outreach import IncidentDetail, SendReport
from cxloop.services.cases import Actor, SyncReport
from cxloop.services.funnels import FunnelCustomers, FunnelResult
from cxloop.services.health import Health
from cxloop.services.ingest import IngestReport
from cxloop.services.journeys import Journeys
from cxloop.services.ledger import LedgerBuild
from cxloop.services.outreach import Draft
from cxloop.services.recovery import Advice
from cxloop.services.sending import DeliveryReport
from cxloop.services.voice import Voice
from cxloop.settings import Settings
from cxloop.version import __version__

__all__ = [
    "Actor",
    "Advice",
    "Busy",
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
    "Health",
    "HealthReport",
    "Incident",
    "IncidentDetail",
    "IngestReport",
    "InputError",
    "Journeys",
    "LedgerBuild",
    "MappingError",
    "NotFoundError",
    "Notice",
    "Paths",
    "Policy",
    "PolicyError",
    "PromiseRule",
    "PromiseState",
    "PromiseValue",
    "Qini",
    "Receipt",
    "RemediesReport",
    "Remedy",
    "RuleError",
    "RuleSet",
    "SendReport",
    "Settings",
    "SignalRules",
    "StoreError",
    "SyncReport",
    "Unsupported",
    "Voice",
    "__version__",
    "open",
]
