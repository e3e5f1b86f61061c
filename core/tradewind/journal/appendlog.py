"""An append-only file of checksummed records, each made durable before :meth:`append` returns.

The journal's two write-ahead logs — the intent log (:mod:`tradewind.journal.intent_log`) and
the step log (:mod:`tradewind.journal.step_log`) — differ in what a record holds and how it is
encoded; writing, syncing, cutting a torn record off, truncating and closing are this class.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path


class AppendLog:
    """One log file beside a writable DuckDB journal (opened on the first append)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        #: Records appended since the last truncate.
        self.pending = 0

    def append_record(self, record: bytes) -> None:
        """Write one encoded record and wait until it is on disk (``fdatasync``)."""
        new = self._fd is None
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fd = self._fd
        start = os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(record)
        done = 0
        try:
            # A write cut short (a full disk, a file size limit) is continued, so the error
            # that stopped it is raised (ENOSPC, EFBIG) ...
            while done < len(record):
                n = os.write(fd, view[done:])
                if n == 0:
                    raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
                done += n
        except OSError:
            if done:
                # ... and the torn record is cut off, or the records after it would be
                # unreadable.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
            raise
        os.fdatasync(fd)
        if new:
            # The file's name is durable too (it may have just been created, or renamed away
            # by :meth:`rotate`): one directory sync per file opened, not per record.
            sync_dir(self.path.parent)
        self.pending += 1

    def truncate(self) -> None:
        """Empty the log: the journal has committed every record in it. Not synced: records
        that reappear after a crash are recognised as committed when they are replayed."""
        if self._fd is not None and self.pending:
            os.ftruncate(self._fd, 0)
        self.pending = 0

    def rotate(self, to: Path) -> None:
        """Rename the log to ``to`` (which must not exist) and start a new, empty one at
        :attr:`path` with the next append: the records in ``to`` can be loaded and ``to``
        removed while the new file takes the next records (nothing truncates ``to``)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.pending:
            os.rename(self.path, to)
        self.pending = 0

    def close(self) -> None:
        """Close the file; remove it when it holds nothing."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if not self.pending and self.path.exists() and self.path.stat().st_size == 0:
            self.path.unlink()


def sync_dir(path: Path) -> None:
    """``fsync`` a directory, so the names created or renamed in it survive a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def contents(path: Path) -> bytes:
    """The bytes of the log at ``path`` (none when there is no file)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
