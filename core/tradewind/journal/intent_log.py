"""The order-intent log: the durable write-ahead of an order about to be sent, in microseconds.

Before an order goes to a real venue it must be durable, so that a restarted host finds it and
resolves it. A DuckDB commit (transaction, Arrow inserts, the ``orders`` upsert, ``COMMIT``
with its ``fdatasync``) costs milliseconds; ``bench/bench_write_ahead.py`` measured 3.0 ms at
the median against 0.18 ms for an ``fdatasync``'d append of one small record on the same disk
(docs/performance.md). So with group commit (paper and live runs) the journal writes the
order's two rows — its ``orders`` row and its ``submitted`` event — as one record appended to
this file beside the DuckDB file (``<journal>.intents``), ``os.write`` + ``os.fdatasync``,
before the order is sent; the rows stay staged and are made durable again with the engine
step's group commit (the step log, :mod:`tradewind.journal.step_log`, or a DuckDB commit),
after which the file is truncated. That commit usually comes after the order has left:
the engine hands an order written ahead to its venue before its step goes on
(:meth:`tradewind.trading.venue_calls.VenueCalls.hand_over`, :meth:`Journal.written_ahead`).

A record is one line: the CRC32 of the body (8 hex digits), a space, the body (JSON: the two
rows, each a list of column values), a newline. A process killed while writing leaves at most a
torn last record, which fails its checksum and is dropped: ``fdatasync`` had not returned, so
the order was never sent. At open (:func:`replay`), every intact record whose order the
DuckDB journal does not have is inserted, in one transaction, before anything reads the
journal; then the file is truncated. Replaying twice inserts nothing twice.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import zlib
from pathlib import Path
from typing import Any

#: What follows the journal file's name for its intent log.
SUFFIX = ".intents"


def intent_path(journal_path: Path) -> Path:
    """The intent log beside a DuckDB journal file."""
    return journal_path.with_name(journal_path.name + SUFFIX)


def encode(order_row: tuple[Any, ...], event_row: tuple[Any, ...]) -> bytes:
    """One record: checksum, body, newline."""
    body = json.dumps(
        {"orders": list(order_row), "order_events": list(event_row)},
        separators=(",", ":"),
    ).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode(data: bytes) -> tuple[list[dict[str, list[Any]]], int]:
    """The intact records of a log's contents, and the byte offset where they end (a torn or
    damaged record and everything after it are not returned)."""
    records: list[dict[str, list[Any]]] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            break  # torn: the write of the last record was cut
        line = data[pos:end]
        if len(line) < 10 or line[8:9] != b" ":
            break
        crc, body = line[:8], line[9:]
        try:
            if int(crc, 16) != zlib.crc32(body):
                break
            record = json.loads(body)
        except ValueError:
            break
        if not isinstance(record, dict) or set(record) != {"orders", "order_events"}:
            break
        records.append(record)
        pos = end + 1
    return records, pos


class IntentLog:
    """The append-only intent log of one writable DuckDB journal (opened on first append)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        #: Records appended since the last truncate.
        self.pending = 0

    def append(self, order_row: tuple[Any, ...], event_row: tuple[Any, ...]) -> None:
        """Write one order's rows and wait until they are on disk (``fdatasync``)."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        record = encode(order_row, event_row)
        fd = self._fd
        start = os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(record)
        done = 0
        try:
            # A write cut short (a full disk) is continued, so the error that stopped it is
            # raised; the torn record is cut off, or the records after it would be unreadable.
            while done < len(record):
                n = os.write(fd, view[done:])
                if n == 0:
                    raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
                done += n
        except OSError:
            if done:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
            raise
        os.fdatasync(fd)
        self.pending += 1

    def truncate(self) -> None:
        """Empty the log: the journal has committed every record in it. Not synced: a log
        that reappears after a crash is replayed, and replay skips orders already journaled."""
        if self._fd is not None and self.pending:
            os.ftruncate(self._fd, 0)
        self.pending = 0

    def close(self) -> None:
        """Close the file; remove it when it holds nothing."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if not self.pending and self.path.exists() and self.path.stat().st_size == 0:
            self.path.unlink()


def read(path: Path) -> list[dict[str, list[Any]]]:
    """The intact records of the intent log at ``path`` (none when there is no file)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return decode(data)[0]
