"""Crash points: a test seam to kill the process at a named step of a write.

``CXLOOP_CRASH_AT=<step>`` in the environment makes :func:`point` kill the process with
SIGKILL (no cleanup, no ``finally``) when the write reaches that step, as a power cut or
``kill -9`` would. Unset (always, outside the crash tests), :func:`point` does nothing.
The steps of an ingest are listed in :data:`INGEST_STEPS`, in order.
"""

from __future__ import annotations

import os
import signal

ENV = "CXLOOP_CRASH_AT"
INGEST_STEPS = (
    "staged",  # rows read and checked; nothing written yet
    "segment-written",  # the new segment is written under its temporary name
    "segment-renamed",  # ... and renamed to its final name (not yet in the manifest)
    "journal-written",  # the run's quarantine rows and counts are in its journal
    "log-committed",  # the manifest lists the segment (PostgreSQL: the transaction commits)
    "quarantine-recorded",  # the run's problems are in the quarantine
    "run-finished",  # the run is marked done; its journal is still there
)


def point(step: str) -> None:
    """Kill this process now if ``CXLOOP_CRASH_AT`` names ``step``."""
    if os.environ.get(ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)
