"""An inter-process write lock on the store (readers never take it)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from cxloop.errors import Busy


class WriteLock:
    """Exclusive lock for writers (ingest, ledger build), with a timeout.

    Uses ``flock`` on a lock file, so it is released by the OS if the holder
    dies. Readers (timeline, reports, a running server) never wait on it.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise Busy(
                        f"the store at {self.path.parent} is busy: another writer (ingest or "
                        f"ledger build) held it for {self.timeout:.0f}s; retry, or raise "
                        "CXLOOP_LOCK_TIMEOUT"
                    ) from None
                time.sleep(0.05)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
