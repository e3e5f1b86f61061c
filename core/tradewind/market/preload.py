"""A data file's load started on a thread of its own, before the replay venue asks for it.

A ``tradewind backtest`` process spends a few hundred milliseconds between its config check and
the replay venue's ``connect`` importing the engine's modules (DuckDB, the report), building
the engine and opening its journal; the file's load (pyarrow's parquet read and numpy's
copies, which release the GIL) can run on the machine's other core meanwhile. It shortens the
process's wall time, not its CPU time. Only tradewind ticks parquet files are read ahead
(:func:`readable_ahead`); the other formats are read at ``connect`` as before.

:func:`preloading` starts the loads and makes them visible to :func:`take` (a context
variable: only code running in that context, such as the engine's ``anyio.run`` inside the
block, finds them); the replay venue's ``connect`` takes the one it would have made itself,
with the same arguments, and waits for it. What the load raised is raised there, where the
venue's own load would have raised it. Leaving the block waits for every load still running
and drops what was not taken, so no thread outlives it and nothing it loaded stays alive.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradewind.market.importers import ImportResult

#: The loads under way in this context (:func:`preloading`), by their load's arguments.
_current: ContextVar[dict[tuple[str, int], Preload] | None] = ContextVar(
    "tradewind_preloads", default=None
)


def _identity(path: Path) -> tuple[int, ...] | None:
    """What tells whether the file changed between the load and its use (None: not a regular
    file this process can stat; such a path is never read ahead: a FIFO would block)."""
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def readable_ahead(path: Path) -> bool:
    """Whether ``path`` is read ahead: a tradewind ticks parquet file with dictionary-coded
    symbols (what ``tradewind data synth`` and the market store write), whose reader imports
    no module as it reads. The other formats' readers import parts of pyarrow at their first
    use, and two threads importing at once can meet in the import system's deadlock
    detection: those files are read at the venue's connect, as before. Reads the file's
    footer only (on the caller's thread)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tradewind.market.importers import ticks_parquet

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return False  # not parquet, or unreadable: the venue's own load says why
    return ticks_parquet.is_ticks_table(schema) and pa.types.is_dictionary(
        schema.field("symbol").type
    )


class Preload:
    """One file's :func:`tradewind.market.importers.load` on a thread of its own."""

    def __init__(self, path: Path, max_backwards_ns: int) -> None:
        # Imported here, on the caller's thread: two threads importing the same modules at
        # once can meet in the import system's deadlock detection (a partly run module).
        from tradewind.market.importers import load

        self.path = path
        self.max_backwards_ns = max_backwards_ns
        self.identity = _identity(path)
        self._result: ImportResult | None = None
        self._error: BaseException | None = None
        # A daemon: a second Ctrl-C while the block's exit waits for it still ends the
        # process (the normal exit would wait for a non-daemon thread).
        self._thread = threading.Thread(
            target=self._load, args=(load,), name=f"tradewind-load {path.name}", daemon=True
        )
        self._thread.start()

    def _load(self, load: object) -> None:
        try:
            self._result = load(  # type: ignore[operator]
                self.path, max_backwards_ns=self.max_backwards_ns
            )
        except BaseException as exc:  # handed to the taker, raised where its own load would
            self._error = exc

    def wait(self) -> None:
        """Until the load has ended (done or failed)."""
        self._thread.join()

    def result(self) -> ImportResult:
        """The load's result once it has ended, or what it raised, raised here; once."""
        self.wait()
        error, result = self._error, self._result
        self._error = self._result = None
        if error is not None:
            try:
                raise error
            finally:
                del error  # no cycle through this frame
        assert result is not None
        return result

    def drop(self) -> None:
        """Wait for the load and let go of whatever it made."""
        self.wait()
        self._error = self._result = None


@contextmanager
def preloading(files: Iterable[tuple[Path, int]]) -> Iterator[None]:
    """Load each ``(path, max_backwards_ns)`` on a thread of its own, for :func:`take` inside.

    On leaving (whatever ends the block), every load still running is waited for and every
    result not taken is dropped."""
    loads: dict[tuple[str, int], Preload] = {}
    token = _current.set(loads)
    try:
        for path, max_backwards_ns in files:
            key = (os.fspath(path), max_backwards_ns)
            if key not in loads and _identity(path) is not None and readable_ahead(path):
                loads[key] = Preload(path, max_backwards_ns)
        yield
    finally:
        _current.reset(token)
        for preload in loads.values():
            preload.drop()
        loads.clear()


def take(path: Path, max_backwards_ns: int) -> ImportResult | None:
    """The result of the load of ``path`` with ``max_backwards_ns`` started by
    :func:`preloading` in this context (waited for; what it raised is raised), or None when
    there is none, it was taken already, or the file changed since it was started."""
    loads = _current.get()
    if not loads:
        return None
    preload = loads.pop((os.fspath(path), max_backwards_ns), None)
    if preload is None:
        return None
    preload.wait()
    if preload.identity is None or _identity(path) != preload.identity:
        preload.drop()  # replaced or touched meanwhile: the caller loads what is there now
        return None
    return preload.result()
