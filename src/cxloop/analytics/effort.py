"""Effort per issue, engine-side: contacts grouped into issues, and each issue's timeline.

Portable Ibis (DuckDB, PostgreSQL, Spark). Times are epoch seconds (float64) so that the
arithmetic compiles everywhere; every window that accumulates names its ROWS frame (the
SQL default, RANGE, would lump equal times together).

1. :func:`contact_issues`: each contact with its issue key ``ik``: the customer's issue on
   the contact's order, else on its subject within the rules' window, else on its case
   (the event's ``ref``).
2. :func:`issue_points`: the issue's timeline: contacts (``in``), replies and live answers
   (``out``), approvals asked and decided (``ask``, ``ok``).
3. :func:`issue_rows`: one row per issue with its counts and the four parts of its elapsed
   time (:data:`cxloop.domain.effort.WAIT_PARTS`), which add up to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_number, attr_text
from cxloop.domain.effort import EffortRules

IN, OUT, ASK, OK = 0, 1, 2, 3  # point kinds, also the order of points at one time
HOUR = 3600.0


def _blank_null(v: ir.StringValue) -> ir.StringValue:
    return ibis.ifelse(v.strip() == "", ibis.null("string"), v)


def contact_issues(events: ir.Table, rules: EffortRules, as_of: datetime) -> ir.Table:
    """Every contact up to ``as_of`` with its issue key ``ik`` and what the report needs."""
    c = events.filter(events.event_type.isin(list(rules.contact)) & (events.ts <= as_of))
    order = _blank_null(attr_text(c.attrs, rules.order_attr))
    subject = _blank_null(attr_text(c.attrs, rules.subject_attr))
    c = c.select(
        event_id=c.event_id,
        customer_id=ibis.coalesce(c.customer_id, ""),
        ts=c.ts,
        t=c.ts.epoch_seconds().cast("float64"),
        ref=ibis.coalesce(c.ref, c.event_id),
        channel=c.channel,
        department=c.department,
        team=attr_text(c.attrs, rules.team_attr),
        queue=attr_number(c.attrs, rules.hold_attr),
        kind=ibis.cases((order.notnull(), "order"), (subject.notnull(), "subject"), else_="case"),
        key=ibis.coalesce(order, subject, c.ref, c.event_id),
    )
    part = ["customer_id", "kind", "key"]
    w = ibis.window(group_by=part, order_by=["t", "event_id"])
    gap = c.t - c.t.lag().over(w)
    window_s = rules.window.total_seconds()
    c = c.mutate(new=ibis.ifelse(gap.isnull() | ((c.kind == "subject") & (gap > window_s)), 1, 0))
    run = ibis.window(group_by=part, order_by=["t", "event_id"], rows=(None, 0))
    c = c.mutate(issue_no=c.new.sum().over(run))
    ik = c.kind + ":" + c.key + "#" + c.issue_no.cast("string") + "@" + c.customer_id
    return c.mutate(ik=ik).drop("new")


def _ref_map(cons: ir.Table) -> ir.Table:
    """(customer, ref) -> issue: the events of a case belong to the issue of its contacts."""
    return cons.group_by(m_customer=cons.customer_id, m_ref=cons.ref).aggregate(m_ik=cons.ik.min())


def handled(events: ir.Table, cons: ir.Table, rules: EffortRules, as_of: datetime) -> ir.Table:
    """The replies, transfers and holds on every issue (one pass over the log): ik,
    event_type, event_id, t, hold (seconds)."""
    types = list(rules.reply + rules.transfer + rules.hold)
    e = events.filter(events.event_type.isin(types) & (events.ts <= as_of))
    refs = _ref_map(cons)
    j = e.join(refs, (e.ref == refs.m_ref) & (e.customer_id == refs.m_customer))
    return j.select(
        ik=j.m_ik,
        event_type=j.event_type,
        event_id=j.event_id,
        t=j.ts.epoch_seconds().cast("float64"),
        hold=attr_number(j.attrs, rules.hold_attr),
    )


def _approval_points(cons: ir.Table, approvals: ir.Table) -> ir.Table:
    """Approvals (customer_id, subject, approval_id, asked, decided: epoch seconds) on the
    issue their case's subject names: an order or a case ref."""
    by_order = cons.filter(cons.kind == "order")
    names = by_order.select(n_customer=by_order.customer_id, n_name=by_order.key, n_ik=by_order.ik)
    names = names.union(cons.select(n_customer=cons.customer_id, n_name=cons.ref, n_ik=cons.ik))
    names = names.group_by("n_customer", "n_name").aggregate(n_ik=names.n_ik.min())
    a = approvals.join(
        names, (approvals.customer_id == names.n_customer) & (approvals.subject == names.n_name)
    )
    ask = a.select(ik=a.n_ik, t=a.asked, kind=ibis.literal(ASK), pid=a.approval_id + ":ask")
    ok = a.select(ik=a.n_ik, t=a.decided, kind=ibis.literal(OK), pid=a.approval_id + ":ok")
    return ask.union(ok)


def issue_points(
    cons: ir.Table, done: ir.Table, rules: EffortRules, approvals: ir.Table | None = None
) -> ir.Table:
    """The timeline of every issue: (ik, t, kind, pid); ``done``: :func:`handled`."""
    ins = cons.select("ik", "t", kind=ibis.literal(IN), pid=cons.event_id)
    live = cons.filter(cons.channel.isin(list(rules.live_channels)))
    answered = live.select("ik", "t", kind=ibis.literal(OUT), pid=live.event_id + ":live")
    r = done.filter(done.event_type.isin(list(rules.reply)))
    outs = r.select("ik", "t", kind=ibis.literal(OUT), pid=r.event_id)
    pts = ins.union(answered).union(outs)
    if approvals is not None:
        pts = pts.union(_approval_points(cons, approvals))
    return pts


def _states(pts: ir.Table, approvals: bool) -> ir.Table:
    """``pending`` approvals after each point, whether the customer spoke last (``waiting``)
    and whether the organization had spoken last before it (``answered``). Without
    approvals every point is a message, so the last message is the point itself."""
    order = ["t", "kind", "pid"]
    w = ibis.window(group_by="ik", order_by=order)
    if not approvals:
        return pts.mutate(
            pending=ibis.literal(0),
            waiting=pts.kind == IN,
            answered=pts.kind.lag().over(w) == OUT,
        )
    run = ibis.window(group_by="ik", order_by=order, rows=(None, 0))
    pts = pts.mutate(seq=ibis.row_number().over(w))
    is_in, is_out = pts.kind == IN, pts.kind == OUT
    msg = ibis.cases((is_in, pts.seq * 2 + 1), (is_out, pts.seq * 2), else_=ibis.null("int64"))
    p = pts.mutate(
        pending=ibis.cases((pts.kind == ASK, 1), (pts.kind == OK, -1), else_=0).sum().over(run),
        last_msg=msg.max().over(run),
    )
    p = p.mutate(waiting=(p.last_msg % 2) == 1, answered=(p.last_msg.lag().over(w) % 2) == 0)
    return p.drop("seq", "last_msg")


def _timeline(pts: ir.Table, rules: EffortRules, approvals: bool) -> ir.Table:
    """Each point with the state the gap after it is in, and whether it repeats or reopens."""
    order = ["t", "kind", "pid"]
    w = ibis.window(group_by="ik", order_by=order)
    run = ibis.window(group_by="ik", order_by=order, rows=(None, 0))
    q = _states(pts, approvals)
    is_in, is_out = q.kind == IN, q.kind == OUT
    p = q.mutate(
        gap=ibis.coalesce(q.t.lead().over(w) - q.t, 0.0),
        outs=ibis.ifelse(is_out, 1, 0).sum().over(run),
        last_out=ibis.ifelse(is_out, q.t, ibis.null("float64")).max().over(run),
        last_in=ibis.ifelse(is_in, q.t, ibis.null("float64")).max().over(run),
    )
    p = p.mutate(prev_out=p.last_out.lag().over(w), prev_in=p.last_in.lag().over(w))
    state = ibis.cases(
        (p.pending > 0, "approval"),
        (p.waiting & (p.outs == 0), "first"),
        (p.waiting, "between"),
        else_="turn",
    )
    in_ = p.kind == IN
    repeat = in_ & p.prev_in.notnull() & (p.t - p.prev_in <= rules.repeat_within.total_seconds())
    reopen = in_ & p.answered & (p.t - p.prev_out >= rules.reopen_after.total_seconds())
    return p.mutate(state=state, repeat=repeat.fill_null(False), reopen=reopen.fill_null(False))


def _flag_sum(cond: ir.BooleanValue) -> ir.IntegerValue:
    return ibis.ifelse(cond, 1, 0).sum()


def _hours_in(p: ir.Table, state: str) -> ir.FloatingValue:
    return ibis.ifelse(p.state == state, p.gap, 0.0).sum() / HOUR


def _point_figures(pts: ir.Table, rules: EffortRules, approvals: bool) -> ir.Table:
    p = _timeline(pts, rules, approvals)
    first_in = ibis.ifelse(p.kind == IN, p.t, ibis.null("float64")).min().over(group_by="ik")
    p = p.mutate(first_in=first_in)
    answer = ibis.ifelse((p.kind == OUT) & (p.t >= p.first_in), p.t, ibis.null("float64"))
    return p.group_by(p_ik=p.ik).aggregate(
        replies=_flag_sum(p.kind == OUT),
        approvals=_flag_sum(p.kind == ASK),
        repeat_contacts=_flag_sum(p.repeat),
        reopens=_flag_sum(p.reopen),
        first_reply_hours=(answer.min() - p.first_in.min()) / HOUR,
        elapsed_hours=(p.t.max() - p.t.min()) / HOUR,
        wait_first_reply_hours=_hours_in(p, "first"),
        wait_between_replies_hours=_hours_in(p, "between"),
        wait_approval_hours=_hours_in(p, "approval"),
        customer_turn_hours=_hours_in(p, "turn"),
        ended_t=p.t.max(),
    )


def _contact_figures(cons: ir.Table) -> ir.Table:
    w = ibis.window(group_by="ik", order_by=["t", "event_id"])
    first = cons.mutate(n=ibis.row_number().over(w))
    first = first.filter(first.n == 0).select(
        f_ik=first.ik,
        issue_id=first.ref,
        customer_id=first.customer_id,
        subject_kind=first.kind,
        subject=first.key,
        started_at=first.ts,
        department=first.department,
        channel=first.channel,
        team=first.team,
    )
    agg = cons.group_by(a_ik=cons.ik).aggregate(
        contacts=cons.count(),
        channels=cons.channel.nunique(),
        queue_seconds=ibis.coalesce(cons.queue.sum(), 0.0),
    )
    return first.join(agg, first.f_ik == agg.a_ik)


def _handling(done: ir.Table, rules: EffortRules) -> ir.Table:
    e = done.filter(done.event_type.isin(list(rules.transfer + rules.hold)))
    return e.group_by(h_ik=e.ik).aggregate(
        transfers=_flag_sum(e.event_type.isin(list(rules.transfer))),
        hold_seconds=ibis.coalesce(e.hold.sum(), 0.0),
    )


def issue_rows(
    events: ir.Table,
    rules: EffortRules,
    as_of: datetime,
    approvals: ir.Table | None = None,
    materialize: Callable[[ir.Table], ir.Table] | None = None,
) -> ir.Table:
    """One row per issue (see the module docstring); ``approvals``: an optional table of
    (customer_id, subject, approval_id, asked, decided) with times as epoch seconds.
    ``materialize``: computes the contacts with their issue keys, and the events handled
    on the issues, once each (they feed several parts of the query), e.g.
    ``Workspace.cache``; the caller releases them."""
    keep = materialize or (lambda t: t)
    cons = keep(contact_issues(events, rules, as_of))
    done = keep(handled(events, cons, rules, as_of))
    base = _contact_figures(cons)
    pts = issue_points(cons, done, rules, approvals)
    figures = _point_figures(pts, rules, approvals is not None)
    hand = _handling(done, rules)
    j = base.join(figures, base.f_ik == figures.p_ik)
    j = j.left_join(hand, j.f_ik == hand.h_ik)
    return j.select(
        "issue_id",
        "customer_id",
        "subject_kind",
        "subject",
        "started_at",
        "department",
        "channel",
        "team",
        "contacts",
        "channels",
        "replies",
        transfers=ibis.coalesce(j.transfers, 0),
        hold_seconds=ibis.coalesce(j.hold_seconds, 0.0),
        queue_seconds=j.queue_seconds,
        approvals=j.approvals,
        repeat_contacts=j.repeat_contacts,
        reopens=j.reopens,
        first_reply_hours=j.first_reply_hours,
        elapsed_hours=j.elapsed_hours,
        wait_first_reply_hours=j.wait_first_reply_hours,
        wait_between_replies_hours=j.wait_between_replies_hours,
        wait_approval_hours=j.wait_approval_hours,
        customer_turn_hours=j.customer_turn_hours,
        ended_t=j.ended_t,
        ik=j.f_ik,
    )
