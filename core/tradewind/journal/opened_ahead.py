"""A backtest's new DuckDB journal opened on a thread of its own while the engine is built.

Creating a journal file (DuckDB's ``connect`` and the tables in one committed transaction:
C++ that releases the GIL, and the disk's sync) takes tens of milliseconds of a
``tradewind backtest`` process's wall time, most of it waiting; :func:`opening` starts it on
a thread (:mod:`tradewind.ahead`) once the config check has passed, and the engine's
journal takes the open database where it would have opened it (:func:`take`, from
:func:`tradewind.journal.store.open_backend`), with what the open raised raised there.

Only a file that does not exist yet (nor its write-ahead log), in a folder that does, is
opened ahead: the open creates it and nothing else, so a run that ends before its journal is
opened (a plugin that fails while the engine is built, Ctrl-C) closes the file and removes it
when the block is left, as if it had never been opened. An existing journal is migrated and
verified at its open, which the run does itself, as before.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradewind import ahead

if TYPE_CHECKING:
    from tradewind.journal.store import DuckDBBackend

#: The journal opens under way in this context (:func:`opening`), by path.
_current: ContextVar[dict[Any, ahead.Ahead[Any]] | None] = ContextVar(
    "tradewind_journals_ahead", default=None
)


def _wal(path: Path) -> Path:
    return Path(f"{path}.wal")


def openable_ahead(path: Path) -> bool:
    """A file that does not exist, nor its write-ahead log, in an existing folder."""
    return not path.exists() and not _wal(path).exists() and path.parent.is_dir()


@contextmanager
def opening(target: Path | str | None) -> Iterator[None]:
    """Open the DuckDB journal file ``target`` on a thread of its own when it is
    :func:`openable_ahead` (None, a URL or another file: nothing), for :func:`take` inside
    the block; left untaken, it is closed and its files removed when the block is left."""
    # Imported here, not on the thread (DuckDB with it).
    from tradewind.journal.postgres import is_url
    from tradewind.journal.store import DuckDBBackend

    with ahead.started(_current) as opens:
        if target is not None and not is_url(target) and openable_ahead(Path(target)):
            path = Path(target)

            def open_new() -> DuckDBBackend:
                return DuckDBBackend(path, read_only=False)

            def discard(backend: DuckDBBackend | None) -> None:
                if backend is not None:
                    backend.close()
                for created in (path, _wal(path)):
                    created.unlink(missing_ok=True)

            opens[os.fspath(path)] = ahead.Ahead(
                f"tradewind-journal {path.name}", open_new, discard
            )
        yield


def take(path: Path) -> DuckDBBackend | None:
    """The journal ``path`` opened by :func:`opening` in this context (waited for; what the
    open raised is raised), or None when there is none or it was taken."""
    opened = ahead.take(_current, os.fspath(path))
    if opened is None:
        return None
    backend: DuckDBBackend = opened.result()
    return backend
