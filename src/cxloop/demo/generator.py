"""Deterministic demo data: Northwind Home, an online retailer of home goods.

Everything is vectorized (numpy for the simulation, Arrow compute for the strings),
so the same code makes the small demo and benchmark volumes. Events are written
in the ``generic`` canonical format (:data:`cxloop.domain.events.EVENT_COLUMNS`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cxloop.demo import texts as tx
from cxloop.demo.company import CUSTOMER_EMAIL_DOMAIN
from cxloop.demo.employees import write_employee_pulse
from cxloop.demo.remedy_effect import CREDIT_CENTS, RemedyEffect
from cxloop.demo.texts import Part, cat, fill, iso, join, money, obj, padded, to_str
from cxloop.domain.events import DEFAULT_DEPARTMENT, EVENT_COLUMNS
from cxloop.domain.events import EventType as E

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

DAY, HOUR, MIN = 86_400, 3_600, 60
DEFAULT_END = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
SPAN_DAYS = 180
COLUMNS: tuple[str, ...] = tuple(c.name for c in EVENT_COLUMNS)
TYPES: tuple[E, ...] = tuple(E)
REGIONS = ("northeast", "midwest", "southeast", "southwest", "west")
REGION_P = np.array([0.24, 0.20, 0.24, 0.14, 0.18])
PROMISE_DAYS = np.array([3, 4, 5, 6, 7])  # placed day + N, at 23:59:59
SHIP_DAYS = np.array([1, 1, 1, 2, 2])  # carrier hand-off by placed day + N, 18:00
CARRIERS = ("Parcelwise", "SwiftPost", "Meridian Freight")
CARRIER_P = np.array(
    [[0.5, 0.3, 0.2], [0.4, 0.35, 0.25], [0.3, 0.3, 0.4], [0.3, 0.4, 0.3], [0.45, 0.35, 0.2]]
)
HOUR_P = np.array([1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 8, 8, 8, 8, 7, 7, 7, 7, 8, 9, 9, 8, 5, 3.0])
TEAMS = ("Aurora", "Birch", "Cedar", "Dune")
CHANNELS = ("web", "phone", "store", "carrier", "email", "chat")
CONTACT_CH = np.array([4, 5, 1])  # a case's channel code (email, chat, phone) in CHANNELS
PAY_METHODS = ("card", "paypal", "bank_transfer")
T_LATE, T_MISSING, T_BILLING, T_FOLLOW = 0, 1, 2, 3
# The injected failures: offsets in days from the first day of the period.
DELAY_CARRIER, DELAY_REGION, DELAY_DAY, DELAY_LEN = 2, 2, 100, 14
BATCH_PRODUCT, BATCH_DAY, BATCH_LEN, BATCH_SHARE = 0, 65, 25, 0.6
BILLING_DAY, BILLING_FACTOR = 135, 1.35
CALLBACK_TEAM = 2
# with an injected effect (broken_leave): lateness and coming back by region (confounding)
LEAVE_LATE_P = np.array([0.03, 0.06, 0.09, 0.15, 0.04])
LEAVE_THIN_P = np.array([0.0, 0.2, 0.35, 0.5, 0.1])
NEVER = 2**60  # a time that never comes (and cannot overflow)
FILES: dict[str, tuple[E, ...]] = {
    "sales_orders.csv": (E.ORDER_PLACED, E.ORDER_CANCELED),
    "logistics.csv": (E.ORDER_SHIPPED, E.ORDER_DELIVERED),
    "billing.csv": (
        E.INVOICE_ISSUED,
        E.PAYMENT_RECEIVED,
        E.REFUND_REQUESTED,
        E.REFUND_ISSUED,
        E.CREDIT_ISSUED,
    ),
    "support.jsonl": (
        E.CONTACT_INBOUND,
        E.REPLY_SENT,
        E.TRANSFER,
        E.HOLD,
        E.CALLBACK_PROMISED,
        E.CALLBACK_MADE,
        E.REPLACEMENT_PROMISED,
        E.REPLACEMENT_DELIVERED,
    ),
    "voice.csv": (E.SURVEY_RESPONSE, E.REVIEW),
}


@dataclass(frozen=True)
class DemoDataset:
    """What :func:`generate_demo` wrote."""

    files: list[Path]
    n_events: int  # valid events written (bad rows not included)
    n_customers: int
    start: datetime
    end: datetime
    bad_rows: int
    scenarios: dict[str, str] = field(default_factory=dict)
    truth: dict[str, float] = field(default_factory=dict)  # injected effects (remedy_effect)


def _rows_choice(rng: np.random.Generator, probs: F64) -> I64:
    """One categorical draw per row of ``probs`` (rows sum to 1)."""
    hit = rng.random(len(probs))[:, None] > np.cumsum(probs, axis=1)
    out: I64 = np.minimum(hit.sum(axis=1), probs.shape[1] - 1).astype(np.int64)
    return out


def _u(rng: np.random.Generator, lo: float, hi: float | npt.NDArray[Any], n: int) -> I64:
    """Uniform seconds in [lo, hi)."""
    return (lo + rng.random(n) * (np.asarray(hi) - lo)).astype(np.int64)


class _Log:
    """Collects event blocks; numbers stay numpy, strings Arrow, until :meth:`table`."""

    def __init__(self) -> None:
        self.num: list[list[I64]] = []
        self.attrs: list[pa.Array] = []

    def add(
        self,
        et: E,
        cust: I64,
        ts: I64,
        ref: tuple[int, I64],
        channel: str | I64,
        attrs: pa.Array,
        amount: I64 | None = None,
        due: I64 | None = None,
    ) -> None:
        n = len(ts)
        if n == 0:
            return
        none = np.full(n, -1, np.int64)
        chan = np.full(n, CHANNELS.index(channel)) if isinstance(channel, str) else channel
        self.num.append(
            [
                np.full(n, TYPES.index(et), np.int64),
                cust,
                ts,
                np.full(n, ref[0], np.int64),
                ref[1],
                none if amount is None else amount,
                none if due is None else due,
                chan,
            ]
        )
        self.attrs.append(attrs)

    def table(self, end_s: int) -> pa.Table:
        """All events up to ``end_s`` in time order, as string columns (frees the blocks)."""
        cols = [np.concatenate([b[i] for b in self.num]) for i in range(8)]
        self.num = []
        keep = np.flatnonzero(cols[2] <= end_s)
        take = keep[np.argsort(cols[2][keep] * 32 + cols[0][keep], kind="stable")]
        attrs = pa.chunked_array(self.attrs, pa.string()).take(pa.array(take)).combine_chunks()
        self.attrs = []
        for i in range(8):  # one column at a time, to keep the peak low
            cols[i] = cols[i][take]
        et, cust, ts, kind, no, amount, due, chan = cols
        del cols, keep, take
        # n = occurrence of (type, ref) in time order, so ids are unique and stable
        key = (et * 2 + kind) << 40 | no
        grp = np.argsort(key, kind="stable")
        sk = key[grp]
        first = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        seq = np.empty(len(key), np.int64)
        seq[grp] = np.arange(len(key)) - np.repeat(first, np.diff(np.r_[first, len(key)])) + 1
        del key, grp, sk, first
        n = len(ts)
        etype = cat([t.value for t in TYPES], et)
        ref = join(
            n,
            pc.take(pa.array(["O-", "C-"]), pa.array(kind)),
            pc.utf8_lpad(to_str(no), width=6, padding="0"),
        )
        return pa.table(
            {
                "event_id": join(n, "nw-", etype, "-", ref, "-", to_str(seq)),
                "customer_id": padded("CU-", cust + 1),
                "event_type": etype,
                "ts": iso(ts),
                "department": cat([DEFAULT_DEPARTMENT[t].value for t in TYPES], et),
                "channel": cat(CHANNELS, chan),
                "ref": ref,
                "amount": pc.if_else(pa.array(amount < 0), "", money(amount)),
                "due_at": pc.if_else(pa.array(due < 0), "", iso(np.maximum(due, 0))),
                "attrs": attrs,
            }
        )


# ---------------------------------------------------------------- simulation
def _cases(
    rng: np.random.Generator, o: dict[str, Any], oi: I64, ts: I64, topic: I64
) -> dict[str, Any]:
    """Support cases about orders ``oi`` opened at ``ts``, with their outcomes and pain."""
    m = len(oi)
    heavy = (topic == T_MISSING) | (topic == T_BILLING)
    probs = np.where(heavy[:, None], [0.3, 0.15, 0.55], [0.45, 0.3, 0.25])
    probs[topic == T_FOLLOW] = [0.35, 0.15, 0.5]
    ch = _rows_choice(rng, probs)
    team = rng.integers(0, len(TEAMS), m)
    email, chat, phone = ch == 0, ch == 1, ch == 2
    u = rng.random(m)
    delay = np.where(
        email,
        np.where(
            u < 0.88,
            _u(rng, 20 * MIN, 20 * HOUR, m),
            np.where(u < 0.96, _u(rng, 25 * HOUR, 96 * HOUR, m), -1),
        ),
        np.where(
            u < 0.93,
            _u(rng, 30, 40 * MIN, m),
            np.where(u < 0.98, _u(rng, 61 * MIN, 6 * HOUR, m), -1),
        ),
    )
    reply = np.where(phone | (delay < 0), -1, ts + delay)
    queue = (rng.exponential(70, m) + heavy * rng.exponential(240, m)).astype(np.int64) + 5
    ntr = phone * (
        (rng.random(m) < np.where(heavy, 0.35, 0.15)).astype(np.int64) + (rng.random(m) < 0.1)
    )
    hold = phone & (rng.random(m) < 0.3)
    hold_s = (rng.exponential(180, m) + 30).astype(np.int64)
    cedar = team == CALLBACK_TEAM
    cb = phone & (rng.random(m) < np.where(cedar, 0.45, 0.2))
    cb_due = np.where(cb, (ts + _u(rng, 2 * HOUR, 26 * HOUR, m)) // HOUR * HOUR + HOUR, -1)
    u = rng.random(m)
    on, late = u < np.where(cedar, 0.35, 0.9), u < np.where(cedar, 0.45, 0.95)
    cb_ts = np.where(
        cb & on,
        cb_due - _u(rng, 0, 45 * MIN, m),
        np.where(cb & late, cb_due + _u(rng, 2 * HOUR, 48 * HOUR, m), -1),
    )
    rp = (topic == T_MISSING) & (phone | (reply >= 0))
    rp_ts = np.where(phone, ts + 8 * MIN, reply)
    rp_due = rp_ts + 7 * DAY
    u = rng.random(m)
    rp_del = np.where(
        u < 0.65,
        rp_ts + _u(rng, 4 * DAY, 7 * DAY - HOUR, m),
        np.where(u < 0.93, rp_due + _u(rng, DAY, 8 * DAY, m), -1),
    )
    rp_del = np.where(rp, rp_del, -1)
    answered = np.where(phone, ts + 20 * MIN, reply)
    credit = (topic == T_BILLING) & (answered >= 0) & (rng.random(m) < 0.85)
    goodwill = (topic == T_MISSING) & phone & (rng.random(m) < 0.3)
    cr_amt = np.where(
        credit,
        o["inv_amt"][oi] - o["amount"][oi],
        np.where(goodwill, rng.integers(15, 41, m) * 100, -1),
    )
    cr_ts = np.where(credit | goodwill, np.maximum(answered, ts) + _u(rng, HOUR, 3 * DAY, m), -1)
    reply_late = (email & (delay > DAY)) | (chat & (delay > HOUR))
    c = {
        "order": oi,
        "ts": ts,
        "topic": topic,
        "ch": ch,
        "team": team,
        "reply": reply,
        "queue": queue,
        "ntr": ntr,
        "hold": hold,
        "hold_s": hold_s,
        "cb": cb,
        "cb_due": cb_due,
        "cb_ts": cb_ts,
        "rp": rp,
        "rp_ts": rp_ts,
        "rp_due": rp_due,
        "rp_del": rp_del,
        "cr_amt": cr_amt,
        "cr_ts": cr_ts,
    }
    c["p_sup"] = (
        0.15 * reply_late
        + 0.35 * (~phone & (delay < 0))
        + 0.08 * ntr
        + 0.1 * (phone & (queue > 600))
        + 0.1 * (topic == T_FOLLOW)
    )
    c["p_cb"] = 0.2 * (cb & (cb_ts > cb_due)) + 0.5 * (cb & (cb_ts < 0))
    c["p_rp"] = rp * (0.35 * (rp_del > rp_due) + 0.6 * (rp_del < 0))
    c["p_bill"] = 0.3 * ((topic == T_BILLING) & ~credit)
    c["end"] = np.max(
        [
            ts + 20 * MIN,
            reply,
            np.where(cb_ts < 0, cb_due, cb_ts),
            np.where(rp & (rp_del < 0), rp_due, rp_del),
            cr_ts,
        ],
        axis=0,
    )
    return c


def _injected_keep(
    rng: np.random.Generator,
    cust: I64,
    placed: I64,
    region: I64,
    deliv: I64,
    is_late: Mask,
    leaves: Mask,
) -> Mask:
    """The orders kept when a known effect is injected (``broken_leave``): a customer whose
    FIRST order arrived late (a broken delivery promise) leaves with that probability,
    dropping every order placed after that delivery; nothing else makes anyone leave.
    Regions differ both in lateness and in how often customers come back (later orders
    thinned by :data:`LEAVE_THIN_P`), so region confounds the naive comparison."""
    first = np.zeros(len(cust), dtype=bool)
    first[np.unique(cust, return_index=True)[1]] = True
    thinned = ~first & (rng.random(len(cust)) < LEAVE_THIN_P[region])
    first_of = np.full(int(cust.max()) + 1, -1)
    first_of[cust[first]] = np.flatnonzero(first)
    f = first_of[cust]
    gone = is_late[f] & leaves[cust] & (placed > deliv[f])
    kept: np.ndarray[tuple[Any, ...], np.dtype[np.bool_]] = ~(thinned | gone)
    return kept


def _orders(
    rng: np.random.Generator,
    n_cust: int,
    cust: I64,
    end_s: int,
    broken_leave: float | None = None,
    effect: RemedyEffect | None = None,
) -> tuple[dict[str, Any], I64, F64]:
    """Orders, their delivery and billing outcomes, and the customers' habits."""
    day0 = (end_s - SPAN_DAYS * DAY) // DAY * DAY
    c_region = rng.choice(len(REGIONS), n_cust, p=REGION_P)
    habit = rng.choice(3, n_cust, p=[0.25, 0.55, 0.2])  # next-day / in between / near the promise
    c_prom = PROMISE_DAYS[c_region]
    typical = np.select(
        [habit == 0, habit == 1],
        [np.ones(n_cust, np.int64), rng.integers(2, c_prom)],
        c_prom - rng.integers(0, 2, n_cust),
    )
    mood = rng.normal(0, 0.08, n_cust)

    n = len(cust)
    hour = rng.choice(24, n, p=HOUR_P / HOUR_P.sum())
    placed = day0 + rng.integers(0, SPAN_DAYS + 1, n) * DAY + hour * HOUR + rng.integers(0, HOUR, n)
    placed = np.where(placed > end_s, placed - DAY, placed)
    placed = np.where(placed < end_s - SPAN_DAYS * DAY, placed + DAY, placed)
    order = np.argsort(placed, kind="stable")
    placed, cust = placed[order], cust[order]
    region = c_region[cust]
    prom, pday = PROMISE_DAYS[region], placed // DAY * DAY
    due, ship_by = pday + (prom + 1) * DAY - 1, pday + SHIP_DAYS[region] * DAY + 18 * HOUR
    carrier = _rows_choice(rng, CARRIER_P[region])
    product = rng.choice(len(tx.CATALOG), n, p=[c[4] for c in tx.CATALOG])
    lo, hi = (np.array([c[k] for c in tx.CATALOG]) for k in (2, 3))
    items = np.where(
        product == BATCH_PRODUCT, 1, 1 + (rng.random(n) < 0.22) + (rng.random(n) < 0.06)
    ).astype(np.int64)
    unit = lo[product] + (rng.random(n) * (hi - lo)[product] / 100).astype(np.int64) * 100 - 1
    canceled = rng.random(n) < 0.02
    inv_ts = pday + DAY + 2 * HOUR  # the nightly billing run after the order
    ddays = np.minimum(
        np.maximum(
            1, typical[cust] + rng.choice([-1, 0, 1, 2, 3], n, p=[0.05, 0.68, 0.15, 0.08, 0.04])
        ),
        prom,
    )
    t0 = day0 + DELAY_DAY * DAY
    in_cd = (
        (carrier == DELAY_CARRIER)
        & (region == DELAY_REGION)
        & (placed >= t0)
        & (placed < t0 + DELAY_LEN * DAY)
    )
    late_p = 0.035 if broken_leave is None else LEAVE_LATE_P[region]
    late = (rng.random(n) < late_p) | (in_cd & (rng.random(n) < 0.8))
    ddays = np.where(late, prom + rng.integers(1, 5, n) + in_cd * rng.integers(0, 3, n), ddays)
    deliv = pday + ddays * DAY + rng.integers(9 * HOUR, 20 * HOUR, n)
    window = np.maximum(np.minimum(ship_by, deliv - 3 * HOUR) - placed, 20 * MIN)
    shipped = placed + (window * (0.1 + 0.8 * rng.random(n))).astype(np.int64)
    ship_late = (rng.random(n) < 0.03) | (in_cd & (rng.random(n) < 0.45))
    shipped = np.where(ship_late, ship_by + rng.integers(HOUR, 30 * HOUR, n), shipped)
    deliv = np.maximum(deliv, shipped + 8 * HOUR)
    b0 = day0 + BATCH_DAY * DAY
    in_batch = (
        (product == BATCH_PRODUCT) & (shipped >= b0) & (shipped < b0 + BATCH_LEN * DAY) & ~canceled
    )
    missing = in_batch & (rng.random(n) < BATCH_SHARE)
    bad_bill = (inv_ts == day0 + BILLING_DAY * DAY + 2 * HOUR) & ~canceled
    amount = unit * items
    inv_amt = np.where(bad_bill, np.round(amount * BILLING_FACTOR).astype(np.int64), amount)
    is_late = (deliv > due) & ~canceled
    # the best way to express dissatisfaction is to stop buying: half leave after a bad order
    bad_t = np.where(is_late | missing, deliv, np.where(bad_bill, inv_ts, NEVER))
    first_bad = np.full(n_cust, NEVER)
    np.minimum.at(first_bad, cust, bad_t)
    u_leave = rng.random(n_cust)
    extra: dict[str, Any] = {}
    if broken_leave is not None:
        keep = _injected_keep(rng, cust, placed, region, deliv, is_late, u_leave < broken_leave)
    else:
        leaves = u_leave < 0.5
        if effect is not None:  # a known effect of a goodwill credit (demo/remedy_effect.py)
            facts = dict(cust=cust, placed=placed, due=due, is_late=is_late)
            leaves, extra["goodwill"] = effect.apply(facts, bad_t, first_bad, leaves, end_s)
        keep = ~(leaves[cust] & (placed > first_bad[cust] + 2 * DAY))
    o: dict[str, Any] = {
        k: v[keep]
        for k, v in dict(
            cust=cust,
            placed=placed,
            region=region,
            due=due,
            ship_by=ship_by,
            carrier=carrier,
            product=product,
            items=items,
            amount=amount,
            canceled=canceled,
            inv_ts=inv_ts,
            ddays=ddays,
            in_cd=in_cd,
            deliv=deliv,
            shipped=shipped,
            in_batch=in_batch,
            missing=missing,
            bad_bill=bad_bill,
            inv_amt=inv_amt,
            is_late=is_late,
            **extra,
        ).items()
    }
    return o, typical, mood


def _events(
    rng: np.random.Generator, o: dict[str, Any], typical: I64, mood: F64, end_s: int
) -> tuple[pa.Table, dict[str, str]]:
    n = len(o["placed"])
    cust, deliv, live = o["cust"], o["deliv"], ~o["canceled"]
    ono = np.arange(1, n + 1)
    oref = padded("O-", ono)
    product = cat([c[0] for c in tx.CATALOG], o["product"])
    carrier = cat(CARRIERS, o["carrier"])
    log = _Log()
    log.add(
        E.ORDER_PLACED,
        cust,
        o["placed"],
        (0, ono),
        rng.choice(3, n, p=[0.78, 0.1, 0.12]),
        obj(
            n,
            ship_by=iso(o["ship_by"]),
            region=cat(REGIONS, o["region"]),
            carrier=carrier,
            product=product,
            sku=cat([c[1] for c in tx.CATALOG], o["product"]),
            items=o["items"],
            email=join(n, padded("cu-", cust + 1), "@" + CUSTOMER_EMAIL_DOMAIN),
        ),
        amount=o["amount"],
        due=o["due"],
    )
    c = np.flatnonzero(o["canceled"])
    log.add(
        E.ORDER_CANCELED,
        cust[c],
        o["placed"][c]
        + ((o["inv_ts"] - o["placed"])[c] * (0.1 + 0.8 * rng.random(len(c)))).astype(np.int64),
        (0, ono[c]),
        "web",
        obj(
            len(c),
            reason=cat(
                ("changed mind", "found cheaper", "ordered twice"), rng.integers(0, 3, len(c))
            ),
        ),
    )
    v = np.flatnonzero(live)
    k = len(v)
    log.add(
        E.ORDER_SHIPPED,
        cust[v],
        o["shipped"][v],
        (0, ono[v]),
        "carrier",
        obj(k, carrier=carrier.take(pa.array(v))),
    )
    log.add(
        E.ORDER_DELIVERED,
        cust[v],
        deliv[v],
        (0, ono[v]),
        "carrier",
        obj(k, carrier=carrier.take(pa.array(v))),
    )
    run = pc.replace_substring(pc.utf8_slice_codeunits(iso(o["inv_ts"][v]), 0, 10), "-", "")
    log.add(
        E.INVOICE_ISSUED,
        cust[v],
        o["inv_ts"][v],
        (0, ono[v]),
        "email",
        obj(k, invoice=padded("INV-", ono[v]), run=join(k, "BR-", run)),
        amount=o["inv_amt"][v],
    )
    p = v[rng.random(k) < 0.985]
    log.add(
        E.PAYMENT_RECEIVED,
        cust[p],
        o["inv_ts"][p]
        + np.where(
            rng.random(len(p)) < 0.8,
            _u(rng, 10 * MIN, 6 * HOUR, len(p)),
            _u(rng, DAY, 8 * DAY, len(p)),
        ),
        (0, ono[p]),
        "web",
        obj(len(p), method=cat(PAY_METHODS, rng.choice(3, len(p), p=[0.7, 0.25, 0.05]))),
        amount=o["inv_amt"][p],
    )
    # refunds: on time within 5 days, some late, some never
    r = v[rng.random(k) < 0.035]
    req = deliv[r] + _u(rng, DAY, 25 * DAY, len(r))
    u = rng.random(len(r))
    iss = req + np.where(
        u < 0.78, _u(rng, 12 * HOUR, 5 * DAY, len(r)), _u(rng, 6 * DAY, 20 * DAY, len(r))
    )
    log.add(
        E.REFUND_REQUESTED,
        cust[r],
        req,
        (0, ono[r]),
        "web",
        obj(
            len(r),
            reason=cat(
                ("damaged", "not as described", "changed mind", "does not fit"),
                rng.integers(0, 4, len(r)),
            ),
        ),
        amount=o["amount"][r],
    )
    log.add(
        E.REFUND_ISSUED,
        cust[r][u < 0.92],
        iss[u < 0.92],
        (0, ono[r][u < 0.92]),
        "web",
        obj(int((u < 0.92).sum())),
        amount=o["amount"][r][u < 0.92],
    )
    refund_pain, refund_end = np.zeros(n), np.zeros(n, np.int64)
    refund_pain[r] = np.where(u < 0.78, 0, np.where(u < 0.92, 0.35, 0.6))
    refund_end[r] = iss

    # support cases: late deliveries, missing parts, the billing run, everyday questions
    lc = np.flatnonzero(o["is_late"] & (rng.random(n) < 0.55))
    mc = np.flatnonzero(o["missing"] & (rng.random(n) < 0.7))
    bc = np.flatnonzero(o["bad_bill"] & (rng.random(n) < 0.3))
    rc = np.flatnonzero(live & (rng.random(n) < 0.08))
    r_topic = rng.choice(np.arange(4, 9), len(rc), p=[0.3, 0.2, 0.25, 0.15, 0.1])
    gap = deliv[lc] - o["due"][lc]
    ts = np.concatenate(
        [
            o["due"][lc] + _u(rng, 2 * HOUR, np.maximum(3 * HOUR, 0.8 * gap), len(lc)),
            deliv[mc] + _u(rng, 2 * HOUR, 72 * HOUR, len(mc)),
            o["inv_ts"][bc] + _u(rng, DAY, 6 * DAY, len(bc)),
            np.where(
                r_topic == 6,
                o["placed"][rc] + _u(rng, HOUR, (deliv - o["placed"])[rc], len(rc)),
                deliv[rc] + _u(rng, 2 * HOUR, 10 * DAY, len(rc)),
            ),
        ]
    )
    topic = np.concatenate(
        [
            np.full(len(lc), T_LATE),
            np.full(len(mc), T_MISSING),
            np.full(len(bc), T_BILLING),
            r_topic,
        ]
    )
    c1 = _cases(rng, o, np.concatenate([lc, mc, bc, rc]), ts, topic)
    missed = (c1["cb"] & (c1["cb_ts"] < 0)) | ((c1["ch"] != 2) & (c1["reply"] < 0))
    f = np.flatnonzero(missed & (rng.random(len(missed)) < 0.45))
    f_ts = np.where(c1["cb"][f], c1["cb_due"][f], c1["ts"][f] + 2 * DAY) + _u(
        rng, 4 * HOUR, 48 * HOUR, len(f)
    )
    c2 = _cases(rng, o, c1["order"][f], f_ts, np.full(len(f), T_FOLLOW))
    cs = {key: np.concatenate([c1[key], c2[key]]) for key in c1}
    fields = {
        "product": product,
        "order": oref,
        "part": cat(tx.PARTS, rng.integers(0, len(tx.PARTS), n)),
    }
    _emit_cases(rng, log, o, cs, fields)
    if "goodwill" in o:  # the injected remedy (demo/remedy_effect.py), off by default
        g = np.flatnonzero(o["goodwill"])
        log.add(
            E.CREDIT_ISSUED,
            cust[g],
            deliv[g] + 6 * HOUR,
            (0, ono[g]),
            "email",
            obj(len(g), reason="goodwill"),
            amount=np.full(len(g), CREDIT_CENTS, np.int64),
        )

    # what customers say depends on what happened to them
    pain = np.zeros((n, len(tx.ISSUES)))
    pain[:, 0] = o["is_late"] * (0.3 + 0.08 * np.minimum((deliv - o["due"]) // DAY + 1, 5))
    slower = o["ddays"] - typical[cust]
    pain[:, 1] = 0.15 * ((slower >= 2) & ~o["is_late"]) - 0.05 * (slower < 0)
    pain[:, 2], pain[:, 3], pain[:, 4] = 0.35 * o["missing"], 0.25 * o["bad_bill"], refund_pain
    for j, name in ((2, "p_rp"), (3, "p_bill"), (5, "p_cb"), (6, "p_sup")):
        np.add.at(pain[:, j], cs["order"], cs[name])
    total = pain.sum(axis=1)
    issue = np.where(pain.max(axis=1) >= 0.1, pain.argmax(axis=1), len(tx.ISSUES))
    o_end = np.maximum(deliv, refund_end)
    np.maximum.at(o_end, cs["order"], cs["end"])
    has_case = np.zeros(n, bool)
    has_case[cs["order"]] = True
    sat = np.clip(0.82 + mood[cust] + rng.normal(0, 0.1, n) - total, 0, 1)
    days = np.where(issue == 0, (deliv - o["due"]) // DAY + 1, o["ddays"])
    fields["days"] = to_str(days)

    def voice_text(rows: I64) -> pa.Array:
        s = sat[rows]
        key = np.where(s > 0.7, 0, np.where(s >= 0.45, 1, 2 + issue[rows]))
        sub = {name: a.take(pa.array(rows)) for name, a in fields.items()}
        return fill(rng, key, [tx.POSITIVE, tx.NEUTRAL, *tx.NEGATIVE], sub)

    sv = np.flatnonzero(live & (rng.random(n) < 0.12 + 0.12 * has_case))
    m = len(sv)
    metric = rng.choice(3, m, p=[0.5, 0.3, 0.2])
    scale, base = np.array([10, 4, 6])[metric], np.array([0, 1, 1])[metric]
    score = np.clip(
        np.round(sat[sv] * scale + rng.normal(0, 0.6, m) * scale / 10) + base, base, base + scale
    ).astype(np.int64)
    common = {
        "survey": cat(("post_delivery", "post_support"), has_case[sv].astype(np.int64)),
        "metric": cat(("nps", "csat", "ces"), metric),
        "score": score,
    }
    with_text = rng.random(m) < np.where(sat[sv] < 0.45, 0.8, 0.4)
    log.add(
        E.SURVEY_RESPONSE,
        cust[sv],
        o_end[sv] + _u(rng, DAY, 4 * DAY, m),
        (0, ono[sv]),
        "email",
        pc.if_else(pa.array(with_text), obj(m, **common, text=voice_text(sv)), obj(m, **common)),
    )
    rv = np.flatnonzero(live & (rng.random(n) < 0.03 + 0.1 * np.minimum(total, 1.5)))
    stars = np.clip(np.round(1 + 4 * sat[rv] + rng.normal(0, 0.3, len(rv))), 1, 5)
    log.add(
        E.REVIEW,
        cust[rv],
        o_end[rv] + _u(rng, 2 * DAY, 20 * DAY, len(rv)),
        (0, ono[rv]),
        "web",
        obj(
            len(rv),
            score=stars.astype(np.int64),
            text=voice_text(rv),
            product=product.take(pa.array(rv)),
        ),
    )
    return log.table(end_s), _scenarios(o, cs, end_s)


def _emit_cases(
    rng: np.random.Generator,
    log: _Log,
    o: dict[str, Any],
    cs: dict[str, Any],
    fields: dict[str, pa.Array],
) -> None:
    order = np.argsort(cs["ts"], kind="stable")  # case ids in the order contacts came in
    cs = {k: v[order] for k, v in cs.items()}
    m = len(order)
    no, ts, oi = np.arange(1, m + 1), cs["ts"], cs["order"]
    cust, idx = o["cust"][oi], pa.array(oi)
    ch, team = CONTACT_CH[cs["ch"]], cat(TEAMS, cs["team"])
    sub = {k: a.take(idx) for k, a in fields.items()}
    sub["amount"] = join(m, "$", money(o["inv_amt"][oi]))
    text = fill(rng, cs["topic"], tx.CONTACT_TEXTS, sub)
    base = {"topic": cat(tx.TOPICS, cs["topic"]), "text": text, "team": team, "order": sub["order"]}
    log.add(
        E.CONTACT_INBOUND,
        cust,
        ts,
        (1, no),
        ch,
        pc.if_else(
            pa.array(cs["ch"] == 2), obj(m, **base, hold_seconds=cs["queue"]), obj(m, **base)
        ),
    )

    def add(
        et: E,
        mask: Mask,
        at: I64,
        channel: str | I64,
        due: I64 | None = None,
        **attrs: Part | npt.NDArray[Any],
    ) -> None:
        w = pa.array(mask)
        vals = {
            k: v if isinstance(v, str) else v[mask] if isinstance(v, np.ndarray) else v.filter(w)
            for k, v in attrs.items()
        }
        log.add(
            et,
            cust[mask],
            at[mask],
            (1, no[mask]),
            channel if isinstance(channel, str) else channel[mask],
            obj(int(mask.sum()), **vals),
            due=None if due is None else due[mask],
        )

    add(E.REPLY_SENT, cs["reply"] >= 0, cs["reply"], ch, team=team)
    depts = (
        "logistics",
        "fulfillment",
        "billing",
        "support",
        "sales",
        "logistics",
        "logistics",
        "returns",
        "sales",
    )
    for k in (1, 2):
        to = np.where(k == 1, cs["topic"], rng.integers(0, len(depts), m))
        add(
            E.TRANSFER,
            cs["ntr"] >= k,
            ts + (6 * k - 3) * MIN,
            "phone",
            to_department=cat(depts, to),
            hold_seconds=(rng.exponential(150, m) + 10).astype(np.int64),
        )
    add(E.HOLD, cs["hold"], ts + 2 * MIN, "phone", hold_seconds=cs["hold_s"])
    add(E.CALLBACK_PROMISED, cs["cb"], ts + 15 * MIN, "phone", due=cs["cb_due"], team=team)
    add(E.CALLBACK_MADE, cs["cb_ts"] >= 0, cs["cb_ts"], "phone", team=team)
    add(
        E.REPLACEMENT_PROMISED,
        cs["rp"],
        cs["rp_ts"],
        ch,
        due=cs["rp_due"],
        part=sub["part"],
        eta="5-7 days",
    )
    add(E.REPLACEMENT_DELIVERED, cs["rp_del"] >= 0, cs["rp_del"], "carrier", part=sub["part"])
    cr = cs["cr_amt"] >= 0
    log.add(
        E.CREDIT_ISSUED,
        cust[cr],
        cs["cr_ts"][cr],
        (0, oi[cr] + 1),
        "email",
        obj(
            int(cr.sum()),
            reason=cat(("billing correction", "goodwill"), (cs["topic"][cr] != 2).astype(np.int64)),
            case=padded("C-", no[cr]),
        ),
        amount=cs["cr_amt"][cr],
    )


def _share(num: Mask, den: Mask) -> str:
    return f"{(num & den).sum() / max(1, den.sum()):.0%}"


def _scenarios(o: dict[str, Any], cs: dict[str, Any], end_s: int) -> dict[str, str]:
    day0 = (end_s - SPAN_DAYS * DAY) // DAY * DAY

    def d(offset: int) -> str:
        return datetime.fromtimestamp(day0 + offset * DAY, UTC).date().isoformat()

    done = ~o["canceled"] & (o["deliv"] <= end_s)
    cd = o["in_cd"] & done
    batch = o["in_batch"] & (o["shipped"] <= end_s)
    seen = cs["ts"] <= end_s
    rp = cs["rp"] & (cs["rp_due"] <= end_s)
    rp_bad = rp & ((cs["rp_del"] > cs["rp_due"]) | (cs["rp_del"] < 0))
    bill = (cs["topic"] == T_BILLING) & seen
    cb = cs["cb"] & (cs["cb_due"] <= end_s)
    missed = cb & ((cs["cb_ts"] < 0) | (cs["cb_ts"] > end_s))
    cedar = cs["team"] == CALLBACK_TEAM
    name, sku = tx.CATALOG[BATCH_PRODUCT][:2]
    extra = (o["inv_amt"] - o["amount"])[o["bad_bill"]].sum() / 100
    return {
        "carrier_delay": (
            f"{CARRIERS[DELAY_CARRIER]} in region {REGIONS[DELAY_REGION]}, orders placed "
            f"{d(DELAY_DAY)} to {d(DELAY_DAY + DELAY_LEN - 1)}: {cd.sum()} orders, "
            f"{_share(o['is_late'], cd)} delivered after the promised date (other orders "
            f"{_share(o['is_late'], done & ~o['in_cd'])}), "
            f"{_share(o['shipped'] > o['ship_by'], cd)} handed to the carrier after ship_by."
        ),
        "missing_parts": (
            f"{name} ({sku}) batch shipped {d(BATCH_DAY)} to {d(BATCH_DAY + BATCH_LEN - 1)}: "
            f"{(batch & o['missing']).sum()} of {batch.sum()} orders arrived with missing parts; "
            f"{((cs['topic'] == T_MISSING) & seen).sum()} customers contacted support, "
            f"{rp.sum()} were promised a replacement in 5-7 days, {rp_bad.sum()} of those came "
            f"late or not at all."
        ),
        "billing_run": (
            f"Billing run BR-{d(BILLING_DAY).replace('-', '')} invoiced {o['bad_bill'].sum()} "
            f"orders {BILLING_FACTOR - 1:.0%} above the order amount (${extra:,.2f} in total); "
            f"only {bill.sum()} of those customers contacted billing and "
            f"{(bill & (cs['cr_amt'] >= 0) & (cs['cr_ts'] <= end_s)).sum()} were credited."
        ),
        "missed_callbacks": (
            f"Team {TEAMS[CALLBACK_TEAM]} promised {(cb & cedar).sum()} callbacks and missed "
            f"{(missed & cedar).sum()} ({_share(missed, cb & cedar)}); the other teams missed "
            f"{_share(missed, cb & ~cedar)} of {(cb & ~cedar).sum()}."
        ),
    }


# ---------------------------------------------------------------- public API
def _generate(
    seed: int,
    end: datetime | None,
    customers: int | None = None,
    n_orders: int | None = None,
    broken_leave: float | None = None,
    effect: RemedyEffect | None = None,
) -> tuple[pa.Table, dict[str, str], datetime]:
    end = end or DEFAULT_END
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    rng = np.random.default_rng(seed)
    if customers is not None:
        counts = rng.integers(3, 11, customers)
    else:
        assert n_orders is not None and n_orders > 0
        counts = rng.integers(3, 11, int(n_orders / 6.5 * 1.05) + 1)
        while counts.sum() < n_orders:
            counts = np.r_[counts, rng.integers(3, 11, len(counts) // 10 + 1)]
    cust = np.repeat(np.arange(len(counts), dtype=np.int64), counts)[:n_orders]
    if broken_leave is not None and not 0 <= broken_leave <= 1:
        raise ValueError(f"broken_leave: expected a probability from 0 to 1, got {broken_leave}")
    if broken_leave is not None and effect is not None:
        raise ValueError("inject one known effect at a time: broken_leave or remedy_effect")
    o, typical, mood = _orders(
        rng, int(cust[-1]) + 1, cust, int(end.timestamp()), broken_leave, effect
    )
    table, scenarios = _events(rng, o, typical, mood, int(end.timestamp()))
    return table, scenarios, end


def generate_events(
    n_orders: int = 100_000, seed: int = 7, end: datetime | None = None
) -> pa.Table:
    """Simulate ``n_orders`` orders (before churn) and every event that follows them.

    Returns an Arrow table of string columns :data:`COLUMNS`, sorted by ``ts``; about
    4-5 events per order. Events after ``end`` (default :data:`DEFAULT_END`) are cut off.
    """
    return _generate(seed, end, n_orders=n_orders)[0]


def generate_customers(
    customers: int, seed: int = 7, end: datetime | None = None, broken_leave: float | None = None
) -> pa.Table:
    """The events of ``customers`` customers, as :func:`generate_demo` writes them (no bad
    rows, no employee pulse)."""
    return _generate(seed, end, customers=customers, broken_leave=broken_leave)[0]


def write_csv(table: pa.Table, path: Path) -> None:
    """Write an event table as generic-format CSV (fast, for benchmark volumes)."""
    pacsv.write_csv(
        table.select(list(COLUMNS)), str(path), pacsv.WriteOptions(quoting_style="needed")
    )


#: The bad rows a real export has: (file, field, value); field None = broken JSON line.
BAD_ROWS: tuple[tuple[str, str | None, str], ...] = (
    ("sales_orders.csv", "customer_id", ""),
    ("sales_orders.csv", "event_type", "order_teleported"),
    ("logistics.csv", "ts", "31/02/2026"),
    ("billing.csv", "amount", "n/a"),
    ("support.jsonl", None, ""),
    ("support.jsonl", "customer_id", ""),
    ("voice.csv", "ts", "31/02/2026"),
)


def _add_bad_rows(rng: np.random.Generator, name: str, rows: list[dict[str, str] | str]) -> int:
    ids = {r["event_id"] for r in rows if isinstance(r, dict)}
    spoils = [b for b in BAD_ROWS if b[0] == name]
    for _, col, value in spoils:
        good = [r for r in rows if isinstance(r, dict) and (col != "amount" or r["amount"])]
        row = dict(good[int(rng.integers(0, len(good)))])
        at = int(rng.integers(1, len(rows)))
        if col is None:
            line = json.dumps(row)
            rows.insert(at, line[: len(line) // 2])
            continue
        row[col] = value
        stem = f"nw-{row['event_type']}-{row['ref']}-"
        n = 1
        while f"{stem}{n}" in ids:
            n += 1
        row["event_id"] = f"{stem}{n}"
        ids.add(row["event_id"])
        rows.insert(at, row)
    return len(spoils)


def generate_demo(
    out_dir: Path,
    customers: int = 1500,
    seed: int = 7,
    end: datetime | None = None,
    with_bad_rows: bool = True,
    broken_leave: float | None = None,
    remedy_effect: float = 0.0,
) -> DemoDataset:
    """Write Northwind Home's department exports (generic format) into ``out_dir``.

    ``broken_leave``: off (None, the demo) or the probability that a customer whose first
    order arrives late leaves (a known effect of a broken promise on repurchase, for
    checking an estimator; see :func:`_injected_keep`). ``remedy_effect`` > 0 injects a
    known effect of a goodwill credit on retention (:mod:`cxloop.demo.remedy_effect`); the
    truth comes back in ``truth``. One of the two at a time."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    effect = None
    if remedy_effect:
        effect = RemedyEffect(remedy_effect, np.random.default_rng([seed, 19]))
    table, scenarios, end = _generate(
        seed, end, customers=customers, broken_leave=broken_leave, effect=effect
    )
    rng = np.random.default_rng([seed, 1])
    files, bad = [], 0
    for name, types in FILES.items():
        part = table.filter(
            pc.is_in(table["event_type"], value_set=pa.array([t.value for t in types]))
        )
        rows: list[dict[str, str] | str] = list(part.to_pylist())
        bad += _add_bad_rows(rng, name, rows) if with_bad_rows else 0
        path = out_dir / name
        with path.open("w", newline="", encoding="utf-8") as fh:
            if name.endswith(".jsonl"):
                for r in rows:
                    if isinstance(r, dict):
                        r = json.dumps(
                            {**r, "attrs": json.loads(r["attrs"])}, separators=(",", ":")
                        )
                    fh.write(r + "\n")
            else:
                writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
                writer.writeheader()
                writer.writerows(r for r in rows if isinstance(r, dict))
        files.append(path)
    start = end - timedelta(days=SPAN_DAYS)
    files.append(out_dir / "employee_pulse.csv")
    n_staff = write_employee_pulse(files[-1], start, SPAN_DAYS, seed)
    return DemoDataset(
        files=files,
        n_events=table.num_rows + n_staff,
        n_customers=pc.count_distinct(table["customer_id"]).as_py(),
        start=start,
        end=end,
        bad_rows=bad,
        scenarios=scenarios,
        truth=effect.truth if effect is not None else {},
    )
