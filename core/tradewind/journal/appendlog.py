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
        #: Where the last record written and not yet synced starts, and whether its write
        #: opened the file (:meth:`append_record` with ``sync=False``, then :meth:`sync`).
        self._unsynced: tuple[int, bool] | None = None

    def append_record(self, record: bytes, *, sync: bool = True) -> None:
        """Write one encoded record and wait until it is on disk (``fdatasync``).

        ``sync=False``: write it and return; :meth:`sync` (on any thread, before anything
        else touches the log) makes it durable, :meth:`cut_unsynced` removes it when that
        failed. Nothing of the record may be acted on before :meth:`sync` returned."""
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
        if not sync:
            self._unsynced = (start, new)
            self.pending += 1
            return
        self._sync(fd, new)
        self.pending += 1

    def sync(self) -> None:
        """Make the record :meth:`append_record` wrote with ``sync=False`` durable
        (``fdatasync``; the directory too when its write created the file). Called on the
        journal's sync thread while the engine's thread goes on: only this touches the file
        until it returns (the journal waits for it before the next write, a rotation, a
        truncate or a close)."""
        unsynced = self._unsynced
        if unsynced is None or self._fd is None:
            return
        self._sync(self._fd, unsynced[1])
        self._unsynced = None

    def _sync(self, fd: int, new: bool) -> None:
        os.fdatasync(fd)
        if new:
            # The file's name is durable too (it may have just been created, or renamed away
            # by :meth:`rotate`): one directory sync per file opened, not per record.
            sync_dir(self.path.parent)

    def cut_unsynced(self) -> None:
        """Remove the record whose :meth:`sync` failed (it was never acknowledged: nothing
        of it was acted on, and its rows are written again), as a torn write is cut."""
        unsynced = self._unsynced
        self._unsynced = None
        if unsynced is None or self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, unsynced[0])
        self.pending = max(0, self.pending - 1)

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
