"""An append-only file of checksummed records, each made durable before :meth:`append` returns.

The journal's two write-ahead logs — the intent log (:mod:`tradewind.journal.intent_log`) and
the step log (:mod:`tradewind.journal.step_log`) — differ in what a record holds and how it is
encoded; writing, syncing, cutting a torn record off, truncating and closing are this class.
"""

from __future__ import annotations

import collections
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
        #: The records written and not yet synced, oldest first: where each starts and
        #: whether its write opened the file (:meth:`append_record` with ``sync=False``, then
        #: one :meth:`sync` per record, in order).
        self._unsynced: collections.deque[tuple[int, bool]] = collections.deque()
        #: A sync failed: the records from the oldest unsynced on are not durable, and no
        #: later sync says otherwise until :meth:`cut_unsynced`.
        self._sync_failed: OSError | None = None

    def append_record(self, record: bytes, *, sync: bool = True) -> None:
        """Write one encoded record and wait until it is on disk (``fdatasync``).

        ``sync=False``: write it and return; :meth:`sync` (on one other thread, once per
        record, in order; nothing but further appends touches the log meanwhile) makes it
        durable, :meth:`cut_unsynced` removes it and those after it when that failed.
        Nothing of the record may be acted on before its :meth:`sync` returned."""
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
            self._unsynced.append((start, new))
            self.pending += 1
            return
        self._sync(fd, new)
        self.pending += 1

    def sync(self) -> None:
        """Make the oldest record :meth:`append_record` wrote with ``sync=False`` durable
        (``fdatasync``, which takes every write before it along; the directory too when its
        write created the file). Called on the journal's sync thread while the engine's
        thread goes on appending: the journal waits for every sync before a rotation, a
        truncate or a close."""
        fd = self._fd
        if self._sync_failed is not None:
            raise self._sync_failed
        if not self._unsynced or fd is None:
            return
        try:
            self._sync(fd, self._unsynced[0][1])
        except OSError as exc:
            self._sync_failed = exc
            raise
        self._unsynced.popleft()

    def _sync(self, fd: int, new: bool) -> None:
        os.fdatasync(fd)
        if new:
            # The file's name is durable too (it may have just been created, or renamed away
            # by :meth:`rotate`): one directory sync per file opened, not per record.
            sync_dir(self.path.parent)

    def cut_unsynced(self) -> None:
        """Remove the records not synced yet, from the oldest whose :meth:`sync` failed on
        (never acknowledged: nothing of them was acted on, and their rows are written
        again), as a torn write is cut. Called once no sync is under way."""
        unsynced = self._unsynced
        self._sync_failed = None
        if not unsynced or self._fd is None:
            unsynced.clear()
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, unsynced[0][0])
        self.pending = max(0, self.pending - len(unsynced))
        unsynced.clear()

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
