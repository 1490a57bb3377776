"""Remedies: what an organization can give a customer to recover a failure.

Pure definitions shared by the empowerment policy (what a role may grant) and
the recovery recommender (what to offer). No I/O.
"""

from __future__ import annotations

from enum import StrEnum


class Remedy(StrEnum):
    """The remedy catalogue. Monetary remedies carry an amount; the others do not."""

    APOLOGY = "apology"
    EXPEDITE = "expedite"  # speed up the (re)shipment at the company's cost
    CREDIT = "credit"  # store credit / account credit
    REFUND = "refund"  # money back (part or all of the order)
    REPLACEMENT = "replacement"  # send the item or the missing parts again
    KEEP_ITEM = "keep_item"  # refund or replace and let the customer keep the item
    CALLBACK = "callback"  # a person calls the customer back at a promised time


#: Remedies that carry a money amount.
MONETARY: frozenset[Remedy] = frozenset({Remedy.CREDIT, Remedy.REFUND, Remedy.KEEP_ITEM})


class Severity(StrEnum):
    """How bad a customer problem is, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class CustomerTier(StrEnum):
    """A customer's value to the organization (from order count and spend)."""

    NEW = "new"
    STANDARD = "standard"
    HIGH = "high"
