"""One read-only journal connection for the whole end of a run.

The HTML report reads the run's signals, vetoes and data events (``html.journal_markers``)
and its execution quality (``execution.quality_of``), and the printed summary reads the
execution quality again: three read-only opens of the same DuckDB file after the run, each a
connect, a session query and a close (50–100 ms apiece on the 2-core machine). Inside
:func:`shared`, every one of them reads through one connection opened once.

A backtest's journal may still have its end-of-run write to do (``Engine.defer_finish``):
:func:`shared` runs it on a thread of its own (:mod:`tradewind.ahead`) while the report
computes what it does not read from the journal, and the first read waits for it; what it
raised (the run's :class:`~tradewind.errors.JournalError`) is raised there, before the report
writes a file, or at the end of the block when nothing read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_open: dict[str, Any] = {}
#: The end-of-run writes under way (:func:`shared`'s ``finish``), by journal.
_finishing: dict[str, Any] = {}


def _key(path: str | Path) -> str:
    return str(Path(path).resolve())


@contextmanager
def shared(
    journal_path: str | Path | None, journal: Any = None, finish: Callable[[], None] | None = None
) -> Iterator[None]:
    """Keep one read-only connection to the DuckDB journal at ``journal_path`` (nothing for a
    PostgreSQL URL, a missing file or ``None``) for the readers inside the block.

    ``journal``: the run's own :class:`~tradewind.journal.store.Journal` of that file, still
    open after the run finished it (``Engine.keep_journal``): read through instead of a
    read-only open, and closed at the end of the block (whatever happens). ``finish``: that
    journal's end-of-run write, not done yet (``Engine.kept_finish``): started on a thread at
    once; the first read waits for it and raises what it raised; the block's end waits for it
    too, and raises it if nothing read."""
    if finish is not None:
        if journal is None:
            raise ValueError("a journal's finish needs the journal")
        with _finishing_on_a_thread(journal_path, journal, finish):
            yield
        return
    from tradewind.journal.postgres import is_url

    if not journal_path or is_url(str(journal_path)) or not Path(journal_path).exists():
        try:
            yield
        finally:
            if journal is not None:
                journal.close()
        return
    key = _key(journal_path)
    if key in _open:  # already shared by an outer block
        try:
            yield
        finally:
            if journal is not None:
                journal.close()
        return
    if journal is None:
        from tradewind.journal.store import Journal

        journal = Journal.open_readonly(journal_path)
    _open[key] = journal
    try:
        yield
    finally:
        del _open[key]
        journal.close()


@contextmanager
def _finishing_on_a_thread(
    journal_path: str | Path | None, journal: Any, finish: Callable[[], None]
) -> Iterator[None]:
    """:func:`shared` of ``journal`` with its ``finish`` under way on a thread of its own."""
    from tradewind import ahead

    key = _key(journal_path or journal.path)
    if key in _finishing or key in _open:
        raise RuntimeError(f"{key}: shared already")
    _finishing[key] = ahead.Ahead("tradewind-journal-finish", finish)
    failed = True
    try:
        _open[key] = journal
        try:
            yield
            _take_finish(key)  # nothing read: the block's end says whether it failed
            failed = False
        finally:
            _open.pop(key, None)
    finally:
        running = _finishing.pop(key, None)
        if running is not None:
            running.drop()  # (the block raised before it was taken) no thread outlives it
        if failed:
            # As the run's shutdown after a failed finish: closed, its own error not raised
            # over the one being raised.
            with contextlib.suppress(Exception):
                journal.close()
        else:
            journal.close()


def _take_finish(key: str) -> None:
    """Wait for the finish of the journal ``key`` if one is under way; raise what it raised."""
    running = _finishing.pop(key, None)
    if running is not None:
        running.result()


@contextmanager
def reading(journal_path: str | Path, password: str | None = None) -> Iterator[Any]:
    """A read-only :class:`~tradewind.journal.store.Journal` of ``journal_path``: the shared
    one inside :func:`shared`, else one opened here and closed at the end of the block."""
    from tradewind.journal.postgres import is_url

    if not is_url(str(journal_path)):
        key = _key(journal_path)
        _take_finish(key)
        journal = _open.get(key)
        if journal is not None:
            yield journal
            return
    from tradewind.journal.store import Journal

    journal = Journal.open_readonly(journal_path, password=password)
    try:
        yield journal
    finally:
        journal.close()
