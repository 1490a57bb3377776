"""Northwind Home's employees: a monthly pulse survey with comments (``employee_pulse.csv``).

Each employee answers the pulse with probability 0.7 (eNPS, 0-10), and leaves a comment
about a policy, practice, product or service (the ``about`` key of a subject in
``cxloop/rules/voice.toml``) more often when something they handle is going wrong: the
staff see the demo's injected failures too — the bed-frame batch, the carrier delay, the
billing run, the Cedar callback backlog — and the credit approvals customers wait on.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from cxloop.domain.events import EVENT_COLUMNS

COLUMNS = tuple(c.name for c in EVENT_COLUMNS)

#: (department, employees, base eNPS mood 0..1)
STAFF: tuple[tuple[str, int, float], ...] = (
    ("support", 30, 0.55),
    ("logistics", 14, 0.65),
    ("fulfillment", 12, 0.65),
    ("billing", 8, 0.7),
    ("returns", 8, 0.6),
    ("sales", 8, 0.75),
)

#: subject -> (departments that talk about it, negative comments, positive comments)
COMMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "delivery_promises": (
        ("logistics", "support"),
        (
            "Meridian Freight pickups in the south-east are days behind and we keep quoting "
            "the old delivery dates.",
            "We have no way to warn customers when a carrier runs late; they find out when "
            "they call us.",
            "The delivery dates we promise ignore what the carriers can actually do.",
        ),
        ("Carrier handoffs ran smoothly this month.", "Deliveries are mostly on time now."),
    ),
    "missing_parts": (
        ("fulfillment", "support"),
        (
            "We keep shipping Ashford bed frames without the hardware kit; nobody checks the "
            "batch before it goes out.",
            "The packing line has no parts checklist for the bed frames.",
            "Customers call about missing parts and we cannot ship the parts on their own.",
        ),
        ("Packing quality is good, very few parts issues.",),
    ),
    "billing_accuracy": (
        ("billing", "support"),
        (
            "The billing run went out without a second check and we are fielding overcharge "
            "calls all day.",
            "Invoices are not reconciled with the orders before they are sent.",
        ),
        ("Billing runs are clean and reconciled.",),
    ),
    "refund_policy": (
        ("returns", "support", "billing"),
        (
            "The five-day refund promise is impossible with the current approval chain.",
            "Refunds wait days for a manager sign-off.",
        ),
        ("Refunds go out quickly since the new process.",),
    ),
    "callbacks": (
        ("support",),
        (
            "We are told to promise callbacks but the Cedar team has no capacity to make them.",
            "Nobody owns the callback queue in the evenings, so callbacks get missed.",
        ),
        ("Callbacks are on track this month.",),
    ),
    "credit_approvals": (
        ("support", "returns"),
        (
            "I have to ask a lead for every small credit while the customer waits on the line.",
            "Let us fix small problems ourselves; approvals for a ten dollar credit waste "
            "everyone's time.",
        ),
        ("The new credit limits let me fix things on the first call.",),
    ),
    "support_reachability": (
        ("support", "sales"),
        (
            "Too many transfers between teams; customers repeat their story every time.",
            "Hold times are long because the phone team is short-staffed.",
        ),
        ("The chat channel takes pressure off the phones.",),
    ),
}

#: (subject, first day, last day, weight) — what goes wrong when (days from the period start,
#: the same as the generator's injected failures).
TROUBLE: tuple[tuple[str, int, int, float], ...] = (
    ("missing_parts", 65, 100, 4.0),
    ("delivery_promises", 100, 125, 4.0),
    ("billing_accuracy", 135, 165, 4.0),
    ("callbacks", 0, 180, 1.5),
    ("credit_approvals", 0, 180, 1.5),
    ("refund_policy", 0, 180, 1.0),
    ("support_reachability", 0, 180, 1.0),
    ("delivery_promises", 0, 180, 0.4),
    ("missing_parts", 0, 180, 0.3),
    ("billing_accuracy", 0, 180, 0.3),
)


def write_employee_pulse(path: Path, start: datetime, days: int, seed: int) -> int:
    """Write the pulse answers to ``path`` (generic format); returns the number of rows."""
    rng = np.random.default_rng([seed, 3])
    staff = [(dept, mood) for dept, count, mood in STAFF for _ in range(count)]
    rows: list[dict[str, str]] = []
    for month_day in range(0, days, 30):
        trouble = [t for t in TROUBLE if t[1] <= month_day + 15 and t[2] >= month_day]
        for e, (dept, mood) in enumerate(staff):
            if rng.random() > 0.7:
                continue
            ts = start + timedelta(days=month_day + float(rng.uniform(0, 7)))
            relevant = [t for t in trouble if dept in COMMENTS[t[0]][0]]
            strain = sum(t[3] for t in relevant if t[2] - t[1] < 60) * 0.04
            sat = float(np.clip(mood - strain + rng.normal(0, 0.15), 0, 1))
            attrs: dict[str, object] = {
                "survey": "monthly_pulse",
                "metric": "enps",
                "score": int(np.clip(round(sat * 10 + rng.normal(0, 0.7)), 0, 10)),
            }
            if relevant and rng.random() < 0.45:
                w = np.array([t[3] for t in relevant])
                subject = relevant[int(rng.choice(len(relevant), p=w / w.sum()))][0]
                _, negative, positive = COMMENTS[subject]
                pool = positive if rng.random() < 0.15 + 0.5 * sat * (sat > 0.7) else negative
                attrs |= {"about": subject, "text": pool[int(rng.integers(len(pool)))]}
            rows.append(
                {
                    "event_id": f"nw-employee_feedback-E-{e + 1:06d}-{month_day // 30 + 1}",
                    "customer_id": f"emp-{e + 1:04d}",
                    "event_type": "employee_feedback",
                    "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "department": dept,
                    "channel": "pulse",
                    "ref": "",
                    "amount": "",
                    "due_at": "",
                    "attrs": json.dumps(attrs, separators=(",", ":")),
                }
            )
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
