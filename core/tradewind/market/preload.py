"""A data file's load started on a thread of its own, before the replay venue asks for it.

A ``tradewind backtest`` process spends a few hundred milliseconds between its config check and
the replay venue's ``connect`` importing the engine's modules (DuckDB, the report), building
the engine and opening its journal; the file's load (pyarrow's parquet read and numpy's
copies, which release the GIL) runs on the machine's other core meanwhile
(:mod:`tradewind.ahead`). It shortens the process's wall time, not its CPU time. Only
tradewind ticks parquet files are read ahead (:func:`readable_ahead`); the other formats are
read at ``connect`` as before.

:func:`preloading` starts the loads; the replay venue's ``connect`` takes the one it would
have made itself, with the same arguments (:func:`take`), and waits for it. What the load
raised is raised there. Leaving the block waits for every load still running and drops what
was not taken.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradewind import ahead

if TYPE_CHECKING:
    from tradewind.market.importers import ImportResult

#: The loads under way in this context (:func:`preloading`), by their load's arguments.
_current: ContextVar[dict[Any, ahead.Ahead[Any]] | None] = ContextVar(
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
    symbols (what ``tradewind data synth`` and ``ticks_parquet.write`` write), whose reader
    imports no module as it reads. The other formats' readers import parts of pyarrow at
    their first use, and two threads importing at once can meet in the import system's
    deadlock detection: those files are read at the venue's connect, as before. Reads the
    file's footer only (on the caller's thread)."""
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


@contextmanager
def preloading(files: Iterable[tuple[Path, int]]) -> Iterator[None]:
    """Load each ``(path, max_backwards_ns)`` that is :func:`readable_ahead` on a thread of
    its own, for :func:`take` inside the block."""
    from tradewind.market.importers import load  # imported here, not on the thread

    with ahead.started(_current) as loads:
        for path, max_backwards_ns in files:
            key = (os.fspath(path), max_backwards_ns)
            identity = _identity(path)
            if key in loads or identity is None or not readable_ahead(path):
                continue

            def call(path: Path = path, max_backwards_ns: int = max_backwards_ns) -> Any:
                return load(path, max_backwards_ns=max_backwards_ns)

            loads[key] = ahead.Ahead(f"tradewind-load {path.name}", call, tag=identity)
        yield


def take(path: Path, max_backwards_ns: int) -> ImportResult | None:
    """The result of the load of ``path`` with ``max_backwards_ns`` started by
    :func:`preloading` in this context (waited for; what it raised is raised), or None when
    there is none, it was taken already, or the file changed since it was started."""
    load = ahead.take(_current, (os.fspath(path), max_backwards_ns))
    if load is None:
        return None
    load.wait()
    if _identity(path) != load.tag:
        load.drop()  # replaced or touched meanwhile: the caller loads what is there now
        return None
    result: ImportResult = load.result()
    return result
