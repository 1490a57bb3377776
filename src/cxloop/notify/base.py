"""What a channel sends, and the small protocol every channel implements."""

from __future__ import annotations

from typing import Protocol

from cxloop.domain.sending import Notice, Receipt

__all__ = ["Channel", "Notice", "Receipt"]


class Channel(Protocol):
    """A way to deliver notices. ``send`` raises :class:`cxloop.errors.DeliveryError`
    when the notice was certainly not delivered."""

    name: str

    def send(self, notice: Notice) -> Receipt: ...
