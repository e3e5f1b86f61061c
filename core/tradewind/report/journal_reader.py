"""One read-only journal connection for the whole end of a run.

The HTML report reads the run's signals, vetoes and data events (``html.journal_markers``)
and its execution quality (``execution.quality_of``), and the printed summary reads the
execution quality again: three read-only opens of the same DuckDB file after the run, each a
connect, a session query and a close (50–100 ms apiece on the 2-core machine). Inside
:func:`shared`, every one of them reads through one connection opened once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_open: dict[str, Any] = {}


def _key(path: str | Path) -> str:
    return str(Path(path).resolve())


@contextmanager
def shared(journal_path: str | Path | None, journal: Any = None) -> Iterator[None]:
    """Keep one read-only connection to the DuckDB journal at ``journal_path`` (nothing for a
    PostgreSQL URL, a missing file or ``None``) for the readers inside the block.

    ``journal``: the run's own :class:`~tradewind.journal.store.Journal` of that file, still
    open after the run finished it (``Engine.keep_journal``): read through instead of a
    read-only open, and closed at the end of the block (whatever happens)."""
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
def reading(journal_path: str | Path, password: str | None = None) -> Iterator[Any]:
    """A read-only :class:`~tradewind.journal.store.Journal` of ``journal_path``: the shared
    one inside :func:`shared`, else one opened here and closed at the end of the block."""
    from tradewind.journal.postgres import is_url

    if not is_url(str(journal_path)):
        journal = _open.get(_key(journal_path))
        if journal is not None:
            yield journal
            return
    from tradewind.journal.store import Journal

    journal = Journal.open_readonly(journal_path, password=password)
    try:
        yield journal
    finally:
        journal.close()
