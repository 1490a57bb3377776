"""Use case: deliver the outbox's notices through a channel, each at most once.

One sender at a time per store (the ``.send.lock`` file). Each notice is claimed,
and the claim committed, before the channel is called; the outcome is recorded
after. A sender killed in between leaves a claim behind, which the next run turns
into ``uncertain`` rather than resending it. See ``docs/sending.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cxloop.domain.sending import SendStatus
from cxloop.errors import Busy, ConfigError, DeliveryError
from cxloop.notify.base import Channel, Notice
from cxloop.notify.smtp import SmtpChannel
from cxloop.notify.webhook import WebhookChannel
from cxloop.settings import Settings
from cxloop.store.lock import WriteLock
from cxloop.store.outbox import Outbox, SendRecord
from cxloop.workspace.workspace import Workspace

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DeliveryReport:
    """What one run did, over the notices of its channel (and incident, when given).

    The counts add up to every notice in that scope: ``sent + failed + uncertain +
    skipped_already_sent + skipped_failed + left``.
    """

    sent: int  # delivered by this run
    failed: int  # certainly not delivered by this run (see errors)
    uncertain: int  # may or may not have gone out; not resent without retry_uncertain
    skipped_already_sent: int  # sent by an earlier run
    errors: list[tuple[str, str]] = field(default_factory=list)  # (key, message) of this run
    recovered: int = 0  # claims left by a sender that died, turned uncertain at the start
    skipped_failed: int = 0  # refused for good by an earlier run: not retried
    left: int = 0  # deliverable, but beyond ``limit``: left for a later run

    @property
    def total(self) -> int:
        return (
            self.sent
            + self.failed
            + self.uncertain
            + self.skipped_already_sent
            + self.skipped_failed
            + self.left
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "uncertain": self.uncertain,
            "skipped_already_sent": self.skipped_already_sent,
            "skipped_failed": self.skipped_failed,
            "left": self.left,
            "recovered": self.recovered,
            "total": self.total,
            "errors": [{"key": key, "error": message} for key, message in self.errors],
        }


def _email(settings: Settings) -> Channel:
    return SmtpChannel(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_sender,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
    )


def _webhook(settings: Settings) -> Channel:
    if not settings.webhook_url:
        raise ConfigError("no webhook URL to send to: set CXLOOP_WEBHOOK_URL")
    return WebhookChannel(settings.webhook_url, secret=settings.webhook_secret)


CHANNELS: dict[str, Callable[[Settings], Channel]] = {"email": _email, "webhook": _webhook}


def channel_from_settings(settings: Settings, name: str) -> Channel:
    """The channel called ``name`` (email or webhook), configured from the settings."""
    try:
        make = CHANNELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown channel {name!r}: expected one of {', '.join(CHANNELS)}"
        ) from None
    return make(settings)


def enqueue(ws: Workspace, notices: Iterable[Notice], channel: str) -> int:
    """Put notices in the store's outbox for ``channel``; returns how many were new."""
    return Outbox(ws.state).enqueue(notices, channel)


@contextmanager
def _one_sender(ws: Workspace) -> Iterator[None]:
    lock = WriteLock(ws.home / ".send.lock", ws.settings.lock_timeout)
    try:
        lock.__enter__()
    except Busy:
        raise Busy(
            f"another sender has been delivering notices from {ws.home} for "
            f"{ws.settings.lock_timeout:.0f}s; let it finish, or raise CXLOOP_LOCK_TIMEOUT"
        ) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def _deliver_one(
    outbox: Outbox, channel: Channel, record: SendRecord, retry_uncertain: bool
) -> tuple[SendStatus | None, str | None]:
    """Claim, send, record. Returns the new state (None: not claimable) and the error."""
    if not outbox.claim(record.key, retry_uncertain=retry_uncertain):
        return None, None
    try:
        receipt = channel.send(record.notice())
    except DeliveryError as exc:  # certainly not delivered
        outbox.mark_failed(record.key, str(exc), exc.retryable)
        return SendStatus.FAILED, str(exc)
    except OSError as exc:  # the channel could not tell whether it went out
        outbox.mark_uncertain(record.key, str(exc))
        return SendStatus.UNCERTAIN, str(exc)
    except BaseException as exc:  # a bug or an interrupt mid-send: record, then stop
        outbox.mark_uncertain(record.key, f"{type(exc).__name__}: {exc}")
        raise
    outbox.mark_sent(record.key, receipt)
    return SendStatus.SENT, None


def _run(
    outbox: Outbox,
    channel: Channel,
    batch: list[SendRecord],
    retry_uncertain: bool,
    progress: Progress | None,
) -> tuple[Counter[SendStatus | None], list[tuple[str, str]]]:
    outcomes: Counter[SendStatus | None] = Counter()
    errors: list[tuple[str, str]] = []
    for done, record in enumerate(batch, 1):
        status, error = _deliver_one(outbox, channel, record, retry_uncertain)
        outcomes[status] += 1
        if error is not None:
            errors.append((record.key, error))
        if progress is not None:
            progress(done, len(batch))
    return outcomes, errors


def deliver(
    ws: Workspace,
    channel: Channel,
    *,
    incident_id: str | None = None,
    retry_uncertain: bool = False,
    limit: int | None = None,
    progress: Progress | None = None,
) -> DeliveryReport:
    """Send the channel's pending notices (and retryable failures; uncertain ones only
    with ``retry_uncertain``), oldest first, at most ``limit`` of them.

    ``progress(done, total)`` is called after each attempt."""
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be 0 or more, got {limit}")
    outbox = Outbox(ws.state)
    with _one_sender(ws):
        recovered = outbox.recover_interrupted()
        before = outbox.summary(incident_id, channel=channel.name)
        todo = outbox.deliverable(
            channel.name, incident_id=incident_id, retry_uncertain=retry_uncertain
        )
        batch = todo[:limit] if limit is not None else todo
        outcomes, errors = _run(outbox, channel, batch, retry_uncertain, progress)
    untouched = Counter(before) - Counter(r.status for r in todo)  # states nothing was tried for
    return DeliveryReport(
        sent=outcomes[SendStatus.SENT],
        failed=outcomes[SendStatus.FAILED],
        uncertain=outcomes[SendStatus.UNCERTAIN] + untouched[SendStatus.UNCERTAIN],
        skipped_already_sent=untouched[SendStatus.SENT],
        errors=errors,
        recovered=recovered,
        skipped_failed=untouched[SendStatus.FAILED],
        left=len(todo) - len(batch) + outcomes[None],
    )
