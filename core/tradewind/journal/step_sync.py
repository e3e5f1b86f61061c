"""Steps' records synced behind the engine: the ``fdatasync`` on a thread of the journal's own.

With the step log (:mod:`tradewind.journal.step_log`) a paper or live step is durable once its
record is written and ``fdatasync``'d. The write is the engine's (it orders the records in the
file); the sync only waits for the disk, and ``os.fdatasync`` releases the GIL. So with
``[journal] sync_in_background`` the engine writes step N's record, hands its sync to this
thread and computes the next steps meanwhile (up to ``Journal.sync_depth`` steps synced at
once, one sync per record, in order: a sync takes every write before it along); nothing of
step N leaves the process (its bus events are held, tradewind.bus) until
:meth:`Journal.settle` saw N's own sync return. The journal settles every step under way
before a record it syncs at once (a warning, a step that wrote an order ahead), a load's
rename of the log, a flush, a read and a close, so no other thread touches the file while
it is synced except to append.

A step whose sync fails was never acknowledged, nor were the steps written after it: their
records are cut off the log and their rows staged again, ahead of the newer ones, as when a
write fails (the run stops: the journal's error).
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import attrs


@attrs.define
class InFlight:
    """One step whose record is written and being synced: its rows, as they go to the
    logged ones once durable, or back to the staged ones if the sync fails."""

    #: The sync's outcome (raises the ``OSError`` of a failed ``fdatasync``).
    future: concurrent.futures.Future[None]
    #: The step's rows per table, and its order states (``orders`` rows by client order id).
    rows: dict[str, list[tuple[Any, ...]]]
    orders: dict[str, tuple[Any, ...]]
    #: Its table rows' count.
    n: int
    #: The order records and their event sequence numbers the order rows were made of (to
    #: stage them again if the sync fails).
    records: dict[str, Any]
    order_seq: dict[str, int]


class Syncer:
    """The journal's sync thread: one ``fdatasync`` at a time, started lazily."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def submit(self, sync: Any) -> concurrent.futures.Future[None]:
        """Run ``sync()`` on the thread; its future."""
        pool = self._pool
        if pool is None:
            pool = self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=self._name
            )
        return pool.submit(sync)

    def close(self) -> None:
        """Wait for a sync under way and end the thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
