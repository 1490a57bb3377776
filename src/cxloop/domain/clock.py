"""The store's clock: the one "now" every action is stamped with and every report is as of.

A store's clock (setting ``clock``, ``CXLOOP_CLOCK``; the CLI's global ``--as-of``, the
library's ``cxloop.open(..., as_of=...)``) is one of

``data`` (the default)
    the time of the latest event loaded from a source, cxloop's own events (a remedy
    granted, a follow-up promised, a notice sent: event ids beginning ``cx-``) not counted.
    A historical export is judged as of its own end, and acting on it does not move time.
``wall``
    the computer's clock (UTC): a live store, fed as things happen.
a fixed time
    an ISO 8601 date or time (``2018-10-22``, ``2018-10-22T12:00:00Z``): the store as of
    then, for a what-if or a reproducible report.

Business times (a grant, an approval asked and decided, a case opened, started, resolved,
a follow-up, a notice drafted and sent, a brief action, the events cxloop writes into the
log, the ledger's as-of, a report's "now") come from :meth:`Clock.now`. Technical stamps
(when a key was created, a lock taken, an ingest run started, a file written, when a notice
was actually handed to the mail server) stay on the wall clock: :func:`wall_now`.

Pure: the data time comes from a function the workspace gives
(:func:`cxloop.workspace.workspace.latest_source_time`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

#: cxloop's own events (remedies, follow-ups, notices) have event ids with this prefix;
#: the data clock does not count them, so acting on a historical store does not move it.
INTERNAL_PREFIX = "cx-"

#: In ``wall`` mode a built ledger is reused while its as-of is younger than this
#: (judging every promise again on every read would cost a whole ledger build).
WALL_LEDGER_MAX_AGE = timedelta(minutes=10)

MODES = ("data", "wall", "fixed")


def wall_now() -> datetime:
    """The computer's clock in UTC (naive, whole seconds): for technical stamps only."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def parse_clock(value: str) -> str:
    """``data``, ``wall``, or a fixed time normalised to naive UTC ISO (seconds).
    Raises ``ValueError`` on anything else."""
    text = value.strip()
    if text.lower() in ("data", "wall"):
        return text.lower()
    return iso_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def iso_utc(ts: datetime) -> str:
    """``ts`` as naive UTC ISO 8601 to the second (a time without offset is UTC)."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.replace(microsecond=0).isoformat()


class Clock:
    """One store's "now".

    ``setting``: ``data``, ``wall`` or a fixed ISO time (see :func:`parse_clock`).
    ``data_time``: the latest source event's time (None for an empty log), asked once per
    ``version`` of the log; ``wall``: the computer's clock (replaceable in tests).
    An empty log has no data time: the data clock then reads the wall clock.
    """

    def __init__(
        self,
        setting: str,
        data_time: Callable[[], datetime | None],
        version: Callable[[], int],
        wall: Callable[[], datetime] = wall_now,
    ) -> None:
        spec = parse_clock(setting)
        self.mode = spec if spec in ("data", "wall") else "fixed"
        self._fixed = datetime.fromisoformat(spec) if self.mode == "fixed" else None
        self._data_time, self._version, self._wall = data_time, version, wall
        self._seen: tuple[int, datetime | None] | None = None

    def now(self) -> datetime:
        """The store's now: naive UTC (whole seconds but for a data time)."""
        if self._fixed is not None:
            return self._fixed
        if self.mode == "data":
            found = self.data_time()
            if found is not None:
                return found
        return self._wall().replace(tzinfo=None, microsecond=0)

    def data_time(self) -> datetime | None:
        """The latest source event's time (cached for one version of the log)."""
        version = self._version()
        if self._seen is None or self._seen[0] != version:
            self._seen = (version, self._data_time())
        return self._seen[1]

    def seed(self, version: int, when: datetime) -> None:
        """Tell the data clock its time at log ``version`` (known from a ledger build)."""
        if self.mode == "data":
            self._seen = (version, when)

    def current(self, as_of: datetime | str) -> bool:
        """Whether something computed as of ``as_of`` is as of this clock's now
        (in ``wall`` mode: no older than :data:`WALL_LEDGER_MAX_AGE`)."""
        when = datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        if self.mode == "wall":
            return timedelta(0) <= self.now() - when <= WALL_LEDGER_MAX_AGE
        return when == self.now()

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "now": self.now().isoformat()}

    def describe(self) -> str:
        what = {
            "data": "the latest source event",
            "wall": "the wall clock",
            "fixed": "a fixed time",
        }[self.mode]
        return f"{self.now().isoformat(sep=' ')} ({what})"
