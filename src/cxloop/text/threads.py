"""How many threads the text models (the embedding model, k-means, the sentiment fits) use.

PyTorch, OpenBLAS and OpenMP each start one thread per core and spin while they wait for
one another. On a machine whose cores are busy with other work, that spinning costs more
than the second thread gains: on 2 cores shared with other jobs (load average 17), k-means
on 4.2 k Olist embeddings took 86.3 s wall (18.1 CPU-s) with 2 threads and 24.1 s
(5.1 CPU-s) with 1, with the same clusters (docs/benchmarks.md). So unless the
``voice_threads`` setting names a number, the text models use the cores that are idle
now: the cores minus the other tasks ready to run, read from the kernel's count of
runnable tasks a few times over some milliseconds (the largest count). Not the 1-minute
load average: it lags, so a refresh started right after a heavy ingest (what every ingest
does) saw a busy machine and ran its models on one of two idle cores (59 s against 40 s
for the same topics). Where the kernel does not say, the load average less one (the
asking thread's own) stands in. At least one. The results do not depend on the number
of threads (k-means and the sentiment fits are deterministic across thread counts).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Where Linux says how many tasks are runnable this instant (its 4th field: "2/108").
LOADAVG = Path("/proc/loadavg")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def runnable_now(samples: int = 5, gap: float = 0.002, path: Path | None = None) -> int | None:
    """The most tasks runnable at once over ``samples`` reads ``gap`` seconds apart (the
    reader itself among them) of ``path`` (default :data:`LOADAVG`), or None where the
    system does not say."""
    path = path or LOADAVG
    found = 0
    try:
        for i in range(samples):
            if i:
                time.sleep(gap)
            found = max(found, int(path.read_text().split()[3].partition("/")[0]))
    except (OSError, IndexError, ValueError):
        return None
    return found


def idle_cores() -> int:
    """The cores not busy with other work now, at least one: the cores minus the other
    runnable tasks (:func:`runnable_now` less the asking thread). Where that is unknown,
    the cores minus the 1-minute load average less one (a refresh that computed the brief
    for a minute before it embeds has put its own 1 in the load average)."""
    total = cores()
    now = runnable_now()
    if now is not None:
        return max(1, min(total, total - max(0, now - 1)))
    try:
        busy = max(0.0, os.getloadavg()[0] - 1.0)
    except (AttributeError, OSError):  # no load average on this system
        return total
    return max(1, min(total, total - int(busy + 0.5)))


def thread_count(configured: int = 0) -> int:
    """``configured`` when above 0, else :func:`idle_cores`."""
    return configured if configured > 0 else idle_cores()


@contextmanager
def limited(n: int) -> Iterator[int]:
    """Run the block with at most ``n`` threads in BLAS, OpenMP (scikit-learn) and
    PyTorch (when it is loaded); the previous limits come back after it."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else 0
    try:
        with threadpool_limits(n):
            if torch is not None:
                torch.set_num_threads(n)
            yield n
    finally:
        if torch is not None:
            torch.set_num_threads(before)
