"""What a channel sends, and the small protocol every channel implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Notice:
    """One message to one customer about one incident (or case).

    ``key`` is the idempotency key: one notice per (incident, customer); the
    outbox never sends a key twice, and channels pass it on (Message-ID,
    ``Idempotency-Key`` header) so receivers can de-duplicate as well.
    """

    key: str
    incident_id: str
    customer_id: str
    address: str  # e-mail address; empty when unknown (webhooks do not need one)
    subject: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)  # structured payload for webhooks


@dataclass(frozen=True)
class Receipt:
    """What the receiving side acknowledged (SMTP Message-ID, HTTP status)."""

    channel: str
    detail: str


class Channel(Protocol):
    """A way to deliver notices. ``send`` raises :class:`cxloop.errors.DeliveryError`
    when the notice was certainly not delivered."""

    name: str

    def send(self, notice: Notice) -> Receipt: ...
