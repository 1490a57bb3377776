"""cxloop: closed-loop customer experience.

>>> import cxloop
>>> cx = cxloop.open(".cxloop")
>>> cx.ingest("exports/", source="generic")
>>> cx.promise_report(by="department")
"""

from cxloop.client import Cxloop, open
from cxloop.domain.events import Department, EventType
from cxloop.domain.promises import PromiseRule, PromiseState, RuleSet
from cxloop.errors import (
    ConfigError,
    CxloopError,
    InputError,
    MappingError,
    NotFoundError,
    RuleError,
    StoreError,
)
from cxloop.settings import Settings
from cxloop.version import __version__

__all__ = [
    "ConfigError",
    "Cxloop",
    "CxloopError",
    "Department",
    "EventType",
    "InputError",
    "MappingError",
    "NotFoundError",
    "PromiseRule",
    "PromiseState",
    "RuleError",
    "RuleSet",
    "Settings",
    "StoreError",
    "__version__",
    "open",
]
