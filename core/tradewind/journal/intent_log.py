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

import json
import zlib
from pathlib import Path
from typing import Any

from tradewind.journal.appendlog import AppendLog, contents

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


class IntentLog(AppendLog):
    """The append-only intent log of one writable DuckDB journal (opened on first append)."""

    def append(self, order_row: tuple[Any, ...], event_row: tuple[Any, ...]) -> None:
        """Write one order's rows and wait until they are on disk (``fdatasync``)."""
        self.append_record(encode(order_row, event_row))


def read(path: Path) -> list[dict[str, list[Any]]]:
    """The intact records of the intent log at ``path`` (none when there is no file)."""
    return decode(contents(path))[0]
