"""Items of an iterable produced on a thread of their own, a few ahead of their consumer.

Two writers use it: the PostgreSQL append encodes Arrow batches as binary ``COPY`` while
the previous one travels (:mod:`cxloop.store.pgappend`), and the customer-sorted copy has
DuckDB turn its sorted rows into Arrow batches while pyarrow encodes and compresses the
previous ones (:mod:`cxloop.store.pointindex`). Both sides release the GIL, so two cores
work where one did.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()


def ahead(items: Iterable[T], depth: int = 2, name: str = "cxloop-ahead") -> Iterator[T]:
    """The items of ``items`` in order, produced on a daemon thread (``name``) at most
    ``depth`` ahead of the caller. An error of the producer is raised here; a caller that
    stops early (its own write failed, or it closed the generator) stops the thread, which
    is joined before this returns."""
    waiting: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
            return
        put(_END)

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while (item := waiting.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
