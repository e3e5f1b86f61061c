"""What went wrong with a journal file, in one line a user can act on.

DuckDB reports a corrupt, truncated, locked or full database as a generic ``IOException`` or
``Error`` with a message; :func:`journal_error` turns one into a
:class:`~tradewind.errors.JournalError` that names the file, the problem and the fix.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

from tradewind.errors import JournalError

_LOCK = re.compile(r"Conflicting lock is held in .*?\(PID (\d+)\)")

#: Fragments of OS and DuckDB messages, and what they mean.
_NO_SPACE = ("No space left on device", "File too large", "Disk quota exceeded")
_CORRUPT = (
    "not a valid DuckDB database file",
    "Corrupt database file",
    "checksum",
    "Could not read enough bytes",
    "truncated",
    "INTERNAL Error",
    "Serialization Error",
)


def _no_space(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    return any(f in str(exc) for f in _NO_SPACE)


def journal_error(path: Path | str, exc: BaseException, *, doing: str = "open") -> JournalError:
    """A one-line JournalError for ``exc``, raised while ``doing`` something with ``path``."""
    text = " ".join(str(exc).split())
    where = f"journal {path}"
    if _no_space(exc):
        return JournalError(
            f"{where}: out of disk space while trying to {doing} it ({_short(text)}); free "
            "space (or raise the file size limit) and start again"
        )
    lock = _LOCK.search(text)
    if lock or "Could not set lock" in text:
        pid = f" (PID {lock.group(1)})" if lock else ""
        return JournalError(
            f"{where} is in use by another process{pid}: one host per journal; stop the other "
            "host or give this one its own [run] journal"
        )
    if "Is a directory" in text or Path(path).is_dir():
        return JournalError(
            f"{where} is a directory, not a journal file; set [run] journal to a file"
        )
    if "Permission denied" in text:
        return JournalError(f"{where} cannot be opened: permission denied")
    if any(f in text for f in _CORRUPT):
        return JournalError(
            f"{where} is corrupt or truncated ({_short(text)}); restore it from a backup or "
            "move it away to start a new journal (reconciliation then takes the venue's state)"
        )
    return JournalError(f"{where}: could not {doing} it: {type(exc).__name__}: {_short(text)}")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
