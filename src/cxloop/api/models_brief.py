"""The brief's answers (C8) are the library's own types: they are defined once, in
:mod:`cxloop.results.brief`; this module only names them for imports written before."""

from __future__ import annotations

from cxloop.results.brief import Brief, BriefAction, BriefItem

__all__ = ["Brief", "BriefAction", "BriefItem"]
