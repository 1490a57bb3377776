"""Journeys (C6, docs/journeys.md): the journey map, one customer's path, where it tanks,
and the customers behind each figure."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from cxloop.library.reports_base import ReportBase

if TYPE_CHECKING:
    from cxloop.services.journeys.stages import Journeys
    from cxloop.services.voice.analysis import Voice


class JourneysMixin(ReportBase):
    def journeys(self, as_of: datetime | None = None) -> Journeys:
        """The journeys of every customer (stages: the ``journeys`` setting's file, else
        the built-in commerce stages); ``with cx.journeys() as j: j.stage_map()``."""
        from cxloop.services.journeys.stages import Journeys

        return Journeys(self.workspace, as_of)

    def journey_map(self, voice: Voice | None = None) -> pd.DataFrame:
        """One row per stage: customers reaching it, median hours from the stage it
        follows, drop-offs, scores; with ``voice``, texts, sentiment and keywords too."""
        from cxloop.services.journeys.voice import stage_voice

        with self.journeys() as j:
            df = j.stage_map()
            if voice is not None:
                df = df.merge(stage_voice(j, voice), on="stage", how="left")
            return df

    def journey_path(self, customer_id: str) -> pd.DataFrame:
        """One customer's stages in the order entered (NotFoundError when none)."""
        with self.journeys() as j:
            return j.path(customer_id)

    def journey_scores(self) -> pd.DataFrame:
        with self.journeys() as j:
            return j.stage_scores()

    def journey_tanks(self, outcome: str | None = None, fdr: float = 0.05) -> pd.DataFrame:
        """Where it tanks: per stage, the factors that go with dropping off or a low score."""
        with self.journeys() as j:
            return j.tanks(outcome, fdr)

    def journey_customers(
        self, stage: str, which: str = "reached", factor: str | None = None
    ) -> pd.DataFrame:
        """The customers behind a journey figure (``reached``, ``dropped``, ``low score``
        at ``stage``; with ``factor``, those who also had it)."""
        with self.journeys() as j:
            return j.customers(stage, which, factor)
