"""The step log: the durable record of each engine step's journal rows, loaded into DuckDB later.

A DuckDB commit costs a few milliseconds whatever it holds: a statement per table (parse, plan,
an Arrow scan, ~0.4-0.6 ms each), the ``orders`` upsert and ``COMMIT`` with its ``fdatasync``
(docs/performance.md). Committing every engine step of a paper or live run that way made the
journal the floor of the per-fill cost. So with group commit a writable DuckDB journal makes a
step durable by appending all its rows — every table's staged rows and the order states — as
one record to this file beside the DuckDB file (``<journal>.steps``), ``os.write`` +
``os.fdatasync``, before the step's events leave the process: the same write-ahead rule as a
DuckDB commit, for one write and one sync. The rows are loaded into the DuckDB tables in
larger batches — when enough rows or enough time have gathered (:class:`Journal`'s
``load_rows`` / ``load_every_s``), whenever something reads the journal, and at close — in one
transaction, after which the file is truncated.

A record is a header — ``TW``, the body's length and its CRC32 (two little-endian 32-bit
integers) — and the body: ``(highest sequence number of its rows, {table: rows}, order
states)`` in :mod:`marshal` format version 4 (rows are tuples of str, int, float, bool and
None; marshal writes a step's rows ~5 times faster than JSON, the intent log's format, and
the log is transient: it holds the rows of at most a few steps). A process killed while
writing leaves at most a torn last record, which is short or fails its checksum and is
dropped: ``fdatasync`` had not returned, so nothing of that step was acted on. Sequence
numbers grow with every row the journal writes and a load writes every record it holds at
once, so a record is in DuckDB exactly when its highest sequence number is at most the
tables' highest (:func:`unloaded`): at open, those records are loaded, in one transaction,
before anything reads the journal; a kill between a load's commit and the truncate leaves
records that are skipped. Loading twice writes nothing twice.
"""

from __future__ import annotations

import marshal
import struct
import zlib
from pathlib import Path
from typing import Any

from tradewind.journal.appendlog import AppendLog, contents

#: What follows the journal file's name for its step log.
SUFFIX = ".steps"
#: What follows the step log's name once a background load took it (:func:`loading_path`).
ROTATED_SUFFIX = ".load"

#: The marshal format version records are written in (readable by every later Python 3).
MARSHAL_VERSION = 4
_MAGIC = b"TW"
_HEADER = struct.Struct("<2sII")  # magic, body length, CRC32 of the body


def step_path(journal_path: Path) -> Path:
    """The step log beside a DuckDB journal file."""
    return journal_path.with_name(journal_path.name + SUFFIX)


def loading_path(journal_path: Path) -> Path:
    """The step log a background load is writing into DuckDB (``<journal>.steps.load``).

    A load renames the step log to this name and loads its records on a thread of its own
    while the engine appends the next steps to a new ``<journal>.steps``; the file is removed
    only after the load committed. So no truncate ever races a load, and at open the records
    of both files that DuckDB lacks (by sequence number: this file's are the older) are loaded
    once.
    """
    return rotated(step_path(journal_path))


def rotated(path: Path) -> Path:
    """The name the step log at ``path`` is renamed to for a background load."""
    return path.with_name(path.name + ROTATED_SUFFIX)


def encode(
    seq: int, rows: dict[str, list[tuple[Any, ...]]], orders: list[tuple[Any, ...]]
) -> bytes:
    """One record: header, body."""
    body = marshal.dumps((seq, rows, orders), MARSHAL_VERSION)
    return _HEADER.pack(_MAGIC, len(body), zlib.crc32(body)) + body


def decode(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """The intact records of a log's contents (``seq``, ``rows``: per table, ``orders``), and
    the byte offset where they end (a torn or damaged record and everything after it are not
    returned)."""
    records: list[dict[str, Any]] = []
    pos = 0
    size = _HEADER.size
    while pos + size <= len(data):
        magic, length, crc = _HEADER.unpack_from(data, pos)
        start = pos + size
        body = data[start : start + length]
        if magic != _MAGIC or len(body) != length or zlib.crc32(body) != crc:
            break  # torn (the write of the last record was cut) or damaged
        try:
            value = marshal.loads(body)
        except (ValueError, EOFError, TypeError):
            break
        if not (
            isinstance(value, tuple)
            and len(value) == 3
            and isinstance(value[0], int)
            and isinstance(value[1], dict)
            and isinstance(value[2], list)
        ):
            break
        records.append({"seq": value[0], "rows": value[1], "orders": value[2]})
        pos = start + length
    return records, pos


def read(path: Path) -> list[dict[str, Any]]:
    """The intact records of the step log at ``path`` (none when there is no file)."""
    return decode(contents(path))[0]


def unloaded(records: list[dict[str, Any]], loaded_seq: int) -> list[dict[str, Any]]:
    """The records whose rows are not in DuckDB yet: those above the tables' highest sequence
    number ``loaded_seq``."""
    return [r for r in records if int(r["seq"]) > loaded_seq]


class StepLog(AppendLog):
    """The append-only step log of one writable DuckDB journal (opened on first append)."""

    def append(
        self,
        seq: int,
        rows: dict[str, list[tuple[Any, ...]]],
        orders: list[tuple[Any, ...]],
        *,
        sync: bool = True,
    ) -> None:
        """Write one step's rows and wait until they are on disk (``fdatasync``; with
        ``sync=False`` the caller syncs it: :meth:`AppendLog.sync`)."""
        self.append_record(encode(seq, rows, orders), sync=sync)
