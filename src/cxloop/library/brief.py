"""The daily brief (C8) in the library: the brief and the actions recorded on its items, as
typed results (:mod:`cxloop.results.brief`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cxloop.serialize import clean

if TYPE_CHECKING:
    from cxloop.results.brief import Brief, BriefAction
    from cxloop.services.voice.analysis import Voice
    from cxloop.workspace.workspace import Workspace


class BriefMixin:
    """The brief's methods of :class:`cxloop.Cxloop`."""

    workspace: Workspace

    def brief(
        self,
        voice: Voice | None = None,
        *,
        as_of: datetime | None = None,
        detectors: Path | None = None,
    ) -> Brief:
        """The daily brief as of ``as_of`` (default: the store's clock): what customers say,
        what employees say, the one thing to do (ranked candidates with their customers and
        cases), past actions' effect."""
        from cxloop.results.brief import Brief
        from cxloop.services.brief import daily as brief_service

        found = brief_service.brief(self.workspace, voice, as_of=as_of, detectors=detectors)
        return Brief.model_validate(clean(found))

    def brief_act(
        self,
        key: str,
        note: str,
        actor: str,
        *,
        voice: Voice | None = None,
        as_of: datetime | None = None,
        detectors: Path | None = None,
        current: Brief | None = None,
    ) -> BriefAction:
        """Record what was done about a brief item; later briefs rank it below the others
        until its figures change, and show its effect. ``current``: the brief when the
        caller has it already (else the brief as of ``as_of`` is made)."""
        from cxloop.results.brief import BriefAction
        from cxloop.services.brief import daily as brief_service

        done = brief_service.act(
            self.workspace,
            key,
            note,
            actor,
            voice,
            current=current.as_dict() if current is not None else None,
            as_of=as_of,
            detectors=detectors,
        )
        return BriefAction.model_validate(clean(done))

    def brief_actions(self) -> list[BriefAction]:
        """Actions recorded on brief items (append-only), with the item's figures then."""
        from cxloop.results.brief import BriefAction
        from cxloop.services.log import listings as reads

        return [BriefAction.model_validate(clean(r)) for r in reads.brief_actions(self.workspace)]
