"""Voice (C5), outreach (C4) and the daily brief (C8); plus who the caller is."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cxloop.api.deps import Cx, Page, PageOut, Rt, Who, Ws, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES, ApiError
from cxloop.api.inputs import Ident, NonEmptyNote
from cxloop.api.library import Workspace, of
from cxloop.api.models_insight import Me
from cxloop.library.voice import SCORE_BY
from cxloop.results.brief import Brief, BriefAction
from cxloop.results.outreach import (
    CohortRow,
    Incident,
    IncidentDetail,
    IncidentSeen,
    Notice,
    Sending,
    SendReport,
)
from cxloop.results.voice import Comparison, Driver, Emerging, Score, Topic

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
ScoreBy = Literal["week", "month", "department", "channel", "stage", "survey", "voice"]
assert set(ScoreBy.__args__) == set(SCORE_BY)  # type: ignore[attr-defined]


class SendIn(BaseModel):
    channel: Literal["email", "webhook"] = "email"
    limit: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    retry_uncertain: bool = False


class ActIn(BaseModel):
    key: Annotated[Ident, Field(min_length=1, max_length=300)]
    note: NonEmptyNote


@router.get("/me", response_model=Me, tags=["access"])
def me(who: Who) -> dict[str, Any]:
    """The caller's key: name, role, the policy role it grants as, what it may do."""
    return who.as_dict()


def _frame(df: pd.DataFrame) -> list[dict[str, Any]]:
    return rows(df.reset_index(drop=True), ())


@router.get(
    "/voice/scores", response_model=list[Score], response_model_exclude_unset=True, tags=["voice"]
)
def voice_scores(
    who: Who,
    rt: Rt,
    ws: Ws,
    by: ScoreBy | None = None,
    metric: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[a-z0-9_]+$",
            description="A declared metric: nps, csat, ces, review, enps, pulse or one of "
            "the metrics file's (setting metrics); unknown is a 400 naming them.",
        ),
    ] = None,
    voice: Literal["customer", "employee"] | None = None,
) -> list[dict[str, Any]]:
    """NPS / CSAT / CES / review and the employees' eNPS / pulse (or the metrics configured),
    with 95% intervals; per period with the change from the previous one and its p-value."""
    result = rt.cached(
        ("voice_scores", by, metric, voice),
        lambda w: _frame(of(w).voice_scores(by, metric, voice=voice)),
        ws,
    )
    return out(who, result)  # type: ignore[no-any-return]


@router.get("/voice/topics", response_model=list[Topic], tags=["voice"])
def voice_topics(
    who: Who, rt: Rt, ws: Ws, k: Annotated[int | None, Query(ge=2, le=100)] = None
) -> list[dict[str, Any]]:
    """What customers write about: topics with share, negativity, mean score, examples."""
    result = rt.cached(("voice_topics", k), lambda w: _frame(of(w).voice_topics(k)), ws)
    return out(who, result)  # type: ignore[no-any-return]


@router.get("/voice/emerging", response_model=list[Emerging], tags=["voice"])
def voice_emerging(
    who: Who,
    rt: Rt,
    ws: Ws,
    period_days: Annotated[int, Query(ge=1, le=365)] = 28,
    baseline_days: Annotated[int | None, Query(ge=1, le=3650)] = 168,
) -> list[dict[str, Any]]:
    """Topics growing or souring in the latest period against the baseline (tested, FDR)."""
    base = timedelta(days=baseline_days) if baseline_days else None

    def compute(w: Workspace) -> list[dict[str, Any]]:
        found = of(w).voice_emerging(timedelta(days=period_days), base)
        return _frame(found)

    return out(who, rt.cached(("voice_emerging", period_days, baseline_days), compute, ws))  # type: ignore[no-any-return]


@router.get("/voice/drivers", response_model=list[Driver], tags=["voice"])
def voice_drivers(
    who: Who,
    rt: Rt,
    ws: Ws,
    metric: Literal["nps", "csat", "ces", "review"] | None = None,
) -> list[dict[str, Any]]:
    """Which topics and promise outcomes move the scores, with effect sizes."""
    result = rt.cached(("voice_drivers", metric), lambda w: _frame(of(w).voice_drivers(metric)), ws)
    return out(who, result)  # type: ignore[no-any-return]


@router.get("/voice/compare", response_model=list[Comparison], tags=["voice"])
def voice_compare(who: Who, rt: Rt, ws: Ws) -> list[dict[str, Any]]:
    """Per policy / practice: what customers say and what employees say, with a verdict."""
    result = rt.cached(("voice_compare",), lambda w: _frame(of(w).voice_compare()), ws)
    return out(who, result)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- outreach (C4)
@router.get("/incidents", response_model=PageOut[IncidentSeen], tags=["outreach"])
def incidents(who: Who, cx: Cx, p: Page) -> dict[str, Any]:
    """Systemic failures found so far (detect them with ``POST /incidents/detect``)."""
    return page(who, cx.incidents(), p)


@router.post("/incidents/detect", response_model=list[Incident], tags=["outreach"])
def detect(who: Who, rt: Rt, cx: Cx) -> list[dict[str, Any]]:
    """Run the detectors over the log (stable ids; re-running adds nothing new)."""
    who.require("detect_incidents")
    found = cx.detect_incidents()
    rt.wrote()
    return out(who, cx.incident_rows(found))  # type: ignore[no-any-return]


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, tags=["outreach"])
def incident(incident_id: str, who: Who, cx: Cx) -> IncidentDetail:
    """An incident with its outreach summary: customers, complained or not, addresses."""
    return cx.incident_detail(incident_id)


@router.get("/incidents/{incident_id}/cohort", response_model=PageOut[CohortRow], tags=["outreach"])
def cohort(incident_id: str, who: Who, cx: Cx, p: Page) -> dict[str, Any]:
    """Every affected customer-fact of the incident, whether they complained or not."""
    return page(who, rows(cx.cohort(incident_id), ()), p)


@router.get("/incidents/{incident_id}/notices", response_model=PageOut[Notice], tags=["outreach"])
def notices(incident_id: str, who: Who, cx: Cx, p: Page) -> dict[str, Any]:
    """The notices that would go out (one per customer); nothing is sent."""
    drafted = cx.draft_outreach(incident_id).notices
    return page(who, [asdict(n) for n in drafted], p)


@router.post("/incidents/{incident_id}/send", response_model=SendReport, tags=["outreach"])
def send(incident_id: str, body: SendIn, who: Who, rt: Rt, cx: Cx) -> SendReport:
    """Queue and deliver the incident's notices (never twice per customer)."""
    who.require("send_outreach")
    cx.incident(incident_id)  # 404 before anything else
    report, _ = cx.send_notices(
        incident_id, body.channel, retry_uncertain=body.retry_uncertain, limit=body.limit
    )
    rt.wrote()
    return report


@router.get("/outreach", response_model=PageOut[Sending], tags=["outreach"])
def outreach_status(who: Who, cx: Cx, p: Page, incident_id: str | None = None) -> dict[str, Any]:
    """Every recorded send: status, attempts, receipt, error."""
    return page(who, cx.outreach_sends(incident_id), p)


# ---------------------------------------------------------------- the brief (C8)
def brief_of(rt: Rt, ws: Ws) -> Brief:
    return rt.cached(("brief",), lambda w: rt.library(w).brief(), ws)


@router.get("/brief", response_model=Brief, tags=["brief"])
def brief(who: Who, rt: Rt, ws: Ws) -> Brief:
    """What customers say, what employees say, and the one thing to do today (ranked by
    control x customers and revenue affected), with the customers and cases behind each
    item and the effect of actions already taken."""
    return brief_of(rt, ws)


@router.get("/brief/actions", response_model=PageOut[BriefAction], tags=["brief"])
def brief_actions(who: Who, cx: Cx, p: Page) -> dict[str, Any]:
    """Actions recorded on brief items (append-only), with the item's figures then."""
    return page(who, cx.brief_actions(), p)


@router.post("/brief/actions", status_code=201, response_model=BriefAction, tags=["brief"])
def act(body: ActIn, who: Who, rt: Rt, ws: Ws, cx: Cx) -> BriefAction:
    """Record what was done about a brief item; later briefs show its figures then and now."""
    who.require("act_on_brief")
    current = brief_of(rt, ws)
    if body.key not in {c.key for c in current.candidates}:
        raise ApiError(404, "not_found", f"no brief item {body.key!r} today")
    result = cx.brief_act(body.key, body.note, who.name, current=current)
    rt.wrote()
    return result
