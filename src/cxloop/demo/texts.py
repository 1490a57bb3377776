"""Catalog, message templates and vectorized (Arrow) string building for the demo.

Templates use ``{product}``, ``{order}``, ``{part}``, ``{days}`` and ``{amount}``
placeholders. They must stay JSON-safe: no double quotes, backslashes or newlines.
"""

from __future__ import annotations

from collections.abc import Sequence
from string import Formatter
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Part: TypeAlias = "str | pa.Array"

#: (product name, sku, lowest unit price in cents, highest, share of orders)
CATALOG: tuple[tuple[str, str, int, int, float], ...] = (
    ("Ashford Oak Bed Frame", "NW-BF-4410", 38900, 52900, 0.07),
    ("Linen Duvet Cover Set", "NW-LN-1203", 8900, 14900, 0.10),
    ("Cast Iron Skillet 12in", "NW-KT-0831", 3900, 5900, 0.08),
    ("Walnut Bookshelf", "NW-BK-2207", 17900, 25900, 0.05),
    ("Ceramic Table Lamp", "NW-LT-0612", 5900, 8900, 0.07),
    ("Wool Area Rug 5x8", "NW-RG-3301", 19900, 34900, 0.05),
    ("Stoneware Dinner Set", "NW-KT-0940", 7900, 12900, 0.08),
    ("Velvet Accent Chair", "NW-CH-5120", 24900, 39900, 0.05),
    ("Bamboo Bath Towels 4-pack", "NW-BA-0405", 3900, 5900, 0.09),
    ("Glass Storage Jars 6-pack", "NW-KT-0777", 2900, 4500, 0.08),
    ("Standing Desk Frame", "NW-DK-6010", 29900, 44900, 0.04),
    ("Blackout Curtains", "NW-WD-1515", 4900, 7900, 0.07),
    ("Memory Foam Pillows 2-pack", "NW-BD-0220", 4900, 6900, 0.08),
    ("Outdoor Bistro Set", "NW-OD-7002", 27900, 39900, 0.04),
    ("Cordless Stick Vacuum", "NW-AP-9001", 14900, 22900, 0.05),
)

#: Parts that can be missing from the Ashford bed frame batch.
PARTS: tuple[str, ...] = ("hardware kit", "center support leg", "side rail bolts", "slat pack")

#: Support topics; ``CONTACT_TEXTS[i]`` belongs to ``TOPICS[i]``.
TOPICS: tuple[str, ...] = (
    "late_delivery",
    "missing_parts",
    "billing_error",
    "follow_up",
    "product_question",
    "damaged_item",
    "order_status",
    "return_request",
    "account_change",
)
CONTACT_TEXTS: tuple[tuple[str, ...], ...] = (
    (  # late_delivery
        "Hi, my order {order} was supposed to arrive by now and tracking has not moved. "
        "Where is it?",
        "Still waiting on the {product} from order {order}. It was promised days ago. What is "
        "going on?",
        "The delivery date for {order} has passed and nobody told me anything. Please sort this.",
        "Order {order} is late. The carrier says delayed but gives no new date.",
        "I took a day off to receive my {product} and it never came. Order {order}.",
        "Is order {order} lost? It is past the promised date and I have heard nothing.",
    ),
    (  # missing_parts
        "My {product} arrived without the {part}. I cannot assemble it. Order {order}.",
        "The box for order {order} is missing the {part}. How fast can you send it?",
        "Opened the {product} today and the {part} is not in the package. Very disappointing.",
        "Half built bed frame in my bedroom because the {part} is missing. Please send it quickly.",
        "Order {order}: the {part} is missing from the {product}. Do I really have to buy it "
        "separately?",
    ),
    (  # billing_error
        "My invoice for order {order} is higher than what I paid at checkout. Please explain.",
        "I was invoiced {amount} for order {order} but the order total was lower. Billing error?",
        "Why is my invoice about 35 percent more than the price on the website? Order {order}.",
        "The invoice for the {product} does not match my order. Please correct it.",
    ),
    (  # follow_up
        "Second time I am writing about this. Nobody called me back as promised.",
        "I was told someone would call me yesterday. No call. Order {order}.",
        "Still no answer to my earlier message about order {order}. Is anyone reading these?",
        "Following up again. I have now contacted you several times about the same problem.",
    ),
    (  # product_question
        "Does the {product} come assembled, or do I need tools?",
        "What are the dimensions of the {product}? I want to check it fits before it arrives.",
        "Can the {product} go in the washing machine?",
        "Is there a matching set for the {product} I ordered in {order}?",
    ),
    (  # damaged_item
        "The {product} arrived with a crack. Order {order}. What are my options?",
        "The box was crushed and the {product} inside is damaged.",
        "Received order {order} today, the {product} is scratched on one side.",
    ),
    (  # order_status
        "Can you confirm when order {order} will ship?",
        "Hi, just checking on the status of my {product} order.",
        "Could I change the delivery address for order {order}?",
    ),
    (  # return_request
        "I would like to return the {product} from order {order}. It does not fit the room.",
        "How do I return an item? The {product} is not what I expected.",
    ),
    (  # account_change
        "Please update the email address on my account.",
        "I cannot log in to my account to see my orders.",
    ),
)

#: Issues that drive survey and review text, in the order the generator scores them.
ISSUES: tuple[str, ...] = (
    "late",
    "slow",
    "missing_parts",
    "billing",
    "refund",
    "callback",
    "support",
)

POSITIVE: tuple[str, ...] = (
    "Arrived quickly and exactly as described. Very happy.",
    "Great quality {product}, and delivery was faster than expected.",
    "Smooth from order to delivery. Will buy again.",
    "Love the {product}. Careful packaging and it came early.",
    "Easy order, friendly service, no surprises.",
)
NEUTRAL: tuple[str, ...] = (
    "The {product} is fine. Delivery took a bit longer than usual.",
    "Decent {product}, nothing special.",
    "OK overall, but the delivery window could be better.",
    "Good product, took a while to arrive.",
)
#: Negative texts per issue (same order as ISSUES), then a generic fallback.
NEGATIVE: tuple[tuple[str, ...], ...] = (
    (
        "Delivery was {days} days late and nobody told me.",
        "The promised date came and went. I had to chase them for updates.",
        "The {product} arrived well after the promised date. Not ordering again.",
    ),
    (
        "My orders usually come the next day, this one took {days} days.",
        "Slower than I am used to from Northwind. The {product} took {days} days.",
    ),
    (
        "The {product} came without the {part} and the replacement took forever.",
        "Missing parts, a long phone call, and I am still waiting for the {part}.",
        "Could not assemble the {product} for weeks because of a missing {part}.",
    ),
    (
        "I was overcharged on my invoice and had to call to get it fixed.",
        "The invoice did not match my order and nobody warned me.",
    ),
    (
        "Returned the {product} weeks ago and still no refund.",
        "The refund took far longer than the five days they promised.",
    ),
    (
        "They promised to call me back and never did.",
        "Waited all day for a callback that never came.",
    ),
    (
        "Emailed support twice and got no answer.",
        "Transferred around and put on hold for ages. Exhausting.",
        "The agent had to ask a supervisor before giving me a small credit while I waited.",
    ),
    (
        "Disappointed with the whole experience.",
        "Not what I expect from Northwind Home.",
    ),
)


# ---------------------------------------------------------------- building strings
def join(n: int, *parts: Part) -> pa.Array:
    """Concatenate string arrays and constants row by row (``n`` rows)."""
    out = pc.binary_join_element_wise(
        *[pa.scalar(p) if isinstance(p, str) else p for p in parts], ""
    )
    return pa.repeat(out, n) if isinstance(out, pa.Scalar) else out


def to_str(v: npt.NDArray[Any]) -> pa.Array:
    """Numbers as decimal strings."""
    return pc.cast(pa.array(v), pa.string())


def cat(names: Sequence[str], idx: npt.NDArray[Any]) -> pa.Array:
    """``names[idx[i]]`` for every row."""
    return pc.take(pa.array(list(names), pa.string()), pa.array(idx))


def iso(ts: npt.NDArray[np.int64]) -> pa.Array:
    """ISO 8601 UTC seconds, ``2026-03-01T14:05:00Z``: Arrow's cast gives the fixed-width
    ``2026-03-01 14:05:00`` (20x faster than strftime); patch its bytes in one copy."""
    n = len(ts)
    text = pc.cast(pa.array(ts, pa.timestamp("s")), pa.string())
    assert np.frombuffer(text.buffers()[1], np.int32, n + 1)[n] == 19 * n, "year out of range"
    buf = np.empty((n, 20), np.uint8)
    buf[:, :19] = np.frombuffer(text.buffers()[2], np.uint8, 19 * n).reshape(n, 19)
    buf[:, 10], buf[:, 19] = ord("T"), ord("Z")
    offsets = pa.py_buffer(np.arange(0, 20 * n + 1, 20, dtype=np.int32))
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(buf)])


def padded(prefix: str, no: npt.NDArray[np.int64]) -> pa.Array:
    """Ids like ``O-000123`` (at least six digits)."""
    return join(len(no), prefix, pc.utf8_lpad(to_str(no), width=6, padding="0"))


def obj(n: int, **fields: Part | npt.NDArray[Any]) -> pa.Array:
    """A JSON object per row; numpy values are numbers, the rest strings (JSON-safe)."""
    parts: list[Part] = []
    for k, v in fields.items():
        parts.append(f',"{k}":' if parts else f'{{"{k}":')
        parts += [to_str(v)] if isinstance(v, np.ndarray) else ['"', v, '"']
    return join(n, *(parts or ["{"]), "}")


def fill(
    rng: np.random.Generator,
    key: npt.NDArray[np.int64],
    table: Sequence[Sequence[str]],
    fields: dict[str, pa.Array],
) -> pa.Array:
    """Fill a random template of group ``table[key[i]]`` for every row i."""
    if len(key) == 0:
        return pa.array([], pa.string())
    flat = [t for group in table for t in group]
    lens = np.array([len(g) for g in table])
    pick = (np.cumsum(lens) - lens)[key] + (rng.random(len(key)) * lens[key]).astype(np.int64)
    order = np.argsort(pick, kind="stable")
    bounds = np.searchsorted(pick[order], np.arange(len(flat) + 1))
    chunks = []
    for t, template in enumerate(flat):
        rows = pa.array(order[bounds[t] : bounds[t + 1]])
        if len(rows):
            parts: list[Part] = []
            for literal, name, _, _ in Formatter().parse(template):
                parts += [literal] if literal else []
                parts += [fields[name].take(rows)] if name else []
            chunks.append(join(len(rows), *parts))
    inverse = np.empty(len(key), np.int64)
    inverse[order] = np.arange(len(key))
    return pa.concat_arrays(chunks).take(pa.array(inverse))


def money(cents: npt.NDArray[np.int64]) -> pa.Array:
    cents = np.maximum(cents, 0)
    """Cents as ``1234.50``."""
    return join(
        len(cents),
        to_str(cents // 100),
        ".",
        pc.utf8_lpad(to_str(cents % 100), width=2, padding="0"),
    )
