"""What customers and employees say (C5, docs/voice.md): scores, sentiment, topics,
emerging topics, drivers, and the two voices compared per policy or practice."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cxloop.library.reports_base import ReportBase
from cxloop.services.voice.analysis import GROUPS, PERIODS, Progress

if TYPE_CHECKING:
    from cxloop.services.voice.analysis import Voice

#: what scores may be broken down by: a period or a group
SCORE_BY = (*PERIODS, *GROUPS)


class VoiceMixin(ReportBase):
    def voice(
        self, sentiment: str = "auto", k: int | None = None, progress: Progress | None = None
    ) -> Voice:
        """Voice analytics on a snapshot of the log: ``.scores(by=...)``, ``.sentiment``,
        ``.topics()``; pass it to :meth:`voice_emerging`, :meth:`voice_drivers`,
        :meth:`voice_compare`."""
        from cxloop.services.voice.analysis import Voice

        return Voice(self.workspace, sentiment=sentiment, k=k, progress=progress)

    def voice_scores(
        self,
        by: str | None = None,
        metric: str | None = None,
        *,
        voice: str | None = None,
        analysis: Voice | None = None,
    ) -> pd.DataFrame:
        """Scores with 95% intervals (``by`` a period or a group; ``voice``: customer or
        employee; ``analysis``: a :meth:`voice` computed before)."""
        return (analysis or self.voice()).scores(by=by, metric=metric, voice=voice)

    def voice_topics(self, k: int | None = None, voice: Voice | None = None) -> pd.DataFrame:
        return (voice or self.voice(k=k)).topics()

    @staticmethod
    def voice_most_negative(rows: pd.DataFrame, days: int = 30, n: int = 10) -> pd.DataFrame:
        """The ``n`` lowest-polarity texts of the last ``days`` among those scored negative
        (``rows``: a Voice's ``frame`` joined with its ``sentiment``)."""
        from cxloop.services.voice import insights as voice_insights

        return voice_insights.most_negative(rows, days, n)

    def voice_emerging(
        self,
        period: timedelta = timedelta(days=28),
        baseline: timedelta | None = timedelta(days=168),
        voice: Voice | None = None,
        as_of: datetime | None = None,
    ) -> pd.DataFrame:
        from cxloop.services.voice import insights as voice_insights

        return voice_insights.emerging(voice or self.voice(), period, baseline, as_of=as_of)

    def voice_drivers(self, metric: str | None = None, voice: Voice | None = None) -> pd.DataFrame:
        from cxloop.services.voice import insights as voice_insights

        return voice_insights.drivers(voice or self.voice(), metric)

    def voice_compare(
        self, subjects: Path | None = None, voice: Voice | None = None
    ) -> pd.DataFrame:
        from cxloop.services.voice import insights as voice_insights

        return voice_insights.compare(voice or self.voice(), subjects)
