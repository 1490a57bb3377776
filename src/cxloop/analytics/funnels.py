"""Funnels as portable Ibis: window functions and equi-joins that run on DuckDB,
PostgreSQL and Spark.

The events that match a step (or an exclusion) are numbered per customer in time order
(ties by event id). Each row learns, through windows over the rows after it, where the next
event of each step is (its number and time). An *attempt* starts at every event of the first
step; step k of the attempt is the first event of step k after the attempt's previous
(required) step, looked up by one equi-join per step, and counts only within the funnel's
window from the start and the step's own window from the previous step. In a strict funnel
the rows are all of the customer's events and step k must be the very next one. In an
unordered funnel an attempt starts at any step's event and each step is its first event at or
after that start, within the window. An exclusion event after step a and before step b (or,
when b never came, before the window closed) removes the attempt. Each customer counts once,
with the attempt that went furthest (the earliest of those).
"""

from __future__ import annotations

from functools import reduce

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_number, attr_text
from cxloop.domain.funnels import COLUMNS, Condition, FunnelSpec, Step
from cxloop.errors import ConfigError

NONE = "(none)"


def condition(t: ir.Table, c: Condition) -> ir.BooleanValue:
    """One filter on an event: numbers compared as numbers, anything else as text."""
    if c.numeric:
        try:
            value: float | str = float(c.value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(c.value)
        except ValueError:
            raise ConfigError(
                f"filter {c.text()}: {c.op} needs a number, got {c.value!r}"
            ) from None
        lhs: ir.Value = t.amount if c.key == "amount" else attr_number(t.attrs, c.key)
    else:
        value = c.value
        lhs = t[c.key].cast("string") if c.key in COLUMNS else attr_text(t.attrs, c.key)
    ops = {
        "=": lhs == value,
        "!=": lhs != value,
        "<": lhs < value,
        "<=": lhs <= value,
        ">": lhs > value,
        ">=": lhs >= value,
    }
    result: ir.BooleanValue = ops[c.op].fill_null(False)
    return result


def matches(t: ir.Table, event: str, where: tuple[Condition, ...]) -> ir.BooleanValue:
    out: ir.BooleanValue = t.event_type == event
    for c in where:
        out = out & condition(t, c)
    return out


def step_match(t: ir.Table, step: Step) -> ir.BooleanValue:
    return matches(t, step.event, step.where)


def breakdown(t: ir.Table, by: str | None) -> ir.StringValue:
    if by is None:
        return ibis.literal(NONE)
    value = t[by].cast("string") if by in COLUMNS else attr_text(t.attrs, by)
    result: ir.StringValue = value.fill_null(NONE)
    return result


def _rows(events: ir.Table, spec: FunnelSpec) -> ir.Table:
    """The events the funnel reads, with a mark per step and exclusion, numbered per
    customer (``seq``) and as epoch seconds (``e``)."""
    marks = {f"m{i}": step_match(events, s) for i, s in enumerate(spec.steps)}
    marks |= {f"x{j}": matches(events, x.event, x.where) for j, x in enumerate(spec.exclusions)}
    base = events
    if spec.order != "strict":
        base = events.filter(reduce(lambda a, b: a | b, marks.values()))
    rows = base.select(
        customer_id=base.customer_id,
        e=base.ts.epoch_seconds().cast("float64"),
        event_id=base.event_id,
        bd=breakdown(base, spec.by),
        **marks,
    ).filter(lambda r: r.customer_id.notnull())
    w = ibis.window(group_by=rows.customer_id, order_by=[rows.e, rows.event_id])
    return rows.mutate(seq=ibis.row_number().over(w))


def one(b: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``b`` holds, else 0 (PostgreSQL has no CAST of a boolean to BIGINT)."""
    result: ir.IntegerValue = ibis.ifelse(b, 1, 0).cast("int64")
    return result


def _nothing() -> ir.FloatingValue:
    return ibis.null("float64")


def _next_columns(rows: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Per row: the number and time of the next event of each step (strict: only the very
    next event) and the time of the next event of each exclusion."""
    w = ibis.window(group_by=rows.customer_id, order_by=rows.seq)
    after = ibis.window(group_by=rows.customer_id, order_by=rows.seq, rows=(1, None))
    cols: dict[str, ir.Value] = {}
    for k in range(1, len(spec.steps)):
        m = rows[f"m{k}"]
        if spec.order == "strict":
            nxt = m.lead().over(w).fill_null(False)
            cols[f"n{k}_s"] = ibis.ifelse(nxt, rows.seq + 1, ibis.null("int64"))
            cols[f"n{k}_e"] = ibis.ifelse(nxt, rows.e.lead().over(w), _nothing())
        else:
            cols[f"n{k}_s"] = ibis.ifelse(m, rows.seq, ibis.null("int64")).min().over(after)
            cols[f"n{k}_e"] = ibis.ifelse(m, rows.e, _nothing()).min().over(after)
    for j in range(len(spec.exclusions)):
        cols[f"nx{j}_e"] = ibis.ifelse(rows[f"x{j}"], rows.e, _nothing()).min().over(after)
    return rows.mutate(**cols)


def _step_chain(rows: ir.Table, spec: FunnelSpec) -> ir.Table:
    """The attempts of an ordered or strict funnel: ``s{k}``/``e{k}`` per step (NULL where
    not reached), by one lookup join per step."""
    a = rows.filter(rows.m0).select(
        customer_id=rows.customer_id, bd=rows.bd, s0=rows.seq, e0=rows.e
    )
    window = spec.window.total_seconds()
    prev = 0
    for k in range(1, len(spec.steps)):
        step = spec.steps[k]
        look = rows.select(
            _c=rows.customer_id, _s=rows.seq, _ns=rows[f"n{k}_s"], _ne=rows[f"n{k}_e"]
        ).view()
        j = a.left_join(look, [a.customer_id == look._c, a[f"s{prev}"] == look._s])
        # plain columns out of the join first: Ibis refuses a join on computed join values
        j = j.select(*[j[c] for c in a.columns], _ns=j._ns, _ne=j._ne)
        ok = j._ne <= j.e0 + window
        if step.within is not None:
            ok = ok & (j._ne <= j[f"e{prev}"] + step.within.total_seconds())
        ok = ok.fill_null(False)
        a = j.mutate(
            **{
                f"s{k}": ibis.ifelse(ok, j._ns, ibis.null("int64")),
                f"e{k}": ibis.ifelse(ok, j._ne, _nothing()),
            }
        ).drop("_ns", "_ne")
        if not step.optional:
            prev = k
    return _optional_done(a, spec)


def _optional_done(a: ir.Table, spec: FunnelSpec) -> ir.Table:
    """An optional step counts where it came before the next required step (or that one
    never came)."""
    req = spec.required
    cols: dict[str, ir.Value] = {}
    for k, step in enumerate(spec.steps):
        if not step.optional:
            continue
        nxt = next(r for r in req if r > k)
        done = a[f"s{k}"].notnull() & (a[f"s{nxt}"].isnull() | (a[f"s{k}"] < a[f"s{nxt}"]))
        cols[f"s{k}"] = ibis.ifelse(done, a[f"s{k}"], ibis.null("int64"))
        cols[f"e{k}"] = ibis.ifelse(done, a[f"e{k}"], _nothing())
    return a.mutate(**cols) if cols else a


def _exclude(a: ir.Table, rows: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Drop the attempts with an exclusion event between its two steps."""
    window = spec.window.total_seconds()
    for j, x in enumerate(spec.exclusions):
        end = x.end % len(spec.steps)
        look = rows.select(_c=rows.customer_id, _s=rows.seq, _xe=rows[f"nx{j}_e"]).view()
        joined = a.left_join(look, [a.customer_id == look._c, a[f"s{x.start}"] == look._s])
        joined = joined.select(*[joined[c] for c in a.columns], _xe=joined._xe)
        limit = ibis.coalesce(joined[f"e{end}"], joined.e0 + window + 1e-6)
        hit = (joined._xe < limit).fill_null(False)
        a = joined.filter(~hit).drop("_xe")
    return a


def _unordered(rows: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Attempts of an unordered funnel: each starts at any step's event; each step is its
    first event at or after the start, within the window."""
    n = len(spec.steps)
    here = ibis.window(group_by=rows.customer_id, order_by=rows.seq, rows=(0, None))
    window = spec.window.total_seconds()
    firsts = {
        f"f{i}": ibis.ifelse(rows[f"m{i}"], rows.e, _nothing()).min().over(here) for i in range(n)
    }
    xs = {
        f"fx{j}": ibis.ifelse(rows[f"x{j}"], rows.e, _nothing()).min().over(here)
        for j in range(len(spec.exclusions))
    }
    r = rows.filter(reduce(lambda p, q: p | q, [rows[f"m{i}"] for i in range(n)])).mutate(
        **firsts, **xs
    )
    cols: dict[str, ir.Value] = {}
    for i in range(n):
        ok = (r[f"f{i}"] <= r.e + window).fill_null(False)
        cols[f"e{i}"] = ibis.ifelse(ok, r[f"f{i}"], _nothing())
    a = r.select(
        customer_id=r.customer_id, bd=r.bd, s0=r.seq, start=r.e, **cols, **{k: r[k] for k in xs}
    )
    done = [one(a[f"e{i}"].notnull()) for i in range(n)]
    a = a.mutate(reached=reduce(lambda p, q: p + q, done))
    if spec.exclusions:
        last = ibis.greatest(*[a[f"e{i}"].fill_null(a.start) for i in range(n)])
        end = ibis.ifelse(a.reached == n, last, a.start + window + 1e-6)
        hit = reduce(lambda p, q: p | q, [(a[k] < end).fill_null(False) for k in xs])
        a = a.filter(~hit)
    return a


def attempts(events: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Every attempt: customer, breakdown value, ``reached`` and ``e{k}`` per step."""
    rows = _rows(events, spec)
    if spec.order == "unordered":
        return _unordered(rows, spec)
    rows = _next_columns(rows, spec)
    a = _exclude(_step_chain(rows, spec), rows, spec)
    req = [one(a[f"s{k}"].notnull()) for k in spec.required]
    return a.mutate(start=a.e0, reached=reduce(lambda p, q: p + q, req))


def per_customer(events: ir.Table, spec: FunnelSpec) -> ir.Table:
    """One row per customer who started: their best attempt (the furthest, then the
    earliest), ``at{k}`` (whether step k counts), ``last_e`` (their last required step's
    time) and ``seconds`` to convert (NULL unless converted)."""
    a = attempts(events, spec)
    w = ibis.window(group_by=a.customer_id, order_by=[ibis.desc(a.reached), a.start, a.s0])
    best = a.mutate(_rank=ibis.row_number().over(w)).filter(lambda t: t._rank == 0)
    n, req = len(spec.steps), spec.required
    if spec.order == "unordered":
        at = {f"at{k}": best.reached >= k + 1 for k in range(n)}
        end = ibis.greatest(*[best[f"e{i}"].fill_null(best.start) for i in range(n)])
        converted = best.reached == n
    else:
        at = {f"at{k}": best[f"e{k}"].notnull() for k in range(n)}
        end = best[f"e{req[-1]}"]
        converted = best[f"e{req[-1]}"].notnull()
    last = (
        ibis.coalesce(*[best[f"e{k}"] for k in reversed(req)]) if spec.order != "unordered" else end
    )
    return best.select(
        customer_id=best.customer_id,
        bd=best.bd,
        reached=best.reached,
        start=best.start,
        last_e=last,
        seconds=ibis.ifelse(converted, end - best.start, _nothing()),
        **at,
        **{f"e{k}": best[f"e{k}"] for k in range(n)},
    )


def step_counts(customers: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Per breakdown value: customers at each step (``c{k}``)."""
    n = len(spec.steps)
    metrics = {f"c{k}": one(customers[f"at{k}"]).sum() for k in range(n)}
    return customers.group_by(customers.bd).aggregate(**metrics)


def previous_required(spec: FunnelSpec, k: int) -> int | None:
    """The step a step's drop and its conversion from the previous step count from."""
    if k == 0:
        return None
    if spec.order == "unordered":
        return k - 1
    return max(r for r in spec.required if r < k)


def dropped(customers: ir.Table, spec: FunnelSpec, k: int) -> ir.Table:
    """The customers who reached the step before ``k`` but not ``k``."""
    p = previous_required(spec, k)
    if p is None:
        raise ConfigError("nobody drops at the first step: every customer counted started there")
    return customers.filter(customers[f"at{p}"] & ~customers[f"at{k}"])
