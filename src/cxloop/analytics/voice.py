"""What customers and employees say: one row per survey answer, review, inbound contact or
employee comment, with its score, text, and the context the voice reports group by.

Journey stage: ``attrs.stage`` when the source gives it; otherwise from the survey's name
(``post_delivery`` -> ``delivery``), ``delivery`` for reviews (written after the order
arrived), ``support`` for contacts.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_number, attr_text
from cxloop.domain.events import VOICE_TYPES
from cxloop.domain.events import EventType as E

VOICE_COLUMNS = (
    "event_id",
    "customer_id",
    "event_type",
    "voice",
    "ts",
    "department",
    "channel",
    "ref",
    "metric",
    "score",
    "text",
    "lang",
    "survey",
    "stage",
    "about",
)
STAGE_WORDS = ("purchase", "delivery", "support", "billing", "returns", "onboarding", "renewal")


def _clean(value: ir.StringValue) -> ir.StringValue:
    stripped = value.strip()
    return ibis.ifelse(stripped == "", ibis.null("string"), stripped)


def voice_expr(events: ir.Table) -> ir.Table:
    """The voice rows of the event log (texts may be null: a score without a comment)."""
    t = events.filter(events.event_type.isin([v.value for v in VOICE_TYPES]))
    title, body = _clean(attr_text(t.attrs, "title")), _clean(attr_text(t.attrs, "text"))
    text = ibis.coalesce(title + ". " + body, body, title)
    survey = attr_text(t.attrs, "survey")
    metric = ibis.coalesce(
        attr_text(t.attrs, "metric").lower(),
        ibis.ifelse(t.event_type == E.REVIEW.value, "review", ibis.null("string")),
    )
    named = ibis.cases(
        *[(survey.lower().contains(w), w) for w in STAGE_WORDS], else_=ibis.null("string")
    )
    stage = ibis.coalesce(
        attr_text(t.attrs, "stage").lower(),
        named,
        ibis.cases(
            (t.event_type == E.REVIEW.value, "delivery"),
            (t.event_type == E.CONTACT_INBOUND.value, "support"),
            (t.event_type == E.EMPLOYEE_FEEDBACK.value, "employee"),
            else_="other",
        ),
    )
    return t.select(
        "event_id",
        "customer_id",
        "event_type",
        voice=ibis.ifelse(t.event_type == E.EMPLOYEE_FEEDBACK.value, "employee", "customer"),
        ts="ts",
        department="department",
        channel=ibis.coalesce(t.channel, "unknown"),
        ref="ref",
        metric=metric,
        score=attr_number(t.attrs, "score"),
        text=text,
        lang=attr_text(t.attrs, "lang"),
        survey=survey,
        stage=stage,
        about=attr_text(t.attrs, "about"),
    )
