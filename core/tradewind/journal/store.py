"""The journal: runs, signals, vetoes, orders, fills, positions and events in DuckDB on disk.

One file per host holds every run. Runs belong to a *session*: a backtest is its own session;
a paper or live run continues the session of the previous run of the same mode and config file
(that is how a restarted paper account finds its positions and open orders again).

Tables (see docs/orders-and-journal.md for every column):

``runs``
    one row per run, with its session.
``events``
    every bus event, in publish order, with its fields as JSON (the generic log).
``signals``, ``vetoes``
    what the strategy proposed and what the filters refused.
``orders``
    one row per order and session: the request and its current state.
``order_events``
    every state change of every order (and every report the state machine refused).
``fills``
    every booked fill; primary key (session, client order id, fill key), so a re-sent fill is
    written once.
``positions``
    the position after every fill, and corrections made by reconciliation, with the
    currency its P&L is in (``pnl_currency``: the instrument's settlement currency).
``balances``
    cash baselines: the session's starting cash and corrections.
``account_balances``
    every execution venue's balance per currency: seeded from the venue at start, as booked
    by this host at each reconciliation and at the end, and corrections.
``cash_flows``
    cash that moved without a fill (funding payments), part of the session's cash.
``system_events``
    every event of severity warning or above except vetoes (failures, circuit breakers,
    reconciliation discrepancies, lost connections, data-quality reports).

Crash safety: the order manager makes an order durable before it is sent and writes a fill
before it is applied to the portfolio (:meth:`Journal.record_fill`); with ``durable`` set
(paper and live) DuckDB syncs its write-ahead log on commit (``fdatasync``, setting
``fsync_mode = 'STANDARD'``). With :attr:`Journal.group_commit` (the engine sets it in paper
and live) those rows are made durable once per engine step (:meth:`Journal.commit`, before
the step's events are published): on a writable DuckDB journal by one ``fdatasync``'d append
to the step log (:mod:`tradewind.journal.step_log`), the rows loaded into DuckDB in batches
on a thread of the journal's own (the engine's steps go on meanwhile; DuckDB releases the GIL
while it executes) and by every read through this class, which waits for a load under way
first; else by one commit. Without group commit each step is
its own transaction. An order for a
venue that is not simulated is durable before it is sent, one of two ways: on a DuckDB journal
with group commit it is appended to the intent log (:mod:`tradewind.journal.intent_log`,
:meth:`Journal.written_ahead`) and the engine hands it to the venue at once — its DuckDB
commit comes with the step's, usually after the venue has it; without the intent log (a
PostgreSQL journal, ``intents=False``, or no group commit) it is committed before it is sent.
Either way a killed host loses no fill it acted on and no order it sent. Other events are
buffered and written every ``flush_every`` rows, on warnings and at the end of the run. A
backtest (not durable, nothing to recover: it can be re-run) keeps every row until the end of
the run and writes each table as one Arrow batch (:data:`BACKTEST_FLUSH_ROWS` bounds the
buffer for very long runs); a read during the run writes what is buffered first.

Failures: a journal that cannot be opened (corrupt, truncated — checked by :meth:`verify` at
open —, a directory, locked by another process) or written (out of space) raises
:class:`~tradewind.errors.JournalError` with one line naming the problem; rows whose write
failed stay buffered (:attr:`Journal.error`) and are retried by the next write.

Decimals are stored as text so they read back exactly: cast in SQL with ``::DECIMAL(38, 18)``.

Backends: a path is a DuckDB file (:class:`DuckDBBackend`); a ``postgresql://`` URL is a
PostgreSQL database (:class:`PostgresBackend`, :mod:`tradewind.journal.postgres`), with the
same tables, the same write-ahead steps and the same commits. The journal talks to either
through the backend's connection (``execute`` with ``?`` placeholders), its bulk insert, its
open-time check and its error messages.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import json
import json.encoder as _json_encoder
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import duckdb
import pyarrow as pa

from tradewind._arrow import array as arrow_array
from tradewind._serde import unstructure
from tradewind.errors import ConfigError, JournalError
from tradewind.journal import intent_log, step_log
from tradewind.journal.errors import journal_error
from tradewind.journal.step_sync import InFlight, Syncer
from tradewind.model import (
    Event,
    Fill,
    FillEvent,
    Order,
    OrderReport,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    OrderUpdated,
    Position,
    PositionChanged,
    PositionClosed,
    Severity,
    Side,
    Signal,
    SignalEvent,
    TimeInForce,
    VetoEvent,
)
from tradewind.model.frozen import builder
from tradewind.model.orders import new_fill, new_report
from tradewind.report._json import _float as _float_json

log = logging.getLogger("tradewind.journal.store")

#: Rows buffered before a write in paper and live runs (warnings and write-ahead steps are
#: written at once there anyway).
FLUSH_ROWS = 512
#: A backtest writes its rows at the end of the run, one Arrow batch per table; this bounds
#: the buffer (a few hundred MB of tuples at most) for runs that journal more rows than that.
BACKTEST_FLUSH_ROWS = 2_000_000

#: With the step log (:mod:`tradewind.journal.step_log`), rows durable in the log are loaded
#: into DuckDB once this many have gathered ...
LOAD_ROWS = 20_000
#: ... or once this long has passed since the last load (at the next engine step), so the
#: journal's other readers (the API's own connection) see a step's rows within about this.
LOAD_EVERY_S = 0.5
#: Steps a step-logged journal syncs behind the engine at once (:attr:`Journal.sync_depth`).
SYNC_DEPTH = 4

TERMINAL = tuple(s.value for s in OrderStatus if s.is_terminal)

_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "runs": (
        ("run_id", "VARCHAR PRIMARY KEY"),
        ("mode", "VARCHAR"),
        ("config_path", "VARCHAR"),
        ("started_ts_ns", "BIGINT"),
        ("finished_ts_ns", "BIGINT"),
        ("summary", "JSON"),
    ),
    "events": (
        ("run_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("type", "VARCHAR"),
        ("severity", "INTEGER"),
        ("payload", "JSON"),
    ),
    "signals": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("instrument", "VARCHAR"),
        ("side", "VARCHAR"),
        ("intent", "VARCHAR"),
        ("entry", "VARCHAR"),
        ("stop", "VARCHAR"),
        ("quantity", "VARCHAR"),
        ("score", "DOUBLE"),
        ("reasons", "JSON"),
    ),
    "vetoes": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("filter", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("action", "VARCHAR"),
        ("instrument", "VARCHAR"),
        ("side", "VARCHAR"),
        ("quantity", "VARCHAR"),
        ("signal_ts_ns", "BIGINT"),
    ),
    "orders": (
        ("client_order_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("run_id", "VARCHAR"),
        ("id_seq", "BIGINT"),
        ("venue", "VARCHAR"),
        ("instrument", "VARCHAR"),
        ("side", "VARCHAR"),
        ("type", "VARCHAR"),
        ("quantity", "VARCHAR"),
        ("price", "VARCHAR"),
        ("stop_price", "VARCHAR"),
        ("time_in_force", "VARCHAR"),
        ("reduce_only", "BOOLEAN"),
        ("created_ts_ns", "BIGINT"),
        ("tag", "VARCHAR"),
        ("origin", "VARCHAR"),
        ("status", "VARCHAR"),
        ("filled_quantity", "VARCHAR"),
        ("venue_order_id", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("updated_ts_ns", "BIGINT"),
        ("seq", "BIGINT"),
        ("intent", "VARCHAR"),
    ),
    "order_events": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("client_order_id", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("from_status", "VARCHAR"),
        ("to_status", "VARCHAR"),
        ("filled_quantity", "VARCHAR"),
        ("venue_order_id", "VARCHAR"),
        ("detail", "VARCHAR"),
    ),
    "fills": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("client_order_id", "VARCHAR"),
        ("fill_key", "VARCHAR"),
        ("trade_id", "VARCHAR"),
        ("instrument", "VARCHAR"),
        ("side", "VARCHAR"),
        ("quantity", "VARCHAR"),
        ("price", "VARCHAR"),
        ("fee", "VARCHAR"),
        ("ts_ns", "BIGINT"),
        ("liquidity", "VARCHAR"),
        ("fee_currency", "VARCHAR"),
        ("fee_asset", "VARCHAR"),
        ("fee_rate", "VARCHAR"),
    ),
    "positions": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("instrument", "VARCHAR"),
        ("quantity", "VARCHAR"),
        ("avg_price", "VARCHAR"),
        ("realized_pnl", "VARCHAR"),
        ("fees", "VARCHAR"),
        ("opened_ts_ns", "BIGINT"),
        ("lots", "JSON"),
        ("reason", "VARCHAR"),
        ("pnl_currency", "VARCHAR"),
    ),
    "balances": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("asset", "VARCHAR"),
        ("amount", "VARCHAR"),
        ("reason", "VARCHAR"),
    ),
    "account_balances": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("venue", "VARCHAR"),
        ("asset", "VARCHAR"),
        ("amount", "VARCHAR"),
        ("reason", "VARCHAR"),
    ),
    "cash_flows": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("venue", "VARCHAR"),
        ("instrument", "VARCHAR"),
        ("asset", "VARCHAR"),
        ("amount", "VARCHAR"),
        ("kind", "VARCHAR"),
    ),
    # Every quote the best-execution router considered (tradewind.execution.router).
    "quotes": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("client_order_id", "VARCHAR"),
        ("aggregator", "VARCHAR"),
        ("chain_id", "BIGINT"),
        ("sell_token", "VARCHAR"),
        ("buy_token", "VARCHAR"),
        ("sell_amount", "VARCHAR"),
        ("buy_amount", "VARCHAR"),
        ("min_buy_amount", "VARCHAR"),
        ("gas", "BIGINT"),
        ("gas_cost_out", "VARCHAR"),
        ("net_out", "VARCHAR"),
        ("route", "VARCHAR"),
        ("rank", "INTEGER"),
        ("status", "VARCHAR"),
        ("error", "VARCHAR"),
        ("tx_hash", "VARCHAR"),
        ("realised_out", "VARCHAR"),
        ("latency_ns", "BIGINT"),
    ),
    "system_events": (
        ("run_id", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("ts_ns", "BIGINT"),
        ("type", "VARCHAR"),
        ("severity", "INTEGER"),
        ("source", "VARCHAR"),
        ("message", "VARCHAR"),
        ("payload", "JSON"),
    ),
}

#: Arrow type of each column type, for bulk inserts (JSON travels as text).
_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
    "DOUBLE": pa.float64(),
}

#: Arrow's canonical JSON extension type (pyarrow >= 19), which DuckDB reads as its JSON type;
#: None where either does not (:func:`_json_extension`).
_JSON_TYPE: pa.DataType | None = pa.json_() if hasattr(pa, "json_") else None
_json_checked: list[bool] = []


def _json_extension(con: Any) -> pa.DataType | None:
    """:data:`_JSON_TYPE` if this DuckDB reads an Arrow JSON extension column as JSON (asked
    once per process), else None: the text then goes in as a string, parsed by DuckDB."""
    if _JSON_TYPE is None:
        return None
    if not _json_checked:
        storage = arrow_array(["{}"], pa.string())
        probe = pa.table({"j": pa.ExtensionArray.from_storage(_JSON_TYPE, storage)})  # noqa: F841
        try:
            row = con.execute("SELECT typeof(j) FROM probe").fetchone()
        except duckdb.Error:
            row = None
        _json_checked.append(bool(row) and row[0] == "JSON")
    return _JSON_TYPE if _json_checked[0] else None


#: Every table of the journal, in schema order.
TABLES: tuple[str, ...] = tuple(_COLUMNS)


def column_names(table: str) -> tuple[str, ...]:
    """The columns of a journal table, in the order of its rows."""
    try:
        return tuple(name for name, _ in _COLUMNS[table])
    except KeyError:
        raise ValueError(f"no journal table {table!r}; tables: {', '.join(TABLES)}") from None


_EXTRA_RUN_COLUMNS = (("session_id", "VARCHAR"), ("run_no", "INTEGER"))
#: Columns added after a table's first release: (table, name, type), added in place.
_ADDED_COLUMNS = (
    ("orders", "intent", "VARCHAR"),
    ("fills", "fee_currency", "VARCHAR"),
    ("fills", "fee_asset", "VARCHAR"),
    ("fills", "fee_rate", "VARCHAR"),
    ("positions", "pnl_currency", "VARCHAR"),
)

#: Fills ``positions.pnl_currency`` of rows journaled before the column existed, from the
#: evidence the journal holds: the currency of the fees its fills paid in the quote asset
#: (one currency per session and instrument). Rows without such fills are filled when a
#: host next runs the session (:meth:`Journal.set_pnl_currencies`, from its instruments).
BACKFILL_PNL_CURRENCY = (
    "UPDATE positions SET pnl_currency = f.cur FROM ("
    "SELECT session_id, instrument, min(fee_currency) AS cur FROM fills "
    "WHERE fee_asset = 'quote' AND fee_currency IS NOT NULL AND fee_currency <> '' "
    "GROUP BY session_id, instrument HAVING count(DISTINCT fee_currency) = 1) AS f "
    "WHERE positions.pnl_currency IS NULL AND positions.session_id = f.session_id "
    "AND positions.instrument = f.instrument"
)


def _schema(*, fresh: bool = False) -> str:
    """The statements that make (or bring up to date) the journal's tables; ``fresh``: of a
    file its open creates, each table made with every column in the order the additions
    below give an older journal (no ALTER: those are no-ops on a new file, ~2 ms)."""
    parts = []
    for table, cols in _COLUMNS.items():
        if fresh and table == "runs":
            cols = (*cols, *_EXTRA_RUN_COLUMNS)
        body = ", ".join(f"{name} {typ}" for name, typ in cols)
        if table == "fills":
            body += ", PRIMARY KEY (session_id, client_order_id, fill_key)"
        parts.append(f"CREATE TABLE IF NOT EXISTS {table} ({body});")
    if fresh:
        return "\n".join(parts)
    # Journals written before sessions existed gain the columns in place.
    parts.extend(
        f"ALTER TABLE runs ADD COLUMN IF NOT EXISTS {name} {typ};"
        for name, typ in _EXTRA_RUN_COLUMNS
    )
    parts.extend(
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {typ};"
        for table, name, typ in _ADDED_COLUMNS
    )
    return "\n".join(parts)


SCHEMA = _schema()
#: :data:`SCHEMA` of a file its open creates (the same tables, columns and keys).
FRESH_SCHEMA = _schema(fresh=True)

#: Rows per INSERT statement when buffered rows are written (DuckDB pays per statement).
_CHUNK = 256


class DuckDBBackend:
    """The journal in a DuckDB file (the embedded default)."""

    def __init__(self, path: Path, *, read_only: bool) -> None:
        self.where: Path | str = path
        self.path = path
        self.errors: tuple[type[BaseException], ...] = (duckdb.Error,)
        self.con: Any = None
        #: The file did not exist before this (writable) open: its tables are empty.
        self.fresh = False
        #: JSON columns' values are the journal's own ``json.dumps`` text (a backtest's rows,
        #: and a step-logged journal's loads: ``Journal._tune_loads``): inserted as Arrow's
        #: JSON extension type, which DuckDB stores as they are instead of parsing each to
        #: check it (a third of the ``events`` table's insert).
        self.json_as_is = False
        try:
            if read_only:
                self.con = duckdb.connect(str(path), read_only=True)
            else:
                if path.is_dir():
                    raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
                path.parent.mkdir(parents=True, exist_ok=True)
                # A file created by this open (no journal and no write-ahead log of one
                # before it) has nothing to migrate or to check: its tables are the ones
                # SCHEMA creates now (a backtest's usual journal; 60-90 ms less per run).
                fresh = not path.exists() and not Path(f"{path}.wal").exists()
                self.con = duckdb.connect(str(path))
                self.fresh = fresh
                old = not fresh and self._lacks_pnl_currency()
                # A new file's tables in one transaction: one commit instead of one per
                # statement (~30 ms less).
                self.con.execute(f"BEGIN TRANSACTION; {FRESH_SCHEMA} COMMIT" if fresh else SCHEMA)
                if old:
                    self.con.execute(BACKFILL_PNL_CURRENCY)
                if not fresh:
                    self.verify()
        except (duckdb.Error, OSError, JournalError) as exc:
            if self.con is not None:
                self.con.close()
            if isinstance(exc, JournalError):
                raise
            raise journal_error(path, exc) from exc

    def close(self) -> None:
        if self.con is not None:
            self.con.close()

    def _lacks_pnl_currency(self) -> bool:
        """True for a journal written before ``positions.pnl_currency`` (to migrate)."""
        row = self.con.execute(
            "SELECT count(*) FILTER (WHERE column_name = 'pnl_currency'), count(*) "
            "FROM duckdb_columns() WHERE table_name = 'positions' AND schema_name = 'main'"
        ).fetchone()
        return bool(row and row[1] and not row[0])

    def error(self, exc: BaseException, *, doing: str) -> JournalError:
        return journal_error(self.path, exc, doing=doing)

    def verify(self) -> None:
        """Check the file at open, so a damaged journal stops the host before it trades, not
        at its first checkpoint: every table is read back whole (DuckDB checks each block's
        checksum as it reads it; a truncated file fails the read) and the primary-key indexes
        are loaded by an insert that is rolled back. Raises a DuckDB error naming the problem.
        """
        con = self.con
        for table in TABLES:
            con.execute(f"SELECT count(*), max(COLUMNS(*)) FROM {table}").fetchall()
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("INSERT OR IGNORE INTO runs (run_id) VALUES ('~verify')")
            con.execute(
                "INSERT OR IGNORE INTO fills (session_id, client_order_id, fill_key) "
                "VALUES ('~verify', '~verify', '~verify')"
            )
        finally:
            con.execute("ROLLBACK")

    def insert(
        self, table: str, rows: list[tuple[Any, ...]], *, ignore: bool, con: Any = None
    ) -> None:
        """Insert ``rows`` through one Arrow table: one statement however many rows (a
        statement with a placeholder per value costs tens of milliseconds to prepare).
        ``con``: another connection to the database (a background load's) instead of
        :attr:`con`."""
        cols = _COLUMNS[table]
        # zip(*rows): the columns in one C-level pass, not a comprehension per column. The
        # arrays are built from their buffers (tradewind._arrow): pa.array would import pandas
        # where it is installed, a second of a backtest's wall time for nothing.
        arrays = [
            arrow_array(values, _ARROW_TYPES[typ])
            for (_, typ), values in zip(cols, zip(*rows, strict=True), strict=True)
        ]
        json_type = _json_extension(con or self.con) if self.json_as_is else None
        if json_type is not None:
            arrays = [
                pa.ExtensionArray.from_storage(json_type, a) if typ == "JSON" else a
                for (_, typ), a in zip(cols, arrays, strict=True)
            ]
        # read by DuckDB's replacement scan below
        batch = pa.Table.from_arrays(arrays, names=[name for name, _ in cols])  # noqa: F841
        verb = "INSERT OR IGNORE" if ignore else "INSERT"
        (con or self.con).execute(f"{verb} INTO {table} SELECT * FROM batch")

    def rolled_back(self) -> None:
        """A write failed and its transaction was rolled back: nothing to forget."""

    def checkpoint(self) -> None:
        try:
            self.con.execute("CHECKPOINT")
        except duckdb.TransactionException:
            # Another connection of this process (a cursor) is inside a write: the rows are
            # committed in the write-ahead log already; DuckDB checkpoints at close instead.
            log.info("journal %s: checkpoint deferred to close (a write is in progress)", self.path)


class PostgresBackend:
    """The journal in a PostgreSQL database (:mod:`tradewind.journal.postgres`)."""

    def __init__(self, url: str, *, read_only: bool, password: str | None) -> None:
        from tradewind.journal import postgres as pg

        self._pg = pg
        self.url = url
        self.where: Path | str = pg.redact(url)
        self._partitions: set[tuple[str, str]] = set()
        self.con: Any = None
        self._locked = False
        try:
            self.errors: tuple[type[BaseException], ...] = pg.errors()
        except ImportError:
            self.errors = ()
        try:
            self.con = pg.connect(url, password)
            if not read_only:
                (locked,) = self.con.execute(
                    "SELECT pg_try_advisory_lock(?)", [pg.LOCK_KEY]
                ).fetchone() or (False,)
                if not locked:
                    raise JournalError(
                        f"journal {self.where} is in use by another process: one host per "
                        "journal; stop the other host or give this one its own database"
                    )
                self._locked = True
                pg.migrate(self.con, dict(_COLUMNS))
            self.verify()
            self._parts = frozenset(pg.partitioned_tables(_COLUMNS))
            self._native = {t for t in self._parts if pg.is_partitioned(self.con, t)}
        except JournalError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            if self.errors and isinstance(exc, self.errors):
                raise pg.pg_journal_error(url, exc) from exc
            raise

    def close(self) -> None:
        if self.con is None:
            return
        if self._locked:
            # The server frees a session's advisory lock when it notices the connection
            # went, which can be after a next host already tried to take it: free it now.
            self._locked = False
            try:
                if self.con.raw.info.transaction_status != 0:  # not idle: end what is open
                    self.con.raw.rollback()
                self.con.execute("SELECT pg_advisory_unlock(?)", [self._pg.LOCK_KEY])
            except Exception:  # closing anyway; the server frees the lock then
                pass
        self.con.close()

    def error(self, exc: BaseException, *, doing: str) -> JournalError:
        return self._pg.pg_journal_error(self.url, exc, doing=doing)

    def verify(self) -> None:
        """The database holds this version's tables: no migration newer than this tradewind
        knows, and every table readable."""
        known = max(v for v, _, _ in self._pg.MIGRATIONS)
        (made,) = self.con.execute("SELECT to_regclass('tradewind_migrations')").fetchone()
        if made is None:
            raise JournalError(
                f"journal {self.where} holds no journal (no tradewind tables): a host writes "
                "one there when it first runs with this url"
            )
        row = self.con.execute("SELECT coalesce(max(version), 0) FROM tradewind_migrations")
        (have,) = row.fetchone() or (0,)
        if have > known:
            raise JournalError(
                f"journal {self.where} was migrated to schema version {have} by a newer "
                f"tradewind (this one knows up to {known}); upgrade tradewind"
            )
        for table in TABLES:
            self.con.execute(f"SELECT * FROM {table} LIMIT 1").fetchall()

    def insert(self, table: str, rows: list[tuple[Any, ...]], *, ignore: bool) -> None:
        """COPY the rows in (fills, whose key de-duplicates, through INSERT ... ON CONFLICT);
        a partitioned table first gains the months the rows need."""
        names = [name for name, _ in _COLUMNS[table]]
        if table in self._native:
            at = names.index("ts_ns")
            self._pg.ensure_partitions(self.con, table, {r[at] for r in rows}, self._partitions)
        if ignore:
            marks = ", ".join(["?"] * len(names))
            self.con.executemany(
                f"INSERT OR IGNORE INTO {table} ({', '.join(names)}) VALUES ({marks})", rows
            )
        else:
            self.con.copy_rows(table, names, rows)

    def rolled_back(self) -> None:
        """A write failed and its transaction was rolled back, the partitions it created with
        it: forget them, so the retry creates them again."""
        self._partitions.clear()

    def checkpoint(self) -> None:
        """Nothing to do: a committed transaction is on the server's disk."""


def open_backend(
    target: Path | str, *, read_only: bool, password: str | None = None
) -> DuckDBBackend | PostgresBackend:
    """The backend of a journal target: a ``postgresql://`` URL or a DuckDB file path."""
    from tradewind.journal.postgres import is_url

    if is_url(target):
        return PostgresBackend(str(target), read_only=read_only, password=password)
    if not read_only:
        from tradewind.journal.opened_ahead import take

        opened = take(Path(target))  # a backtest's new file, opened while the engine was built
        if opened is not None:
            return opened
    return DuckDBBackend(Path(target), read_only=read_only)


#: Per event type, the names of the fields its payload holds (all but ``ts_ns``).
_PAYLOAD_FIELDS: dict[type, tuple[str, ...]] = {}
#: Values that are their own unstructured form.
_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})
#: ``json.dumps(..., default=str, allow_nan=True)`` without building an encoder per call.
_ENCODER = json.JSONEncoder(default=str, allow_nan=True)
#: The C encoder ``_ENCODER.encode`` builds on every call (``json.encoder.c_make_encoder``),
#: built once: the same text (its one-shot path with no indent; no circular check, as the
#: payloads are trees of fresh dicts and lists). None where the C accelerator is missing.
_C_MAKE_ENCODER: Any = getattr(_json_encoder, "c_make_encoder", None)
_C_ENCODE: Callable[[Any, int], tuple[str, ...]] | None = (
    None
    if _C_MAKE_ENCODER is None
    else _C_MAKE_ENCODER(
        None,
        _ENCODER.default,
        _json_encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
)


def _encode(data: Any) -> str:
    """``_ENCODER.encode(data)``: the same JSON text, without an encoder built per call."""
    if _C_ENCODE is None:
        return _ENCODER.encode(data)
    return "".join(_C_ENCODE(data, 0))


#: A JSON string literal of a ``str`` (``json``'s own C function; raises TypeError for
#: anything else, which sends the event down the general path).
_q = _json_encoder.encode_basestring_ascii


def _dec(value: Any) -> str:
    """A Decimal as its JSON string (its ``str`` is ASCII with nothing to escape).

    Here and in the writers below a Decimal goes into an f-string as ``{value!s}``: its
    ``str``, the converter's text, where ``{value}`` would call ``Decimal.__format__`` with an
    empty spec (the same text, ~2.5 times the time: ~15 of them a paper fill)."""
    if type(value) is not Decimal:
        raise TypeError(value)
    return f'"{value!s}"'


def _fill_json(f: Fill) -> str:
    """The fill's JSON object. Its Decimals, time and optional fee rate are checked for their
    exact types first (a numpy integer, a bool, a subclass: TypeError, the general path) and
    written inline, as :func:`_dec` writes a Decimal, without a call per field (five events
    a fill go through these)."""
    rate = f.fee_rate
    if (
        type(f) is not Fill
        or type(f.quantity) is not Decimal
        or type(f.price) is not Decimal
        or type(f.fee) is not Decimal
        or type(f.ts_ns) is not int
        or (rate is not None and type(rate) is not Decimal)
    ):
        raise TypeError(f)
    rate_text = "null" if rate is None else f'"{rate!s}"'
    return (
        f'{{"client_order_id": {_q(f.client_order_id)}, "instrument": {_q(f.instrument)}, '
        f'"side": {_q(f.side._value_)}, "quantity": "{f.quantity!s}", '
        f'"price": "{f.price!s}", "fee": "{f.fee!s}", "ts_ns": {f.ts_ns!r}, '
        f'"liquidity": {_q(f.liquidity)}, "trade_id": {_q(f.trade_id)}, '
        f'"fee_currency": {_q(f.fee_currency)}, "fee_asset": {_q(f.fee_asset)}, '
        f'"fee_rate": {rate_text}}}'
    )


def _lots_json(lots: Sequence[tuple[Any, Any]]) -> str:
    """``json.dumps([[str(q), str(p)] for q, p in lots])`` for Decimal lots (TypeError for
    any other value)."""
    if len(lots) == 1:  # the usual open position: one lot, no generator
        q, price = lots[0]
        if type(q) is not Decimal or type(price) is not Decimal:
            raise TypeError(lots)
        return f'[["{q!s}", "{price!s}"]]'
    return "[" + ", ".join(f"[{_dec(q)}, {_dec(price)}]" for q, price in lots) + "]"


def _position_json(p: Position) -> str:
    """The position's JSON object (its Decimals and time checked and written inline, as
    :func:`_fill_json`)."""
    if (
        type(p) is not Position
        or type(p.quantity) is not Decimal
        or type(p.avg_price) is not Decimal
        or type(p.realized_pnl) is not Decimal
        or type(p.fees) is not Decimal
        or type(p.opened_ts_ns) is not int
    ):
        raise TypeError(p)
    lots = _lots_json(p.lots)
    return (
        f'{{"instrument": {_q(p.instrument)}, "quantity": "{p.quantity!s}", '
        f'"avg_price": "{p.avg_price!s}", "realized_pnl": "{p.realized_pnl!s}", '
        f'"fees": "{p.fees!s}", "opened_ts_ns": {p.opened_ts_ns!r}, "lots": {lots}}}'
    )


def _fill_event_json(e: FillEvent) -> str:
    pnl = e.realized_pnl
    if pnl is None:
        pnl_text = "null"
    elif type(pnl) is Decimal:
        pnl_text = f'"{pnl!s}"'
    else:
        raise TypeError(pnl)
    return (
        f'{{"fill": {_fill_json(e.fill)}, "realized_pnl": {pnl_text}, '
        f'"pnl_currency": {_q(e.pnl_currency)}}}'
    )


def _position_changed_json(e: PositionChanged) -> str:
    return f'{{"position": {_position_json(e.position)}}}'


def _position_closed_json(e: PositionClosed) -> str:
    return (
        f'{{"position": {_position_json(e.position)}, "reason": {_q(e.reason)}, '
        f'"pnl_currency": {_q(e.pnl_currency)}}}'
    )


def _order_submitted_json(e: OrderSubmitted) -> str:
    o = e.order
    price, stop = o.price, o.stop_price
    if (
        type(o) is not Order
        or type(o.reduce_only) is not bool
        or type(o.quantity) is not Decimal
        or type(o.created_ts_ns) is not int
        or (price is not None and type(price) is not Decimal)
        or (stop is not None and type(stop) is not Decimal)
    ):
        raise TypeError(o)
    price_text = "null" if price is None else f'"{price!s}"'
    stop_text = "null" if stop is None else f'"{stop!s}"'
    return (
        f'{{"order": {{"client_order_id": {_q(o.client_order_id)}, '
        f'"instrument": {_q(o.instrument)}, "side": {_q(o.side._value_)}, '
        f'"type": {_q(o.type._value_)}, "quantity": "{o.quantity!s}", '
        f'"price": {price_text}, "stop_price": {stop_text}, '
        f'"time_in_force": {_q(o.time_in_force._value_)}, '
        f'"reduce_only": {"true" if o.reduce_only else "false"}, '
        f'"created_ts_ns": {o.created_ts_ns!r}, "tag": {_q(o.tag)}, '
        f'"intent": {_q(o.intent)}}}}}'
    )


def _order_updated_json(e: OrderUpdated) -> str:
    r = e.report
    if (
        type(r) is not OrderReport
        or type(r.ts_ns) is not int
        or type(r.filled_quantity) is not Decimal
    ):
        raise TypeError(r)
    return (
        f'{{"report": {{"client_order_id": {_q(r.client_order_id)}, '
        f'"instrument": {_q(r.instrument)}, "status": {_q(r.status._value_)}, '
        f'"ts_ns": {r.ts_ns!r}, "filled_quantity": "{r.filled_quantity!s}", '
        f'"venue_order_id": {_q(r.venue_order_id)}, "reason": {_q(r.reason)}}}}}'
    )


def _reasons_json(items: Sequence[tuple[Any, Any]]) -> str:
    """A signal's reasons (``items``: their items) as ``json.dumps(dict(items), default=str,
    allow_nan=True)`` writes them, through the journal's one encoder: str keys and values of
    :data:`_PLAIN` types only (their own unstructured form, and no container, so no cycle for
    an encoder without a circular check to meet). TypeError for anything else (the caller's
    general path)."""
    plain = _PLAIN
    for k, v in items:
        if type(k) is not str or type(v) not in plain:
            raise TypeError(k)
    return _encode(dict(items))


#: The reasons' text of the last staged signal whose ``events`` row was written, with their
#: items (the tuple :meth:`Journal.record` kept): its ``signals`` row, encoded next, takes it
#: (each float's shortest repr is most of the cost, ~1 µs) and lets it go (a text referenced
#: here too would be marshalled as a shared object in a step log's record: other bytes).
_last_reasons: tuple[Any, str] = (None, "")


def _signal_json(e: SignalEvent, items: Sequence[tuple[Any, Any]] | None = None) -> str:
    """The signal event's JSON object (its Decimals, side, time and score checked for their
    exact types and written inline, as :func:`_fill_json`); ``items``: the reasons' items to
    write instead of the signal's own (those :meth:`Journal.record` kept when it staged the
    event: the event as published), whose text the ``signals`` row then takes
    (:data:`_last_reasons`): the reasons' floats are written once for both rows, and the
    signal is not unstructured by the converter (issue 17)."""
    s = e.signal
    quantity, score = s.quantity, s.score
    if (
        type(e) is not SignalEvent
        or type(s) is not Signal
        or type(s.side) is not Side
        or type(s.entry) is not Decimal
        or type(s.stop) is not Decimal
        or type(s.ts_ns) is not int
        or type(score) is not float
        or (quantity is not None and type(quantity) is not Decimal)
    ):
        raise TypeError(e)
    if items is None:
        if type(s.reasons) is not dict:
            raise TypeError(s.reasons)
        reasons = _reasons_json(tuple(s.reasons.items()))
    else:
        global _last_reasons
        reasons = _reasons_json(items)
        _last_reasons = (items, reasons)
    quantity_text = "null" if quantity is None else f'"{quantity!s}"'
    return (
        f'{{"signal": {{"instrument": {_q(s.instrument)}, "side": {_q(s.side._value_)}, '
        f'"entry": "{s.entry!s}", "stop": "{s.stop!s}", "score": {_float_json(score)}, '
        f'"ts_ns": {s.ts_ns!r}, "reasons": {reasons}, '
        f'"quantity": {quantity_text}, "intent": {_q(s.intent)}}}}}'
    )


#: The payloads of the events every fill and order makes, and of signals, written as JSON
#: text directly: the same text as the general path (tested), which any value of an
#: unexpected type (raising TypeError here: a numpy integer, a subclass) goes down instead.
#: Exact types only.
_DIRECT_JSON: dict[type, Callable[[Any], str]] = {
    FillEvent: _fill_event_json,
    PositionChanged: _position_changed_json,
    PositionClosed: _position_closed_json,
    OrderSubmitted: _order_submitted_json,
    OrderUpdated: _order_updated_json,
    SignalEvent: _signal_json,
}


#: Events with tables of their own besides ``events`` (:meth:`Journal._derive`): for any
#: other event below :attr:`Severity.WARNING`, a journal with an order manager writing ahead
#: writes the ``events`` row alone.
_OWN_TABLES: tuple[type, ...] = (SignalEvent, VetoEvent)

#: :attr:`Severity.WARNING` once: an enum's attribute look-up is a Python call (~70 ns),
#: asked twice for every event :meth:`Journal.record` takes.
_WARNING = Severity.WARNING


def _payload(event: Event) -> str:
    """The ``events.payload`` JSON of ``event``: its fields but ``ts_ns``, unstructured.

    The same text as ``json.dumps({name: unstructure(value) ...}, default=str)`` (tested):
    the events of orders, fills and positions written directly (:data:`_DIRECT_JSON`); the
    others with the field names looked up once per event type, plain values and Decimals
    (the converter's ``str`` hook) not sent through the converter, and one JSON encoder."""
    cls = type(event)
    direct = _DIRECT_JSON.get(cls)
    if direct is not None:
        try:
            return direct(event)
        except (TypeError, AttributeError, ValueError):
            pass  # a value of another type or shape than declared: the general path below
    names = _PAYLOAD_FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in attrs.fields(cls) if f.name != "ts_ns")
        _PAYLOAD_FIELDS[cls] = names
    data: dict[str, Any] = {}
    for name in names:
        value = getattr(event, name)
        kind = type(value)
        if kind in _PLAIN:
            data[name] = value
        elif kind is Decimal:
            data[name] = str(value)
        else:
            data[name] = unstructure(value)
    return _encode(data)


#: The events :meth:`Journal.record` stages unencoded (below :attr:`Severity.WARNING`):
#: those whose payloads :data:`_DIRECT_JSON` writes (their fields are frozen values:
#: Decimals, strings, numbers, tuples) and signals (with a snapshot of their reasons).
_DEFERRED: frozenset[type] = frozenset({*_DIRECT_JSON, SignalEvent})


def _as_published(event: SignalEvent, snap: tuple[tuple[Any, Any], ...]) -> SignalEvent:
    """``event`` with its signal's reasons as they were when it was recorded (``snap``, their
    items then): the event itself unless its reasons' dict was changed since."""
    s = event.signal
    now = tuple(s.reasons.items())
    if len(now) == len(snap) and all(
        k is k0 and v is v0 for (k, v), (k0, v0) in zip(now, snap, strict=True)
    ):
        return event
    return attrs.evolve(event, signal=attrs.evolve(s, reasons=dict(snap)))


#: Per event class of :data:`_DIRECT_JSON` (exact classes: their ``severity`` is a class
#: constant): its ``events`` row's name and severity, looked up once per row instead of a
#: class name and an enum's ``int`` per event.
_ROW_HEADS: dict[type, tuple[str, int]] = {
    cls: (cls.__name__, int(cls.severity))  # type: ignore[attr-defined]
    for cls in _DIRECT_JSON
}


def _event_rows(staged: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``[r if len(r) == 6 else _event_row(r) for r in staged]``: the same rows, those of the
    order, fill and position events written without :func:`_event_row`'s and
    :func:`_payload`'s calls (a value their writer refuses goes down :func:`_payload`'s
    general path, as there)."""
    heads = _ROW_HEADS
    direct = _DIRECT_JSON
    out = []
    for r in staged:
        if len(r) == 3:
            event = r[2]
            cls = type(event)
            head = heads.get(cls)
            write = direct.get(cls)
            if head is not None and write is not None:
                try:
                    text = write(event)
                except (TypeError, AttributeError, ValueError):
                    text = _payload(event)
                out.append((r[0], r[1], event.ts_ns, head[0], head[1], text))
                continue
        out.append(r if len(r) == 6 else _event_row(r))
    return out


def _event_row(staged: tuple[Any, ...], text: str | None = None) -> tuple[Any, ...]:
    """The ``events`` row of an event :meth:`Journal.record` staged unencoded:
    ``(run_id, seq, event)``, or ``(run_id, seq, signal event, reasons' items)``; ``text``
    in place of its payload's JSON when given."""
    if len(staged) == 3:
        run_id, seq, event = staged
    elif text is None:
        run_id, seq, event, snap = staged
        try:
            # The event as published, written from the reasons' items kept (the event
            # itself when its reasons are unchanged, which is the same text).
            text = _signal_json(event, snap)
        except (TypeError, AttributeError, ValueError):
            event = _as_published(event, snap)
    else:
        run_id, seq, event, _ = staged
    payload = _payload(event) if text is None else text
    return (run_id, seq, event.ts_ns, type(event).__name__, int(event.severity), payload)


def _signal_row(staged: tuple[Any, ...], text: str | None = None) -> tuple[Any, ...]:
    """The ``signals`` row of a staged ``(run_id, session_id, seq, signal event, reasons'
    items)``: as :meth:`Journal._derive` writes it; ``text`` in place of the reasons' JSON
    when given."""
    run_id, session_id, seq, event, snap = staged
    s = event.signal
    return (
        run_id,
        session_id,
        seq,
        event.ts_ns,
        s.instrument,
        s.side.value,
        s.intent,
        str(s.entry),
        str(s.stop),
        _s(s.quantity),
        float(s.score),
        _signal_reasons_json(snap) if text is None else text,
    )


def _signal_reasons_json(snap: tuple[tuple[Any, Any], ...]) -> str:
    """``json.dumps(dict(snap), default=str, allow_nan=True)``: by :func:`_reasons_json`
    when it takes them (no encoder built per call), else by ``json.dumps`` itself (whose
    circular check names a reasons' dict that contains itself); the text its ``events`` row
    wrote when that was the last one (:data:`_last_reasons`)."""
    global _last_reasons
    last = _last_reasons
    if last[0] is snap:
        _last_reasons = (None, "")
        return last[1]
    try:
        return _reasons_json(snap)
    except TypeError:
        return json.dumps(dict(snap), default=str, allow_nan=True)


def _unencodable(
    encode: Callable[[tuple[Any, ...], str | None], tuple[Any, ...]], staged: tuple[Any, ...]
) -> tuple[Any, ...]:
    """``encode(staged)``; when its JSON cannot be written (a strategy's reasons holding a
    value JSON refuses even as text, e.g. a dict that contains itself), the row with that
    JSON column replaced by an object saying why, logged: the row and its ``seq`` are kept
    and the run goes on (an encoding error must not end a run at its commit)."""
    try:
        return encode(staged, None)
    except Exception as exc:
        why = json.dumps({"unencodable": f"{type(exc).__name__}: {exc}"})
        log.error("journal: a row's JSON cannot be written: %s", why)
        return encode(staged, why)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def fill_key(fill: Fill) -> str:
    """The de-duplication key of a fill within its order: the venue's trade id, or (for a venue
    without trade ids) its time, side, quantity and price."""
    if fill.trade_id:
        return fill.trade_id
    return f"~{fill.ts_ns}:{fill.side.value}:{fill.quantity!s}:{fill.price!s}"


@attrs.frozen(kw_only=True)
class OrderRecord:
    """What the host knows of one order: the request (None when adopted from a venue that did
    not say) and its state in the order state machine."""

    client_order_id: str
    instrument: str
    venue: str = ""
    order: Order | None = None
    status: OrderStatus = OrderStatus.NEW
    filled_quantity: Decimal = Decimal(0)
    venue_order_id: str = ""
    reason: str = ""
    #: ``submitted`` (sent by this host), ``adopted`` (found at the venue and kept) or
    #: ``foreign`` (found at the venue and cancelled).
    origin: str = "submitted"
    updated_ts_ns: int = 0
    #: The sequence number in the client order id, for ids this host generated.
    id_seq: int | None = None
    run_id: str = ""

    @property
    def is_open(self) -> bool:
        """True until the order reaches a terminal state."""
        return not self.status.is_terminal

    def moved(
        self,
        *,
        status: OrderStatus,
        filled_quantity: Decimal,
        updated_ts_ns: int,
        venue_order_id: str | None = None,
        reason: str | None = None,
    ) -> OrderRecord:
        """The record after a transition: ``attrs.evolve`` with these changes (the same
        record, tested field by field), built directly — one per order transition and fill,
        where ``evolve``'s look-up of the fields per call showed — through its slots
        (:func:`~tradewind.model.frozen.builder`)."""
        return new_record(
            self.client_order_id,
            self.instrument,
            self.venue,
            self.order,
            status,
            filled_quantity,
            self.venue_order_id if venue_order_id is None else venue_order_id,
            self.reason if reason is None else reason,
            self.origin,
            updated_ts_ns,
            self.id_seq,
            self.run_id,
        )

    def report(self) -> OrderReport:
        """The record's state as an OrderReport."""
        return _new_report(
            self.client_order_id,
            self.instrument,
            self.status,
            self.updated_ts_ns,
            self.filled_quantity,
            self.venue_order_id,
            self.reason,
        )


#: ``OrderRecord(...)`` of every field, positionally in this order (a field added to the
#: class and not here fails at import).
new_record = builder(
    OrderRecord,
    (
        "client_order_id",
        "instrument",
        "venue",
        "order",
        "status",
        "filled_quantity",
        "venue_order_id",
        "reason",
        "origin",
        "updated_ts_ns",
        "id_seq",
        "run_id",
    ),
)
_RECORD = attrs.fields(OrderRecord)
#: A new order's record's defaults: the class's own default objects.
_OPENED = (
    _RECORD.status.default,
    _RECORD.filled_quantity.default,
    _RECORD.venue_order_id.default,
    _RECORD.reason.default,
    _RECORD.origin.default,
)


def opened_record(
    client_order_id: str,
    instrument: str,
    venue: str,
    order: Order,
    updated_ts_ns: int,
    id_seq: int | None,
    run_id: str,
) -> OrderRecord:
    """``OrderRecord(client_order_id=..., instrument=..., venue=..., order=...,
    updated_ts_ns=..., id_seq=..., run_id=...)`` with every other field at its default, built
    through its slots (:func:`new_record`)."""
    status, filled, venue_order_id, reason, origin = _OPENED
    return new_record(  # type: ignore[no-any-return]
        client_order_id,
        instrument,
        venue,
        order,
        status,
        filled,
        venue_order_id,
        reason,
        origin,
        updated_ts_ns,
        id_seq,
        run_id,
    )


_new_report = new_report  # (by this name: tests put the constructor back)

#: Each side by its journaled value (``Side(value)`` is a Python call of the enum's
#: ``__call__`` per fill read back); a value not here goes through ``Side``.
_SIDE_OF = {s.value: s for s in Side}


def rebuild_positions(
    steps: Iterable[tuple[str, Any]], start_cash: Decimal | None = None
) -> tuple[dict[str, Position], Decimal | None]:
    """Fold journal steps, in journal order, into positions and cash.

    ``steps`` are ``("fill", Fill)``, ``("position", Position)`` (a correction replaces the
    position), ``("cash", Decimal)`` (a baseline replaces the cash) and ``("flow", Decimal)``
    (a funding payment, > 0 paid, leaves the cash). Positions are
    :meth:`Position.apply` over the fills, exactly; cash moves by each fill's realised P&L
    less its fee. Cash is None until a baseline is seen.
    """
    positions: dict[str, Position] = {}
    cash = start_cash
    for kind, value in steps:
        if kind == "fill":
            before = positions.get(value.instrument) or Position(instrument=value.instrument)
            after = before.apply(value)
            positions[value.instrument] = after
            if cash is not None:
                cash += after.realized_pnl - before.realized_pnl - value.fee_in_quote
        elif kind == "position":
            positions[value.instrument] = value
        elif kind == "cash":
            cash = value
        elif kind == "flow":
            if cash is not None:
                cash -= value  # a payment (> 0 paid) leaves the cash
        else:  # pragma: no cover - a programming error
            raise ValueError(f"unknown journal step {kind!r}")
    return positions, cash


class Journal:
    """The journal of one host: writes one run's rows and reads its session's state back.

    ``durable``: commit every write-ahead step (orders, fills, corrections) and every warning
    at once. None chooses by mode at :meth:`start`: off for backtests (they can be re-run;
    rows are written in large batches), on for paper and live.

    ``path``: a DuckDB file, or a ``postgresql://`` URL (``password`` is then given to the
    server separately and never shown; :attr:`path` is the URL without it).

    ``intents``: with group commit, write an order about to go to a real venue ahead to the
    intent log (:mod:`tradewind.journal.intent_log`) instead of committing it to DuckDB before
    it is sent (a writable DuckDB journal only; False commits it, as a PostgreSQL journal
    does). :meth:`written_ahead` says which orders are durable that way.

    ``steps`` (default: as ``intents``): with group commit, make each engine step durable by
    an ``fdatasync``'d append to the step log (:mod:`tradewind.journal.step_log`) and load
    the rows into DuckDB in batches — every ``load_rows`` rows or ``load_every_s`` seconds
    (at the next step), whenever the journal is read through this object, and at close. A
    writable DuckDB journal only; without it each step is a DuckDB commit.

    ``background`` (default True): the batch loads of a step-logged run (those due by rows or
    time) run on a thread of their own (:mod:`.step_log`'s ``loading_path``): the engine's
    next steps go on while DuckDB loads the last ones. A read through this object, a close
    and a flush wait for a load under way first; a load that failed is reported (raised) by
    the next step's commit and retried on the engine's thread.

    :attr:`sync_behind` (the engine sets it in paper and live from ``[journal]
    sync_in_background``): a step's commit writes its record to the step log and syncs it on
    the journal's sync thread (:mod:`.step_sync`); :meth:`settle` waits for it.
    """

    #: :meth:`record` stages the rows of its most frequent events unencoded, encoded when
    #: they are written (:meth:`_encode_staged`); False encodes every row at once (the
    #: reference the tests compare with).
    defer_encoding: bool = True

    def __init__(
        self,
        path: Path | str,
        run_id: str,
        *,
        flush_every: int | None = None,
        durable: bool | None = None,
        read_only: bool = False,
        password: str | None = None,
        intents: bool = True,
        steps: bool | None = None,
        load_rows: int = LOAD_ROWS,
        load_every_s: float = LOAD_EVERY_S,
        background: bool = True,
    ) -> None:
        self.run_id = run_id
        #: Buffered rows that trigger a write; None chooses by mode at :meth:`start`
        #: (:data:`FLUSH_ROWS`, or :data:`BACKTEST_FLUSH_ROWS` for a backtest).
        self.flush_every: int = FLUSH_ROWS if flush_every is None else flush_every
        self._flush_every_set = flush_every is not None
        self.read_only = read_only
        self.durable: bool = bool(durable)
        self._durable_set = durable is not None
        #: Set by the order manager when it writes orders and fills ahead of the bus.
        self.write_ahead = False
        self.session_id = run_id
        #: True when :meth:`start` continued an earlier session.
        self.resumed = False
        #: Set when a write failed (the rows stay buffered and are retried); None when the
        #: last write succeeded.
        self.error: JournalError | None = None
        #: Group commit (paper and live runs set it): write-ahead rows are committed once per
        #: engine step (:meth:`commit`) instead of one transaction per fill; an order going
        #: to a venue that is not in :attr:`simulated_venues` is written ahead to the intent
        #: log (or, without one, committed before it is sent).
        self.group_commit = False
        #: Venue keys whose orders need no commit before sending (in-process, restored from
        #: the journal itself).
        self.simulated_venues: frozenset[str] = frozenset()
        #: The currency each instrument's P&L is in, journaled with its positions
        #: (:meth:`set_pnl_currencies`).
        self.pnl_currencies: dict[str, str] = {}
        self._pending: dict[str, list[tuple[Any, ...]]] = {}
        self._npending = 0
        #: Some staged row is not encoded yet.
        self._unencoded = False
        #: Per table of :attr:`_pending`, how many of its rows are encoded (from the start).
        self._encoded: dict[str, int] = {}
        self._dirty_orders: dict[str, OrderRecord] = {}
        self._order_seq: dict[str, int] = {}
        #: The highest client order id sequence (``id_seq``) of the session's ``orders`` rows
        #: (read at the first write of an order state, then kept up by every write): an order
        #: above it has no row yet, so its state is inserted without the upsert's DELETE.
        self._id_seq_written: int | None = None
        self._id_seq_session = ""  # the session it is of
        self._db = open_backend(path, read_only=read_only, password=password)
        #: The DuckDB file, or the PostgreSQL URL without a password.
        self.path: Path | str = self._db.where
        self._con: Any = self._db.con
        #: What a failed read or write of this backend raises.
        self._failures: tuple[type[BaseException], ...] = (*self._db.errors, OSError)
        #: The order-intent log beside a writable DuckDB journal (:mod:`.intent_log`).
        self._intents: intent_log.IntentLog | None = None
        if isinstance(self._db, DuckDBBackend) and not read_only and intents:
            self._intents = intent_log.IntentLog(intent_log.intent_path(self._db.path))
        #: The step log beside a writable DuckDB journal (:mod:`.step_log`).
        self._steplog: step_log.StepLog | None = None
        if (
            isinstance(self._db, DuckDBBackend)
            and not read_only
            and (intents if steps is None else steps)
        ):
            self._steplog = step_log.StepLog(step_log.step_path(self._db.path))
        self.load_rows = load_rows
        self.load_every_s = load_every_s
        #: Rows durable in the step log and not yet loaded into DuckDB, per table, and the
        #: order states (``orders`` rows by client order id: the latest wins).
        self._logged: dict[str, list[tuple[Any, ...]]] = {}
        self._logged_orders: dict[str, tuple[Any, ...]] = {}
        self._nlogged = 0
        #: When the last load into DuckDB was (``time.monotonic``; read only when the step log
        #: is in use: a backtest reads no wall clock).
        self._last_load: float | None = None
        #: Steps appended to the step log and loads into DuckDB (for benchmarks).
        self.steps_logged = 0
        self.loads = 0
        #: :meth:`_tune_loads` ran (before the first load of a step-logged journal).
        self._loads_tuned = False
        #: Batch loads run on a thread of their own (see the class's ``background``).
        self.background = background
        #: A step-logged commit (:meth:`commit`) writes the step's record and hands its
        #: ``fdatasync`` to the sync thread instead of waiting for it (:mod:`.step_sync`):
        #: the caller holds what the step would make leave the process until :meth:`settle`
        #: returned. A step that wrote an order ahead to the intent log is synced at once.
        self.sync_behind = False
        #: The steps whose records are being synced (oldest first; at most
        #: :attr:`sync_depth`), and the thread that syncs them.
        self._inflight: collections.deque[InFlight] = collections.deque()
        #: How many steps may be synced behind at once: a commit with that many under way
        #: waits for the oldest first. The engine computes on while the disk syncs, even
        #: when a sync takes longer than a step.
        self.sync_depth = SYNC_DEPTH
        self._syncer = Syncer("journal-sync")
        #: Steps synced on the sync thread, and how many of those :meth:`settle` waited for
        #: (their sync had not returned yet when asked; for benchmarks).
        self.syncs_behind = 0
        self.settle_waits = 0
        #: Steps synced behind that are settled (durable, or failed and staged again): the
        #: last :attr:`syncs_behind` - ``behind_done`` are still in flight.
        self.behind_done = 0
        #: The load under way on its thread, the rows it writes (per table, the order
        #: states) and, once it ended, what it raised (None: it committed).
        self._loader: threading.Thread | None = None
        self._loading: tuple[dict[str, list[tuple[Any, ...]]], dict[str, tuple[Any, ...]], int]
        self._loading = ({}, {}, 0)
        self._load_failure: BaseException | None = None
        #: The background loads' own connection to the database (a DuckDB connection is used
        #: by one thread at a time).
        self._load_con: Any = None
        #: Client order ids durable in the intent log and not yet committed to the journal
        #: (:meth:`written_ahead`).
        self._ahead: set[str] = set()
        #: Who follows which tables' rows as they are written (:meth:`follow`).
        self._followers: list[tuple[frozenset[str], Callable[[str, list[tuple[Any, ...]]], None]]]
        self._followers = []
        #: The tables known to have no row in the database (set below for a new file).
        self._empty: set[str] = set()
        #: A backtest's DuckDB journal (set by :meth:`start`): :meth:`finish` writes the
        #: buffered rows and the run's end in one transaction checkpointed into the file.
        self._one_write = False
        try:
            loaded = False
            if isinstance(self._db, DuckDBBackend):
                # Whatever this journal's own setting: a step log left by a killed host holds
                # rows DuckDB may lack.
                steps_path = step_log.step_path(self._db.path)
                if read_only:
                    self._overlay_step_log(steps_path)
                else:
                    loaded = self._load_step_log(steps_path)
            if self._intents is not None:
                loaded = self._replay_intents(self._intents.path) or loaded
            # A file this open created has no rows unless the logs beside it had some: no
            # query of its eleven tables' sequence numbers (issue 17: a backtest's start).
            fresh = isinstance(self._db, DuckDBBackend) and self._db.fresh and not loaded
            # A read-only journal writes no row: its sequence numbers are never drawn (no
            # query of the eleven tables' maxima at the report's open, issue 17).
            self._seq = 0 if fresh or read_only else self._max_seq()
            #: No ``runs`` row yet (a file this open created, nothing loaded into it): the
            #: start's questions about earlier runs have no rows to read (:attr:`has_runs`).
            self._no_runs = fresh
            #: The tables without a row in the database (of a file this open created, nothing
            #: loaded into it; :meth:`_write` removes each it writes to): a read of the
            #: session's orders, fills, positions or balances whose tables have no row there
            #: nor in memory returns nothing without a query or a flush (issue 17: a
            #: backtest's reconciliation asked its new, empty file ~26 times).
            self._empty = set(TABLES) - {"runs"} if fresh else set()
        except self._failures as exc:
            self._db.close()
            raise self._db.error(exc, doing="open") from exc

    @property
    def backend(self) -> str:
        """``duckdb`` or ``postgresql``."""
        return "postgresql" if isinstance(self._db, PostgresBackend) else "duckdb"

    @classmethod
    def open_readonly(
        cls, path: Path | str, session_id: str | None = None, *, password: str | None = None
    ) -> Journal:
        """Open a journal to read it (another process may have been killed while writing it:
        DuckDB replays its write-ahead log). ``session_id`` defaults to the latest run's."""
        j = cls(path, "", read_only=True, password=password)
        if session_id is None:
            row = j._con.execute(
                "SELECT coalesce(session_id, run_id) FROM runs "
                "ORDER BY coalesce(run_no, 0) DESC, started_ts_ns DESC LIMIT 1"
            ).fetchone()
            session_id = row[0] if row else ""
        j.session_id = session_id
        return j

    @property
    def writes_ahead(self) -> bool:
        """True when an order about to go to a real venue is made durable by the intent log
        (group commit on a durable, writable DuckDB journal with its intent log) rather than
        by a DuckDB commit before it is sent."""
        return self.durable and self.group_commit and self._intents is not None

    def written_ahead(self) -> AbstractSet[str]:
        """The client order ids durable in the intent log and not yet committed to DuckDB:
        each may go to its venue before the step's commit (it is replayed at the next open if
        the host dies first). Empty after every successful commit. The journal's own set, not
        a copy (asked once per order sent): read it, do not keep it."""
        return self._ahead

    def verify(self) -> None:
        """Check the journal at open (:meth:`DuckDBBackend.verify`,
        :meth:`PostgresBackend.verify`), so a damaged journal stops the host before it trades.
        """
        self._db.verify()

    @property
    def has_runs(self) -> bool:
        """False while the journal holds no run at all (a file its open created, no log
        loaded into it, not started yet): nothing to ask about earlier runs. True otherwise
        (it may hold some)."""
        return not self._no_runs

    def _unread(self, *tables: str) -> bool:
        """True when none of ``tables`` has a row: not in the database (:attr:`_empty`), not
        staged, not in the step log waiting for a load."""
        empty = self._empty
        if not empty:
            return False
        if self._inflight:
            return False  # a step being synced holds rows
        loading, loading_orders, _ = self._loading  # (handed to the load thread)
        for table in tables:
            if (
                table not in empty
                or self._pending.get(table)
                or self._logged.get(table)
                or loading.get(table)
            ):
                return False
            if table == "orders" and (self._dirty_orders or self._logged_orders or loading_orders):
                return False
        return True

    def _max_seq(self) -> int:
        parts = " UNION ALL ".join(f"SELECT max(seq) AS s FROM {t}" for t in TABLES if t != "runs")
        row = self._con.execute(f"SELECT coalesce(max(s), 0) FROM ({parts}) AS seqs").fetchone()
        return int(row[0]) if row else 0

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    # -- the run ----------------------------------------------------------------------------
    def start(
        self,
        mode: str,
        config_path: str,
        ts_ns: int,
        *,
        session_id: str | None = None,
        resume: bool | None = None,
    ) -> None:
        """Record the run and choose its session.

        A paper or live run (or any run with ``resume=True``) continues the session of the
        latest run of the same mode and config file; a backtest starts its own session.
        ``session_id`` names the session explicitly.
        """
        if not self._durable_set:
            self.durable = mode != "backtest"
        if not self._flush_every_set and mode == "backtest" and not self.durable:
            self.flush_every = BACKTEST_FLUSH_ROWS
        config_path = os.path.abspath(config_path) if config_path else config_path
        if mode == "backtest" and not self.durable and isinstance(self._db, DuckDBBackend):
            # A backtest writes its rows in a few large transactions at the end, on one
            # thread: DuckDB's second worker thread costs more CPU than it saves on the
            # end-of-run insert and checkpoint (~15 % of the journal's CPU, issue 17). The
            # setting is the database's (this file's) and lasts until it is closed.
            self._con.execute("SET threads = 1")
            # Its rows are the journal's own JSON text (see DuckDBBackend.json_as_is), and
            # its end-of-run write goes straight into the file (:meth:`finish`).
            self._db.json_as_is = True
            self._one_write = True
        if resume is None:
            resume = mode in ("paper", "live")
        if session_id is None and resume and self.has_runs:
            row = self._con.execute(
                "SELECT coalesce(session_id, run_id) FROM runs WHERE mode = ? AND config_path = ?"
                " ORDER BY coalesce(run_no, 0) DESC LIMIT 1",
                [mode, config_path],
            ).fetchone()
            if row is not None:
                session_id = row[0]
        if session_id is not None and self.has_runs:
            self.resumed = (
                self._con.execute(
                    "SELECT count(*) FROM runs WHERE coalesce(session_id, run_id) = ?",
                    [session_id],
                ).fetchone()
                or (0,)
            )[0] > 0
        self.session_id = session_id or self.run_id
        run_no = 1
        if self.has_runs:
            row = self._con.execute("SELECT coalesce(max(run_no), 0) FROM runs").fetchone()
            run_no = (int(row[0]) if row else 0) + 1
        self._con.execute(
            "INSERT INTO runs (run_id, mode, config_path, started_ts_ns, finished_ts_ns, "
            "summary, session_id, run_no) VALUES (?, ?, ?, ?, NULL, NULL, ?, ?)",
            [self.run_id, mode, config_path, ts_ns, self.session_id, run_no],
        )
        self._no_runs = False

    def finish(self, ts_ns: int, summary: Mapping[str, Any]) -> None:
        """Flush and record the run's end and summary (JournalError when it cannot)."""
        end = (
            "UPDATE runs SET finished_ts_ns = ?, summary = ? WHERE run_id = ?",
            [ts_ns, json.dumps(summary, default=str), self.run_id],
        )
        if self._one_write and (self._npending or self._dirty_orders):
            # A backtest's rows and its end in one transaction, whose commit checkpoints at
            # once (a threshold of one byte) instead of writing the rows to the write-ahead
            # log first and into the file again at the checkpoint below (DuckDB skips the log
            # for a large commit it checkpoints). The threshold is this database's setting:
            # back to its default after the commit.
            self._con.execute("SET checkpoint_threshold = '1B'")
            try:
                self._load(staged=True, then=end)
            finally:
                with contextlib.suppress(*self._db.errors):  # (the database's close ends it)
                    self._con.execute("RESET checkpoint_threshold")
        else:
            self.flush()
            try:
                self._con.execute(*end)
            except self._db.errors as exc:
                raise self._db.error(exc, doing="finish the run in") from exc
        try:
            self._db.checkpoint()
        except self._db.errors as exc:
            raise self._db.error(exc, doing="finish the run in") from exc

    def cursor(self) -> Any:
        """Another connection to this journal's database, for tables kept by other modules
        (the notifiers' outbox, control commands). Close it before :meth:`close`."""
        return self._con.cursor()

    def close(self) -> None:
        """Write what is buffered and close the database (closed even when the write fails;
        the JournalError then says what was not written)."""
        try:
            if not self.read_only:
                self.flush()
        finally:
            if self._loader is not None:
                self._loader.join()  # flush raised before it waited: do not leave it running
            self._syncer.close()  # a sync under way (flush raised before it settled) ends
            if self._load_con is not None:
                self._load_con.close()
                self._load_con = None
            self._db.close()
            if self._intents is not None:
                self._intents.close()
            if self._steplog is not None:
                self._steplog.close()

    @property
    def buffered(self) -> int:
        """Rows and order states staged and not yet durable (0 right after a commit that
        synced at once; a step being synced counts until :meth:`settle`)."""
        behind = sum(step.n + len(step.orders) for step in self._inflight)
        return self._npending + len(self._dirty_orders) + behind

    def unjournaled(self) -> str:
        """What is buffered and not written, for the error that ends a run whose journal
        failed: row counts per table and the fills by client order id and fill key."""
        with contextlib.suppress(JournalError):
            self._settle()  # a step being synced is written, or staged again
        if not self._npending and not self._dirty_orders:
            return "nothing is unjournaled"
        parts = [f"{len(rows)} {table}" for table, rows in self._pending.items() if rows]
        if self._dirty_orders:
            parts.append(f"{len(self._dirty_orders)} order states")
        fills = [f"{r[3]}/{r[4]}" for r in self._pending.get("fills", ())]
        text = "unjournaled rows: " + ", ".join(parts)
        if fills:
            shown = ", ".join(fills[:20]) + (
                f" and {len(fills) - 20} more" if len(fills) > 20 else ""
            )
            text += (
                f"; fills not journaled: {shown} (the next start reconciles with the venue; "
                "a paper account resumes from what was journaled)"
            )
        return text

    # -- writing ----------------------------------------------------------------------------
    def _add(self, table: str, row: tuple[Any, ...]) -> None:
        if self.read_only:
            raise RuntimeError(f"journal {self.path} is open read-only")
        self._pending.setdefault(table, []).append(row)
        self._npending += 1

    def _step_done(self, *, before_send: bool = False) -> None:
        """End of a write-ahead step: commit it now when durable.

        With :attr:`group_commit` the commit waits for the engine's end of step
        (:meth:`commit`), except before an order goes to a real venue (``before_send``) when
        there is no intent log to hold it.
        When not durable (backtests) the batch is written when :meth:`record` (the bus's
        inline subscriber) has staged ``flush_every`` rows, and at the end of the run.
        """
        if self.durable and (before_send or not self.group_commit):
            self.flush()

    @property
    def logs_steps(self) -> bool:
        """True when a step is made durable by the step log (:mod:`.step_log`: group commit on
        a durable, writable DuckDB journal) and loaded into DuckDB in batches."""
        return self.durable and self.group_commit and self._steplog is not None

    def commit(self) -> None:
        """The engine's end of step: make every row staged in the step durable — one
        ``fdatasync``'d append to the step log (:attr:`logs_steps`; the rows reach DuckDB
        with the next load, :meth:`load`), or one durable DuckDB commit.

        A journal that is not durable (a backtest) writes nothing here: it encodes the rows
        :meth:`record` staged unencoded (after the step's orders were sent), so that no more
        than a step's events are kept alive for their rows until the end-of-run write."""
        if not self.durable:
            if self._unencoded:
                self._encode_staged()
            return
        if not self.logs_steps:
            self.flush()
            return
        if self.sync_behind:
            if not self._npending and not self._dirty_orders:
                return  # nothing of this step to write: the steps before sync on
            # The steps before whose syncs returned are settled (raises if one failed), the
            # oldest waited for if ``sync_depth`` are under way; a load that is due waits
            # for all (it renames the log); then this step's record, synced behind.
            self._settle(keep=self.sync_depth - 1)
            self._load_if_due()
            self._log_step(behind=True)
            return
        self._log_step()
        self._load_if_due()

    def _load_if_due(self) -> None:
        """End a background load that is done, and start the next if rows or time say so."""
        self._reap(wait=False)
        if not self._nlogged:
            return
        now = time.monotonic()
        if self._last_load is None:
            self._last_load = now  # the first step since the journal opened
        if self._nlogged >= self.load_rows or now - self._last_load >= self.load_every_s:
            self._load_logged()

    def _tune_loads(self) -> None:
        """Before the first write of a step-logged journal (:attr:`logs_steps`) into DuckDB:
        the settings of its loads, which write the rows in batches of thousands, most of
        them from the load thread.

        - One DuckDB thread (``SET threads = 1``, the database's setting while it is open): a
          load's statements are inserts of a few thousand rows and a commit; DuckDB's second
          worker thread costs more CPU than it saves on them (as on a backtest's end-of-run
          write), and on a 2-core host it takes the core the engine's thread needs.
        - The JSON columns' text goes in as Arrow's JSON extension type, stored as it is
          instead of parsed again by DuckDB (:attr:`DuckDBBackend.json_as_is`): every JSON
          value the journal writes is its own encoder's text (DuckDB stores the same text
          either way).

        Neither changes what is durable when: the step log's append is the step's durable
        commit, and a load's commit is a DuckDB commit as before."""
        self._loads_tuned = True
        if not isinstance(self._db, DuckDBBackend) or self.read_only:
            return
        try:
            self._con.execute("SET threads = 1")
        except self._db.errors as exc:  # a setting only: the loads work without it
            log.warning("journal %s: DuckDB threads not set for the loads: %s", self.path, exc)
        self._db.json_as_is = True

    def load(self) -> None:
        """Write every row held in memory — durable in the step log or only staged — into
        DuckDB now (what a reader of the journal's tables through another connection needs
        first)."""
        self.flush()

    # -- followers ----------------------------------------------------------------------
    def follow(
        self,
        tables: Iterable[str],
        sink: Callable[[str, list[tuple[Any, ...]]], None],
        *,
        newest: int,
    ) -> dict[str, tuple[int, list[tuple[Any, ...]]]]:
        """Follow the session's rows of ``tables`` as they are written: from now on
        ``sink(table, rows)`` is called (on the thread that writes, in sequence order) with
        each table's rows once they are durable — appended to the step log, or committed to
        the database — or, in a journal that is not durable (a backtest), once written.

        Returns what the session held before, per table: its number of rows and the newest
        ``newest`` of them, oldest first (full rows in :func:`column_names` order), so a
        follower that keeps the newest rows starts with what a query would have read.
        Rows staged and not yet durable are not in it; they reach ``sink`` when they are."""
        wanted = frozenset(tables)
        for table in wanted:
            column_names(table)  # a table that exists
        seed: dict[str, tuple[int, list[tuple[Any, ...]]]] = {}
        for table in sorted(wanted):
            total, rows = self._seed_rows(table, newest)
            seed[table] = (total, rows)
        self._followers.append((wanted, sink))
        return seed

    def unfollow(self, sink: Callable[[str, list[tuple[Any, ...]]], None]) -> None:
        """Stop calling ``sink`` (:meth:`follow`; a bound method equal to the one given)."""
        self._followers = [(t, s) for t, s in self._followers if s != sink]

    def _seed_rows(self, table: str, newest: int) -> tuple[int, list[tuple[Any, ...]]]:
        # The database's rows, then those durable in the step log and not loaded yet (newer).
        cols = ", ".join(column_names(table))
        with contextlib.suppress(JournalError):
            self._settle()  # a step being synced: its rows are logged (or staged again)
        loader = self._loader
        if loader is not None:
            # Rows handed to the load thread are in the database once it has committed (and
            # given back to the logged ones by the next reap if it failed).
            loader.join()
        loading = self._loading[0].get(table, []) if self._load_failure is not None else []
        try:
            row = self._con.execute(
                f"SELECT count(*) FROM {table} WHERE session_id = ?", [self.session_id]
            ).fetchone()
            rows = self._con.execute(
                f"SELECT {cols} FROM {table} WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                [self.session_id, newest],
            ).fetchall()
        except self._db.errors as exc:
            raise self._db.error(exc, doing="read") from exc
        at = column_names(table).index("session_id")
        logged = [r for r in (*loading, *self._logged.get(table, ())) if r[at] == self.session_id]
        total = (int(row[0]) if row else 0) + len(logged)
        kept = [tuple(r) for r in reversed(rows)] + logged
        return total, kept[-newest:] if newest > 0 else []

    def _to_followers(self, tables: Mapping[str, list[tuple[Any, ...]]]) -> None:
        for wanted, sink in self._followers:
            for table, rows in tables.items():
                if rows and table in wanted:
                    try:
                        sink(table, rows)
                    except Exception:  # a follower's bug never stops the journal's writes
                        log.exception("journal %s: a follower of %s failed", self.path, table)

    def _log_step(self, behind: bool = False) -> None:
        """Append the staged rows to the step log as one durable record (``behind``: written
        now, synced on the sync thread — :attr:`sync_behind` — unless the step wrote an
        order ahead to the intent log, whose truncation waits for this record's sync)."""
        if not behind:
            self._settle()  # every step written before is durable first
        if not self._npending and not self._dirty_orders:
            return
        assert self._steplog is not None
        self._encode_staged()
        orders = {cid: self._order_row(rec) for cid, rec in self._dirty_orders.items()}
        intents = self._intents
        if behind and (self._ahead or (intents is not None and intents.pending)):
            behind = False
            self._settle()  # an inline sync: what was written before is durable first
        try:
            self._steplog.append(self._seq, self._pending, list(orders.values()), sync=not behind)
        except OSError as exc:
            # The rows stay staged; the next commit or load writes them if the disk recovers.
            self.error = self._db.error(exc, doing="write")
            raise self.error from exc
        if behind:
            self._inflight.append(
                InFlight(
                    future=self._syncer.submit(self._steplog.sync),
                    rows=self._pending,
                    orders=orders,
                    n=self._npending,
                    records=self._dirty_orders,
                    order_seq=self._order_seq,
                )
            )
            self.syncs_behind += 1
            self._pending = {}
            self._encoded = {}
            self._npending = 0
            self._dirty_orders = {}
            self._order_seq = {}
            return
        self.error = None
        self._logged_step(self._pending, orders, self._npending)
        self._pending = {}
        self._encoded = {}
        self._npending = 0
        self._dirty_orders.clear()
        self._order_seq.clear()  # the logged rows carry their sequence numbers
        self._written_ahead_durable()

    def _logged_step(
        self, rows: dict[str, list[tuple[Any, ...]]], orders: dict[str, tuple[Any, ...]], n: int
    ) -> None:
        """A step's record is durable: its rows join those the next load writes, and reach
        the followers."""
        self.steps_logged += 1
        logged = self._logged
        for table, have_rows in rows.items():
            have = logged.get(table)
            if have is None:
                logged[table] = have_rows
            else:
                have.extend(have_rows)
        self._logged_orders.update(orders)
        self._nlogged += n + len(orders)
        if self._followers:
            self._to_followers(rows)

    @property
    def syncing(self) -> bool:
        """True while a step's record is being synced behind (:attr:`sync_behind`): what
        the step would make leave the process waits for :meth:`settle`."""
        return bool(self._inflight)

    @property
    def synced(self) -> bool:
        """True when no step is being synced behind, or every sync under way returned
        (:meth:`settle` then does not wait)."""
        inflight = self._inflight
        return not inflight or inflight[-1].future.done()

    def settle(self, *, wait: bool = True) -> None:
        """Wait until every step being synced behind is durable (nothing to do when none
        is); ``wait=False``: settle those whose sync returned, oldest first, and wait for
        none. Raises the JournalError of a failed sync; that step's rows and those of every
        step after it are then staged again (ahead of the newer ones) and their records are
        cut off the step log."""
        self._settle(wait=wait)

    def _settle(self, *, wait: bool = True, keep: int = 0) -> None:
        """:meth:`settle`; ``keep``: leave that many of the newest steps syncing (waiting
        for the older ones only)."""
        inflight = self._inflight
        while len(inflight) > keep:
            future = inflight[0].future
            if not future.done():
                if not wait:
                    return
                self.settle_waits += 1
            try:
                future.result()
            except OSError as exc:
                self._sync_failed(exc)
            step = inflight.popleft()
            self.behind_done += 1
            self.error = None
            self._logged_step(step.rows, step.orders, step.n)

    def _sync_failed(self, exc: OSError) -> None:
        """The oldest step synced behind failed (the later ones cannot be durable without
        it): once every sync under way ended, their records are cut off the log and their
        rows staged again; raises the JournalError."""
        inflight = self._inflight
        for step in inflight:
            with contextlib.suppress(OSError):
                step.future.result()
        assert self._steplog is not None
        self._steplog.cut_unsynced()
        self.behind_done += len(inflight)
        while inflight:
            self._stage_again(inflight.pop())  # the newest first: each goes ahead of it
        self.error = self._db.error(exc, doing="write")
        raise self.error from exc

    def _stage_again(self, inflight: InFlight) -> None:
        """A step whose sync failed: its rows staged again ahead of those staged since (they
        are newer), and its order states where no newer one is staged."""
        pending = self._pending
        encoded = self._encoded
        for table, rows in inflight.rows.items():
            have = pending.get(table)
            pending[table] = rows + have if have else rows
            if table in encoded or table in ("events", "signals"):
                # The step's rows were encoded before its write: the newer ones start after.
                encoded[table] = encoded.get(table, 0) + len(rows)
        self._npending += inflight.n
        for cid, rec in inflight.records.items():
            if cid not in self._dirty_orders:
                self._dirty_orders[cid] = rec
                self._order_seq[cid] = inflight.order_seq[cid]

    def _written_ahead_durable(self) -> None:
        """The orders written ahead are durable elsewhere now (the step log or DuckDB)."""
        self._ahead.clear()
        if self._intents is not None and self._intents.pending:
            try:
                self._intents.truncate()
            except OSError as exc:  # replay at the next open skips what is journaled
                log.warning("journal %s: intent log not truncated: %s", self.path, exc)

    def _insert_rows(
        self, verb: str, table: str, rows: list[tuple[Any, ...]], con: Any = None
    ) -> None:
        """Insert ``rows`` in one bulk statement of the backend (``con``: a DuckDB journal's
        background load connection)."""
        if not rows:
            return
        if con is None:
            self._db.insert(table, rows, ignore=verb == "INSERT OR IGNORE")
        else:
            assert isinstance(self._db, DuckDBBackend)
            self._db.insert(table, rows, ignore=verb == "INSERT OR IGNORE", con=con)

    def flush(self) -> None:
        """Write every row held in memory (staged, or durable in the step log) into the
        database in one transaction."""
        self._load(staged=True)

    def load_due(self) -> None:
        """Load the rows durable in the step log into DuckDB if the last load is
        ``load_every_s`` old (the engine calls it while it waits for data, so the journal's
        other readers see a quiet run's last steps too). Staged rows are left to their step."""
        self._settle()
        self._reap(wait=False)
        if (
            self._nlogged
            and self._last_load is not None
            and time.monotonic() - self._last_load >= self.load_every_s
        ):
            self._load_logged()

    def wait_load(self) -> None:
        """Wait for the background load under way, if any (raises the JournalError of one that
        failed; its rows are then loaded by the next load)."""
        self._reap(wait=True)

    def _load_logged(self) -> None:
        """Load the rows durable in the step log: on the load thread (:attr:`background`),
        unless one is under way (the rows wait for the next due load) or the last one failed
        (its file is kept: this load, on the engine's thread, writes its rows too)."""
        if not self.background or not isinstance(self._db, DuckDBBackend):
            self._load(staged=False)
            return
        if self._loader is not None:
            return
        self._settle()  # the rename below closes the file: nothing may be syncing it
        if not self._loads_tuned:
            self._tune_loads()
        assert self._steplog is not None
        loading = step_log.loading_path(self._db.path)
        if loading.exists():
            self._load(staged=False)
            return
        try:
            self._steplog.rotate(loading)
        except OSError as exc:
            # The log stays where it is, whole: load it here and truncate it, as before.
            log.warning(
                "journal %s: step log not rotated for a background load: %s", self.path, exc
            )
            self._load(staged=False)
            return
        self._loading = (self._logged, self._logged_orders, self._nlogged)
        self._logged = {}
        self._logged_orders = {}
        self._nlogged = 0
        self._last_load = time.monotonic()
        if self._load_con is None:
            self._load_con = self._con.cursor()
        self._load_failure = None
        self._loader = threading.Thread(
            target=self._load_in_background,
            args=(self._loading[0], self._loading[1], loading),
            name=f"journal-load {self.path}",
            daemon=True,
        )
        self._loader.start()

    def _load_in_background(
        self,
        tables: dict[str, list[tuple[Any, ...]]],
        orders: dict[str, tuple[Any, ...]],
        loading: Path,
    ) -> None:
        """The load thread: write ``tables`` and ``orders`` in one transaction on the load
        connection, then remove the rotated step log they came from (only now: a kill before
        leaves it to the next open, which skips what DuckDB has by sequence number)."""
        try:
            self._write(tables, orders, ignore_fills=False, con=self._load_con)
            if orders:
                written = self._written_id_seq(self._load_con)
                self._id_seq_written = max(written, *(row[3] or 0 for row in orders.values()))
        except BaseException as exc:  # handed to the engine's thread by _reap
            self._load_failure = exc
            return
        try:
            loading.unlink(missing_ok=True)
        except OSError as exc:  # records reloaded at the next open are skipped by seq
            log.warning("journal %s: loaded step log not removed: %s", self.path, exc)

    def _reap(self, *, wait: bool) -> None:
        """End the background load if it is done (``wait``: once it is). A load that failed
        gives its rows back (they load with the next load, with its file) and raises the
        JournalError, as a load on this thread would have."""
        loader = self._loader
        if loader is None or (not wait and loader.is_alive()):
            return
        loader.join()
        self._loader = None
        tables, orders, n = self._loading
        self._loading = ({}, {}, 0)
        exc = self._load_failure
        self._load_failure = None
        if exc is None:
            self.loads += 1
            self.error = None
            return
        # Older rows first, as in the files (an order's latest state wins).
        for table, rows in self._logged.items():
            tables.setdefault(table, []).extend(rows)
        orders.update(self._logged_orders)
        self._logged = tables
        self._logged_orders = orders
        self._nlogged += n
        if not isinstance(exc, self._failures):
            raise exc
        self.error = self._db.error(exc, doing="write")
        raise self.error from exc

    def _load(self, *, staged: bool, then: tuple[str, list[Any]] | None = None) -> None:
        """Write the rows durable in the step log, and the staged ones if ``staged``, into
        the database in one transaction (``then``: a statement and its parameters run in it
        after the rows, when there are rows to write)."""
        try:
            self._settle()
        except JournalError:
            pass  # its rows are staged again: a load of the staged rows writes them
        try:
            self._reap(wait=True)
        except JournalError:
            pass  # its rows are back in memory: this load writes them or raises its own error
        if not self._loads_tuned and self.logs_steps:
            self._tune_loads()
        staged = staged and bool(self._npending or self._dirty_orders)
        if not staged and not self._nlogged:
            return
        if staged:
            self._encode_staged()
        tables: dict[str, list[tuple[Any, ...]]] = {}
        for source in (self._logged, self._pending) if staged else (self._logged,):
            for table, rows in source.items():
                if rows:
                    have = tables.get(table)
                    tables[table] = rows if have is None else have + rows
        orders = self._logged_orders
        if staged and self._dirty_orders:
            orders = dict(orders)
            orders.update((cid, self._order_row(rec)) for cid, rec in self._dirty_orders.items())
        # A fill is journaled once per (session, order, fill key): the order manager books
        # each once. On DuckDB a plain INSERT costs half an INSERT OR IGNORE, so it is tried
        # first; a fill that is there already (a write retried after its commit landed)
        # rolls the transaction back and it is written again ignoring the duplicates.
        try:
            self._write(
                tables, orders, ignore_fills=not isinstance(self._db, DuckDBBackend), then=then
            )
        except self._failures as exc:
            # The rows stay in memory (and in the step log): the next flush writes them if
            # the journal recovers.
            self.error = self._db.error(exc, doing="write")
            raise self.error from exc
        self.error = None
        self.loads += 1
        if self.logs_steps:
            self._last_load = time.monotonic()
        if orders:
            written = self._written_id_seq()
            self._id_seq_written = max(written, *(row[3] or 0 for row in orders.values()))
        if self._steplog is not None and self._steplog.pending:
            try:
                self._steplog.truncate()
            except OSError as exc:  # records reloaded at the next open are skipped by seq
                log.warning("journal %s: step log not truncated: %s", self.path, exc)
        if self._steplog is not None and isinstance(self._db, DuckDBBackend):
            # A background load that failed left its file: its rows were written now.
            try:
                step_log.loading_path(self._db.path).unlink(missing_ok=True)
            except OSError as exc:  # records reloaded at the next open are skipped by seq
                log.warning("journal %s: loaded step log not removed: %s", self.path, exc)
        self._logged = {}
        self._logged_orders = {}
        self._nlogged = 0
        if staged:
            if self._followers:  # (the logged rows reached them when they were logged)
                self._to_followers(self._pending)
            self._written_ahead_durable()
            self._pending = {}
            self._encoded = {}
            self._npending = 0
            self._dirty_orders.clear()
            self._order_seq.clear()  # the written rows carry their sequence numbers

    def _write(
        self,
        tables: Mapping[str, list[tuple[Any, ...]]],
        orders: Mapping[Any, tuple[Any, ...]],
        *,
        ignore_fills: bool,
        upsert_all: bool = False,
        con: Any = None,
        then: tuple[str, list[Any]] | None = None,
    ) -> None:
        """Insert ``tables``' rows and upsert the ``orders`` rows (by session and client order
        id; ``upsert_all``: every one, else only those that may have a row already) in one
        transaction; raises what the backend raised, after rolling back. ``con``: the
        background load's connection instead of the journal's. ``then``: a statement and its
        parameters run last in the transaction."""
        if self._empty:
            if "orders" in self._empty and self._id_seq_written is None:
                # The file held no order before this write: none has a row to replace.
                self._id_seq_written, self._id_seq_session = 0, self.session_id
            # Before the write (whether or not it commits, the file may hold them now).
            self._empty.difference_update(t for t, rows in tables.items() if rows)
            if orders:
                self._empty.discard("orders")
        load_con = con
        con = con or self._con
        # The load connection only when there is one: ``_insert_rows(verb, table, rows)``
        # stays the call a backtest or a synchronous load makes.
        on: dict[str, Any] = {} if load_con is None else {"con": load_con}
        con.execute("BEGIN TRANSACTION")
        try:
            for table, rows in tables.items():
                ignore = table == "fills" and ignore_fills
                self._insert_rows("INSERT OR IGNORE" if ignore else "INSERT", table, rows, **on)
            if orders:
                written = None if upsert_all else self._written_id_seq(load_con)
                # Only an order that may have a row already needs the upsert's DELETE (one
                # statement whose cost is most of an insert's).
                ids: dict[str, list[str]] = {}
                for row in orders.values():
                    if written is None or row[3] is None or row[3] <= written:
                        ids.setdefault(row[1], []).append(row[0])
                for session, cids in ids.items():
                    for i in range(0, len(cids), _CHUNK):
                        some = cids[i : i + _CHUNK]
                        con.execute(
                            "DELETE FROM orders WHERE session_id = ? AND client_order_id IN ("
                            + ", ".join(["?"] * len(some))
                            + ")",
                            [session, *some],
                        )
                self._insert_rows("INSERT", "orders", list(orders.values()), **on)
            if then is not None:
                con.execute(*then)
            con.execute("COMMIT")
        except self._failures as exc:
            try:
                con.execute("ROLLBACK")
            except self._db.errors:
                pass  # the failed statement already ended the transaction
            self._db.rolled_back()
            if not ignore_fills and isinstance(exc, duckdb.ConstraintException):
                # a fill journaled already: written once
                self._write(
                    tables,
                    orders,
                    ignore_fills=True,
                    upsert_all=upsert_all,
                    con=load_con,
                    then=then,
                )
                return
            raise
        except BaseException:
            # Anything else (a bug, a KeyboardInterrupt mid-insert) must not leave the
            # transaction open: the next write would fail on "transaction within a transaction".
            try:
                con.execute("ROLLBACK")
            except self._db.errors:
                pass
            self._db.rolled_back()
            raise

    def _written_id_seq(self, con: Any = None) -> int:
        """:attr:`_id_seq_written`, read from the table the first time (inside the write's
        transaction, after any intent log replayed at open; ``con``: the connection)."""
        if self._id_seq_written is None or self._id_seq_session != self.session_id:
            self._id_seq_session = self.session_id
            row = (
                (con or self._con)
                .execute(
                    "SELECT coalesce(max(id_seq), 0) FROM orders WHERE session_id = ?",
                    [self.session_id],
                )
                .fetchone()
            )
            self._id_seq_written = int(row[0]) if row else 0
        return self._id_seq_written

    def _order_row(self, rec: OrderRecord) -> tuple[Any, ...]:
        # Enum values read as ``_value_`` (``.value`` is a Python-level descriptor call):
        # the same strings, one order row per transition and fill.
        o = rec.order
        if o is None:
            return (
                rec.client_order_id,
                self.session_id,
                rec.run_id or self.run_id,
                rec.id_seq,
                rec.venue,
                rec.instrument,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                rec.origin,
                rec.status._value_,
                str(rec.filled_quantity),
                rec.venue_order_id,
                rec.reason,
                rec.updated_ts_ns,
                self._order_seq[rec.client_order_id],
                None,
            )
        return (
            rec.client_order_id,
            self.session_id,
            rec.run_id or self.run_id,
            rec.id_seq,
            rec.venue,
            rec.instrument,
            o.side._value_,
            o.type._value_,
            str(o.quantity),
            None if o.price is None else str(o.price),  # :func:`_s`, without its call
            None if o.stop_price is None else str(o.stop_price),
            o.time_in_force._value_,
            o.reduce_only,
            o.created_ts_ns,
            o.tag,
            rec.origin,
            rec.status._value_,
            str(rec.filled_quantity),
            rec.venue_order_id,
            rec.reason,
            rec.updated_ts_ns,
            self._order_seq[rec.client_order_id],
            o.intent,
        )

    def _order_event(
        self,
        client_order_id: str,
        ts_ns: int,
        kind: str,
        from_status: OrderStatus | None,
        to_status: OrderStatus | None,
        filled: Decimal | None = None,
        venue_order_id: str = "",
        detail: str = "",
    ) -> int:
        seq = self._next()
        self._add(
            "order_events",
            (
                self.run_id,
                self.session_id,
                seq,
                ts_ns,
                client_order_id,
                kind,
                None if from_status is None else from_status._value_,
                None if to_status is None else to_status._value_,
                _s(filled),
                venue_order_id,
                detail,
            ),
        )
        return seq

    def _stage_order(
        self,
        rec: OrderRecord,
        ts_ns: int,
        kind: str,
        from_status: OrderStatus | None,
        detail: str,
    ) -> None:
        seq = self._order_event(
            rec.client_order_id,
            ts_ns,
            kind,
            from_status,
            rec.status,
            rec.filled_quantity,
            rec.venue_order_id,
            detail or rec.reason,
        )
        self._order_seq[rec.client_order_id] = seq
        self._dirty_orders[rec.client_order_id] = rec

    def record_order(
        self,
        rec: OrderRecord,
        *,
        ts_ns: int,
        kind: str,
        from_status: OrderStatus | None = None,
        detail: str = "",
    ) -> None:
        """Write an order's new state and the change that led to it (one write-ahead step;
        an order about to be sent to a real venue is durable before this returns: committed at
        once, or with group commit on a DuckDB journal appended to the intent log
        (:meth:`written_ahead`) and committed with the step, possibly after it was sent)."""
        # :meth:`_stage_order` (and its :meth:`_order_event`, :meth:`_next`, :meth:`_add`) in
        # one body: the same row, sequence number and staged record, twice per paper order.
        if self.read_only:
            raise RuntimeError(f"journal {self.path} is open read-only")
        cid = rec.client_order_id
        self._seq = seq = self._seq + 1
        row = (
            self.run_id,
            self.session_id,
            seq,
            ts_ns,
            cid,
            kind,
            None if from_status is None else from_status._value_,
            rec.status._value_,
            None if (filled := rec.filled_quantity) is None else str(filled),  # :func:`_s`
            rec.venue_order_id,
            detail or rec.reason,
        )
        pending = self._pending
        rows = pending.get("order_events")
        if rows is None:
            pending["order_events"] = [row]
        else:
            rows.append(row)
        self._npending += 1
        self._order_seq[cid] = seq
        self._dirty_orders[cid] = rec
        before_send = kind == "submitted" and rec.venue not in self.simulated_venues
        if before_send and self.writes_ahead:
            # Durable in the intent log now; into DuckDB with the step's group commit.
            self._write_intent(rec)
            return
        if self.durable and (before_send or not self.group_commit):  # :meth:`_step_done`
            self.flush()

    def _write_intent(self, rec: OrderRecord) -> None:
        assert self._intents is not None
        try:
            self._intents.append(self._order_row(rec), self._pending["order_events"][-1])
            self._ahead.add(rec.client_order_id)
        except OSError as exc:
            # The rows stay staged (the group commit may still write them); the order manager
            # sends nothing while the journal reports an error.
            self.error = self._db.error(exc, doing="write")
            raise self.error from exc

    def _step_records(self, path: Path) -> tuple[list[dict[str, Any]], int]:
        """The records not yet in DuckDB of the step log at ``path`` and of the one a
        background load had rotated away (``<journal>.steps.load``: the older records, so
        first), and the files' total size (-1: neither exists)."""
        records: list[dict[str, Any]] = []
        size = -1
        for each in (step_log.rotated(path), path):
            try:
                data = each.read_bytes()
            except FileNotFoundError:
                continue
            records.extend(step_log.decode(data)[0])
            size = max(size, 0) + len(data)
        # No record: no query of the tables' highest sequence number to compare with.
        return (step_log.unloaded(records, self._max_seq()) if records else []), size

    @staticmethod
    def _merge_records(
        records: list[dict[str, Any]],
    ) -> tuple[dict[str, list[tuple[Any, ...]]], dict[tuple[Any, Any], tuple[Any, ...]]]:
        """The rows of step-log records, per table, and the last state of each order."""
        tables: dict[str, list[tuple[Any, ...]]] = {}
        orders: dict[tuple[Any, Any], tuple[Any, ...]] = {}
        for record in records:
            for table, rows in record["rows"].items():
                if table not in _COLUMNS:
                    raise ValueError(f"step log record names no journal table: {table!r}")
                # A row written before its table gained columns (a host killed, then
                # upgraded): the added columns, last in the table, are NULL.
                pad = (None,) * len(_COLUMNS[table])
                width = len(pad)
                tables.setdefault(table, []).extend(
                    tuple(r) if len(r) == width else (*r, *pad)[:width] for r in rows
                )
            for row in record["orders"]:
                orders[(row[1], row[0])] = tuple(row)
        return tables, orders

    def _load_step_log(self, path: Path) -> bool:
        """Load the step log's records DuckDB lacks (a host killed between a step's append
        and the load of its rows) in one transaction, exactly once (by sequence number), then
        empty the log. True when it loaded any."""
        records, size = self._step_records(path)
        if records:
            tables, orders = self._merge_records(records)
            self._write(tables, orders, ignore_fills=True, upsert_all=True)
            log.warning(
                "journal %s: loaded %d step(s) the step log held and DuckDB did not (%s)",
                self.path,
                len(records),
                ", ".join(f"{len(rows)} {t}" for t, rows in tables.items()),
            )
        if size >= 0:
            # Committed (or nothing to load): the rotated log first, as a load removes it.
            step_log.rotated(path).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
        return bool(records)

    def _overlay_step_log(self, path: Path) -> None:
        """A read-only journal whose step log holds rows DuckDB lacks (its host was killed):
        read the tables those rows belong to as temporary copies with the rows added, so
        every read sees what the host made durable. The file is not changed."""
        records, _ = self._step_records(path)
        if not records:
            return
        tables, orders = self._merge_records(records)
        touched = set(tables) | ({"orders"} if orders else set())
        for table in sorted(touched):
            self._con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM main.{table}")
        # Unloaded by sequence number, so no fill is there already (and the copies have no
        # primary key to ignore duplicates by).
        self._write(tables, orders, ignore_fills=False, upsert_all=True)

    def _replay_intents(self, path: Path) -> bool:
        """Insert the orders the intent log holds and the journal lacks (a host killed after
        writing an order ahead and before the group commit), then empty the log. True when
        the log held any."""
        records = intent_log.read(path)
        if records:
            con = self._con
            restored = []
            con.execute("BEGIN TRANSACTION")
            try:
                for record in records:
                    order_row = tuple(record["orders"])
                    cid, session = order_row[0], order_row[1]
                    known = con.execute(
                        "SELECT 1 FROM orders WHERE session_id = ? AND client_order_id = ?",
                        [session, cid],
                    ).fetchone()
                    if known is None:
                        self._db.insert("orders", [order_row], ignore=False)
                        event_row = tuple(record["order_events"])
                        self._db.insert("order_events", [event_row], ignore=False)
                        restored.append(str(cid))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            if restored:
                log.warning(
                    "journal %s: restored %d order(s) written ahead before a crash and not yet "
                    "committed: %s (resolved with the venue at start)",
                    self.path,
                    len(restored),
                    ", ".join(restored),
                )
        path.unlink(missing_ok=True)  # committed (or nothing to restore)
        return bool(records)

    def record_order_event(
        self,
        client_order_id: str,
        *,
        ts_ns: int,
        kind: str,
        from_status: OrderStatus | None = None,
        to_status: OrderStatus | None = None,
        filled: Decimal | None = None,
        detail: str = "",
    ) -> None:
        """Write an order event that changes no state (a refused report, an unknown order)."""
        self._order_event(client_order_id, ts_ns, kind, from_status, to_status, filled, "", detail)
        self._step_done()

    def _stage_fill(self, fill: Fill, key: str | None = None) -> None:
        self._add(
            "fills",
            (
                self.run_id,
                self.session_id,
                self._next(),
                fill.client_order_id,
                fill_key(fill) if key is None else key,
                fill.trade_id,
                fill.instrument,
                fill.side._value_,
                str(fill.quantity),
                str(fill.price),
                str(fill.fee),
                fill.ts_ns,
                fill.liquidity,
                fill.fee_currency,
                fill.fee_asset,
                None if fill.fee_rate is None else str(fill.fee_rate),
            ),
        )

    def _stage_position(self, position: Position, ts_ns: int, reason: str) -> None:
        try:
            lots = _lots_json(position.lots)
        except TypeError:  # lots of another type than declared: json.dumps as always
            lots = json.dumps([[str(q), str(p)] for q, p in position.lots])
        self._add(
            "positions",
            (
                self.run_id,
                self.session_id,
                self._next(),
                ts_ns,
                position.instrument,
                str(position.quantity),
                str(position.avg_price),
                str(position.realized_pnl),
                str(position.fees),
                position.opened_ts_ns,
                lots,
                reason,
                self.pnl_currencies.get(position.instrument),
            ),
        )

    def record_fill(
        self,
        fill: Fill,
        position: Position,
        rec: OrderRecord | None = None,
        *,
        from_status: OrderStatus | None = None,
        kind: str = "fill",
    ) -> None:
        """Write a fill, the position after it and the order's new state, committed together
        (when durable) before the caller applies the fill anywhere else."""
        # :meth:`_stage_fill`, :meth:`_stage_position` and :meth:`_stage_order` (with their
        # :meth:`_next` and :meth:`_add`) in one body, once per fill: the same rows, staged in
        # the same order with the same sequence numbers.
        if self.read_only:
            raise RuntimeError(f"journal {self.path} is open read-only")
        key = fill.trade_id or fill_key(fill)  # (:func:`fill_key` is the trade id when it has one)
        run_id = self.run_id
        session_id = self.session_id
        pending = self._pending
        ts_ns = fill.ts_ns
        self._seq = seq = self._seq + 1
        fee_rate = fill.fee_rate
        row: tuple[Any, ...] = (
            run_id,
            session_id,
            seq,
            fill.client_order_id,
            key,
            fill.trade_id,
            fill.instrument,
            fill.side._value_,
            str(fill.quantity),
            str(fill.price),
            str(fill.fee),
            ts_ns,
            fill.liquidity,
            fill.fee_currency,
            fill.fee_asset,
            None if fee_rate is None else str(fee_rate),
        )
        rows = pending.get("fills")
        if rows is None:
            pending["fills"] = [row]
        else:
            rows.append(row)
        self._npending += 1
        try:
            lots = _lots_json(position.lots)
        except TypeError:  # lots of another type than declared: json.dumps as always
            lots = json.dumps([[str(q), str(p)] for q, p in position.lots])
        self._seq = seq = seq + 1
        row = (
            run_id,
            session_id,
            seq,
            ts_ns,
            position.instrument,
            str(position.quantity),
            str(position.avg_price),
            str(position.realized_pnl),
            str(position.fees),
            position.opened_ts_ns,
            lots,
            "fill",
            self.pnl_currencies.get(position.instrument),
        )
        rows = pending.get("positions")
        if rows is None:
            pending["positions"] = [row]
        else:
            rows.append(row)
        self._npending += 1
        if rec is not None:
            cid = rec.client_order_id
            self._seq = seq = seq + 1
            row = (
                run_id,
                session_id,
                seq,
                ts_ns,
                cid,
                kind,
                None if from_status is None else from_status._value_,
                rec.status._value_,
                None if (filled := rec.filled_quantity) is None else str(filled),  # :func:`_s`
                rec.venue_order_id,
                f"fill {key} {fill.quantity!s}",
            )
            rows = pending.get("order_events")
            if rows is None:
                pending["order_events"] = [row]
            else:
                rows.append(row)
            self._npending += 1
            self._order_seq[cid] = seq
            self._dirty_orders[cid] = rec
        if self.durable and not self.group_commit:  # :meth:`_step_done`
            self.flush()

    def record_position(self, position: Position, *, ts_ns: int, reason: str) -> None:
        """Write a position set from outside the fills (a reconciliation correction)."""
        self._stage_position(position, ts_ns, reason)
        self._step_done()

    def journaled_pnl_currencies(self) -> dict[str, str]:
        """The currency of each instrument's P&L as the session last journaled it (rows
        without one, from before the column existed, are left out)."""
        out: dict[str, str] = {}
        if self._unread("positions"):
            return out
        self._sync()
        for inst, cur in self._con.execute(
            "SELECT instrument, pnl_currency FROM positions "
            "WHERE session_id = ? AND pnl_currency IS NOT NULL ORDER BY seq",
            [self.session_id],
        ).fetchall():
            out[str(inst)] = str(cur)
        return out

    def set_pnl_currencies(self, currencies: Mapping[str, str]) -> None:
        """Journal positions with these P&L currencies from now on (instrument key to
        currency), after checking them against the session's: a resumed session whose
        journaled P&L is in another currency than the config now gives an instrument is
        refused (:class:`~tradewind.errors.ConfigError` naming the instrument and both
        currencies). The session's rows without a currency (journaled before the column
        existed) are filled with the instrument's."""
        self._sync()
        # One scan of the session's positions: each instrument's journaled currencies, and
        # whether it has rows without one (journaled before the column existed).
        journaled: dict[str, set[str]] = {}
        unfilled: set[str] = set()
        rows: list[tuple[Any, ...]] = []
        if "positions" not in self._empty:  # (after the sync: nothing staged)
            rows = self._con.execute(
                "SELECT DISTINCT instrument, pnl_currency FROM positions WHERE session_id = ?",
                [self.session_id],
            ).fetchall()
        for inst, cur in rows:
            if cur is None:
                unfilled.add(str(inst))
            else:
                journaled.setdefault(str(inst), set()).add(str(cur))
        changed = [
            (key, ", ".join(sorted(journaled[key])), cur)
            for key, cur in sorted(currencies.items())
            if cur and key in journaled and journaled[key] != {cur}
        ]
        if changed:
            what = "; ".join(
                f"instrument {key}: journaled in {old}, the config now settles it in {new}"
                for key, old, new in changed
            )
            raise ConfigError(
                f"cannot resume session {self.session_id} of journal {self.path}: its P&L was "
                f"journaled in another currency than the config gives ({what}). Restore the "
                "instrument's quote currency (@ $.instruments[].quote), or start a new "
                "session (another journal or config file)"
            )
        self.pnl_currencies = dict(currencies)
        if self.read_only:
            return
        fill = [(key, cur) for key, cur in sorted(currencies.items()) if cur and key in unfilled]
        if not fill:
            return
        try:
            self._con.execute("BEGIN TRANSACTION")
            for key, cur in fill:
                self._con.execute(
                    "UPDATE positions SET pnl_currency = ? WHERE session_id = ? "
                    "AND instrument = ? AND pnl_currency IS NULL",
                    [cur, self.session_id, key],
                )
            self._con.execute("COMMIT")
        except self._failures as exc:
            try:
                self._con.execute("ROLLBACK")
            except self._db.errors:
                pass
            raise self._db.error(exc, doing="write") from exc

    def record_cash(self, asset: str, amount: Decimal, *, ts_ns: int, reason: str) -> None:
        """Write a cash baseline (``start``) or a ``correction``."""
        self._add(
            "balances",
            (self.run_id, self.session_id, self._next(), ts_ns, asset, str(amount), reason),
        )
        self._step_done()

    def record_balances(
        self, venue: str, balances: Mapping[str, Decimal], *, ts_ns: int, reason: str
    ) -> None:
        """Write one account's balance of every currency (``start``: seeded from the venue;
        ``booked``: as this host booked them; ``correction``: the venue's after a drift)."""
        for asset in sorted(balances):
            self._add(
                "account_balances",
                (
                    self.run_id,
                    self.session_id,
                    self._next(),
                    ts_ns,
                    venue,
                    asset,
                    str(balances[asset]),
                    reason,
                ),
            )
        self._step_done()

    def account_balances(self) -> dict[str, dict[str, Decimal]]:
        """The session's last journaled balances, per venue and currency."""
        out: dict[str, dict[str, Decimal]] = {}
        if self._unread("account_balances"):
            return out
        self._sync()
        for venue, asset, amount in self._con.execute(
            "SELECT venue, asset, amount FROM account_balances WHERE session_id = ? ORDER BY seq",
            [self.session_id],
        ).fetchall():
            out.setdefault(venue, {})[asset] = Decimal(amount)
        return out

    def record_cash_flow(
        self,
        venue: str,
        instrument: str,
        asset: str,
        amount: Decimal,
        *,
        ts_ns: int,
        kind: str,
    ) -> None:
        """Write cash that moved without a fill (``funding``: > 0 paid, < 0 received); it is
        part of :meth:`cash` from then on."""
        self._add(
            "cash_flows",
            (
                self.run_id,
                self.session_id,
                self._next(),
                ts_ns,
                venue,
                instrument,
                asset,
                str(amount),
                kind,
            ),
        )
        self._step_done()

    def record_quote(self, request: Any, considered: Any, *, ts_ns: int) -> None:
        """Write one quote the router considered (a :class:`tradewind.execution.Considered`
        for a :class:`tradewind.execution.SwapRequest`), committed at once when durable."""
        q = considered.quote
        self._add(
            "quotes",
            (
                self.run_id,
                self.session_id,
                self._next(),
                ts_ns,
                request.client_order_id,
                considered.aggregator,
                request.chain_id,
                request.sell_token,
                request.buy_token,
                str(request.sell_amount),
                None if q is None else str(q.buy_amount),
                None if q is None else str(q.min_buy_amount),
                None if q is None else q.gas,
                str(considered.gas_cost_out),
                None if considered.net_out is None else str(considered.net_out),
                "" if q is None else " > ".join(q.route),
                considered.rank,
                considered.status,
                considered.error,
                considered.tx_hash,
                None if considered.realised_out is None else str(considered.realised_out),
                considered.latency_ns,
            ),
        )
        self._step_done(before_send=True)

    def record(self, event: Event) -> None:
        """Journal one bus event (the bus subscriber).

        Every event goes to ``events``; signals, vetoes and warnings also to their tables.
        Orders, fills and positions are written ahead by the order manager when one is
        attached (:attr:`write_ahead`); otherwise they are derived here from the bus events.

        The rows take their sequence numbers now, in publish order; with
        :attr:`defer_encoding` the ``events`` rows of the order, fill and position events
        and a signal's ``events`` and ``signals`` rows are staged as the (immutable) event
        and encoded when the rows are written (:meth:`_encode_staged`: the step's commit,
        a flush, the end of a backtest) — the same rows, off the path that publishes.
        """
        if self.read_only:
            raise RuntimeError(f"journal {self.path} is open read-only")
        cls = type(event)
        severity = event.severity
        self._seq = seq = self._seq + 1
        warning = severity >= _WARNING
        pending = self._pending
        if not warning and self.defer_encoding and cls in _DEFERRED:
            if cls is SignalEvent:
                reasons = event.signal.reasons  # type: ignore[attr-defined]
                if type(reasons) is dict:
                    # The reasons as they are now (a dict its strategy could change later).
                    snap = tuple(reasons.items())
                    self._seq = sseq = seq + 1
                    rows = pending.get("events")
                    if rows is None:
                        pending["events"] = [(self.run_id, seq, event, snap)]
                    else:
                        rows.append((self.run_id, seq, event, snap))
                    rows = pending.get("signals")
                    if rows is None:
                        rows = pending["signals"] = []
                    rows.append((self.run_id, self.session_id, sseq, event, snap))
                    self._npending += 2
                    self._unencoded = True
                    if self._npending >= self.flush_every and not self.logs_steps:
                        self._flush_quietly()
                    return
            else:
                rows = pending.get("events")
                if rows is None:
                    pending["events"] = [(self.run_id, seq, event)]
                else:
                    rows.append((self.run_id, seq, event))
                self._npending += 1
                self._unencoded = True
                if not self.write_ahead:
                    self._derive(event)
                if self._npending >= self.flush_every and not self.logs_steps:
                    self._flush_quietly()
                return
        row = (self.run_id, seq, event.ts_ns, cls.__name__, int(severity), _payload(event))
        # ``_add`` inline: this runs for every bus event.
        rows = pending.get("events")
        if rows is None:
            pending["events"] = [row]
        else:
            rows.append(row)
        self._npending += 1
        if warning or not self.write_ahead or isinstance(event, _OWN_TABLES):
            self._derive(event)
        if self.durable and self.group_commit and self._steplog is not None:  # logs_steps
            # A warning is made durable at once (an append to the step log); other rows wait
            # for the step's commit, which writes whatever is staged.
            due = warning
            write: Callable[[], None] = self._log_step
        else:
            due = (self.durable and warning) or (self._npending >= self.flush_every)
            write = self.flush
        if due:
            try:
                write()
            except JournalError:
                # Kept buffered and in :attr:`error`: the engine stops the run and reports
                # it; raising here would only turn every later event into a failure report.
                pass

    def _flush_quietly(self) -> None:
        """:meth:`flush` from :meth:`record` (a failure is kept in :attr:`error`, see there)."""
        with contextlib.suppress(JournalError):
            self.flush()

    def _encode_staged(self) -> None:
        """Encode the rows :meth:`record` staged as events (before anything reads or writes
        the staged rows): the same tuples the eager encoding makes, in the same order."""
        if not self._unencoded:
            return
        pending = self._pending
        done = self._encoded
        rows = pending.get("events")
        if rows:
            # Only the rows staged since the last encoding (a backtest keeps its rows staged
            # for the whole run: rescanning them at every step would grow with the run).
            i = done.get("events", 0)
            try:
                rows[i:] = _event_rows(rows[i:])
            except Exception:  # a value no JSON takes (a strategy's reasons): row by row
                rows[i:] = [r if len(r) == 6 else _unencodable(_event_row, r) for r in rows[i:]]
            done["events"] = len(rows)
        rows = pending.get("signals")
        if rows:
            i = done.get("signals", 0)
            try:
                rows[i:] = [r if len(r) == 12 else _signal_row(r) for r in rows[i:]]
            except Exception:
                rows[i:] = [r if len(r) == 12 else _unencodable(_signal_row, r) for r in rows[i:]]
            done["signals"] = len(rows)
        self._unencoded = False

    def _derive(self, event: Event) -> None:
        """The rows of ``event`` beyond its ``events`` row: signals, vetoes and warnings have
        tables of their own; without an order manager writing ahead (:attr:`write_ahead`),
        the order tables are kept from the order, fill and position events."""
        if isinstance(event, SignalEvent):
            s = event.signal
            self._add(
                "signals",
                (
                    self.run_id,
                    self.session_id,
                    self._next(),
                    event.ts_ns,
                    s.instrument,
                    s.side.value,
                    s.intent,
                    str(s.entry),
                    str(s.stop),
                    _s(s.quantity),
                    float(s.score),
                    json.dumps(dict(s.reasons), default=str, allow_nan=True),
                ),
            )
        elif isinstance(event, VetoEvent):
            v = event.veto
            self._add(
                "vetoes",
                (
                    self.run_id,
                    self.session_id,
                    self._next(),
                    event.ts_ns,
                    v.filter,
                    v.reason,
                    v.action,
                    v.signal.instrument,
                    v.signal.side.value,
                    _s(v.signal.quantity),
                    v.signal.ts_ns,
                ),
            )
        elif event.severity >= Severity.WARNING:
            self._add(
                "system_events",
                (
                    self.run_id,
                    self.session_id,
                    self._next(),
                    event.ts_ns,
                    type(event).__name__,
                    int(event.severity),
                    str(getattr(event, "source", "") or getattr(event, "venue", "") or ""),
                    _message(event),
                    _payload(event),
                ),
            )
        if self.write_ahead:
            return
        # No order manager writes ahead: keep the order tables from the bus events.
        if isinstance(event, OrderSubmitted):
            o = event.order
            self._stage_order(
                OrderRecord(
                    client_order_id=o.client_order_id,
                    instrument=o.instrument,
                    order=o,
                    updated_ts_ns=event.ts_ns,
                ),
                event.ts_ns,
                "submitted",
                None,
                "",
            )
        elif isinstance(event, OrderUpdated):
            r = event.report
            prev = self._dirty_orders.get(r.client_order_id)
            if prev is None:
                prev = self._load_order(r.client_order_id)
            if prev is None:
                self._order_event(
                    r.client_order_id, r.ts_ns, "unknown", None, r.status, r.filled_quantity
                )
            else:
                rec = attrs.evolve(
                    prev,
                    status=r.status,
                    filled_quantity=max(prev.filled_quantity, r.filled_quantity),
                    venue_order_id=r.venue_order_id or prev.venue_order_id,
                    reason=r.reason or prev.reason,
                    updated_ts_ns=r.ts_ns,
                )
                self._stage_order(rec, r.ts_ns, "report", prev.status, "")
        elif isinstance(event, FillEvent):
            self._stage_fill(event.fill)
        elif isinstance(event, PositionChanged):
            self._stage_position(event.position, event.ts_ns, "fill")

    # -- reading ----------------------------------------------------------------------------
    def _sync(self) -> None:
        if not self.read_only:
            self.flush()

    def _record_from_row(self, row: Sequence[Any]) -> OrderRecord:
        (
            cid,
            _session,
            run_id,
            id_seq,
            venue,
            instrument,
            side,
            type_,
            quantity,
            price,
            stop_price,
            tif,
            reduce_only,
            created,
            tag,
            origin,
            status,
            filled,
            venue_order_id,
            reason,
            updated,
            _seq,
            intent,
        ) = row
        order = None
        if side is not None and type_ is not None and quantity is not None:
            order = Order(
                client_order_id=cid,
                instrument=instrument,
                side=Side(side),
                type=OrderType(type_),
                quantity=Decimal(quantity),
                price=_d(price),
                stop_price=_d(stop_price),
                time_in_force=TimeInForce(tif) if tif else TimeInForce.GTC,
                reduce_only=bool(reduce_only),
                created_ts_ns=int(created or 0),
                tag=tag or "",
                intent=intent or "entry",
            )
        return OrderRecord(
            client_order_id=cid,
            instrument=instrument,
            venue=venue or "",
            order=order,
            status=OrderStatus(status),
            filled_quantity=Decimal(filled or "0"),
            venue_order_id=venue_order_id or "",
            reason=reason or "",
            origin=origin or "submitted",
            updated_ts_ns=int(updated or 0),
            id_seq=None if id_seq is None else int(id_seq),
            run_id=run_id or "",
        )

    def _load_order(self, client_order_id: str) -> OrderRecord | None:
        row = self._logged_orders.get(client_order_id)  # in the step log, not loaded yet
        if row is None:
            # Handed to the load thread: not in DuckDB until its commit (and then the same row).
            row = self._loading[1].get(client_order_id)
        if row is None and "orders" not in self._empty:
            row = self._con.execute(
                "SELECT * FROM orders WHERE session_id = ? AND client_order_id = ?",
                [self.session_id, client_order_id],
            ).fetchone()
        if row is None:
            return None
        rec = self._record_from_row(row)
        self._order_seq.setdefault(client_order_id, int(row[21] or 0))
        return rec

    def order(self, client_order_id: str) -> OrderRecord | None:
        """The session's record of one order, or None."""
        self._sync()
        return self._load_order(client_order_id)

    def orders(self, run_id: str | None = None) -> list[OrderRecord]:
        """Every order of the session (of one run if ``run_id`` is given), oldest first."""
        if self._unread("orders"):
            return []
        self._sync()
        sql = "SELECT * FROM orders WHERE session_id = ?"
        args: list[Any] = [self.session_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        rows = self._con.execute(sql + " ORDER BY coalesce(id_seq, 0), seq", args).fetchall()
        return [self._record_from_row(r) for r in rows]

    def open_orders(self, run_id: str | None = None) -> list[OrderRecord]:
        """Orders not in a terminal state: of one run, or of every run of the session."""
        return [r for r in self.orders(run_id) if r.is_open]

    def fills(
        self,
        run_id: str | None = None,
        *,
        after_seq: int | None = None,
        between_ns: tuple[int, int] | None = None,
    ) -> list[Fill]:
        """The session's fills (of one run if given; only those written after the row
        ``after_seq``, :attr:`last_seq`, if given; with ``between_ns = (start, end)`` only
        those with ``start <= ts_ns < end``), in the order they were booked."""
        return [f for _, f in self._fill_rows(run_id, after_seq, between_ns)]

    @property
    def last_seq(self) -> int:
        """The sequence number of the last row written: rows written later have higher ones
        (a mark for :meth:`fills`, :meth:`position_steps` and :meth:`submitted_tags`)."""
        return self._seq

    def position_steps(self, after_seq: int) -> list[tuple[int, str, str, Decimal, Decimal]]:
        """The session's position rows written after the row ``after_seq``, in order: ``(ts_ns,
        reason, instrument, quantity, realized_pnl)`` (reason ``"fill"``: the position after
        a fill; else a correction or a pricing)."""
        if self._unread("positions"):
            return []
        self._sync()
        rows = self._con.execute(
            "SELECT ts_ns, reason, instrument, quantity, realized_pnl FROM positions "
            "WHERE session_id = ? AND seq > ? ORDER BY seq",
            [self.session_id, after_seq],
        ).fetchall()
        return [(int(ts), r, inst, Decimal(q), Decimal(p)) for ts, r, inst, q, p in rows]

    def submitted_tags(self, after_seq: int) -> dict[str, str]:
        """The tag of each order of the session submitted after the row ``after_seq``, by
        client order id, in the order they were submitted."""
        if self._unread("orders"):
            return {}
        self._sync()
        rows = self._con.execute(
            "SELECT o.client_order_id, o.tag FROM orders o JOIN order_events e "
            "ON e.session_id = o.session_id AND e.client_order_id = o.client_order_id "
            "WHERE o.session_id = ? AND e.kind = 'submitted' AND e.seq > ? "
            "AND o.tag IS NOT NULL ORDER BY e.seq",
            [self.session_id, after_seq],
        ).fetchall()
        return {str(cid): str(tag) for cid, tag in rows}

    def _fill_rows(
        self,
        run_id: str | None = None,
        after_seq: int | None = None,
        between_ns: tuple[int, int] | None = None,
    ) -> list[tuple[int, Fill]]:
        if self._unread("fills"):
            return []
        self._sync()
        sql = (
            "SELECT seq, client_order_id, trade_id, instrument, side, quantity, price, fee, "
            "ts_ns, liquidity, fee_currency, fee_asset, fee_rate FROM fills WHERE session_id = ?"
        )
        args: list[Any] = [self.session_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        if after_seq is not None:
            sql += " AND seq > ?"
            args.append(after_seq)
        if between_ns is not None:
            sql += " AND ts_ns >= ? AND ts_ns < ?"
            args.extend(between_ns)
        out = []
        rows = self._con.execute(sql + " ORDER BY seq", args).fetchall()
        sides = _SIDE_OF
        make = new_fill
        for seq, cid, tid, inst, side, qty, price, fee, ts, liq, fcur, fasset, frate in rows:
            # ``Fill(client_order_id=cid, ..., fee_rate=...)`` through its slots: the same
            # values, converted as the constructor call converted them.
            out.append(
                (
                    int(seq),
                    make(
                        cid,
                        inst,
                        sides.get(side) or Side(side),
                        Decimal(qty),
                        Decimal(price),
                        Decimal(fee),
                        int(ts),
                        liq,
                        tid,
                        fcur or "",
                        fasset or "quote",
                        None if frate is None else Decimal(frate),
                    ),
                )
            )
        return out

    def fills_after_balances(
        self, venue: str, instruments: Iterable[str]
    ) -> list[tuple[Fill, Decimal]]:
        """The session's fills of ``instruments`` (``venue``'s) journaled after its last
        ``account_balances`` rows (e.g. booked from the venue at reconciliation), each with
        the P&L it realised, in booking order: what those balances do not include yet."""
        if self._unread("fills"):
            return []
        self._sync()
        row = self._con.execute(
            "SELECT coalesce(max(seq), -1) FROM account_balances "
            "WHERE session_id = ? AND venue = ?",
            [self.session_id, venue],
        ).fetchone()
        last = int(row[0]) if row is not None else -1
        wanted = set(instruments)
        positions: dict[str, Position] = {}
        out: list[tuple[Fill, Decimal]] = []
        for seq, kind, value in sorted(self._steps(), key=lambda s: s[0]):
            if kind == "position":
                positions[value.instrument] = value
            elif kind == "fill":
                before = positions.get(value.instrument) or Position(instrument=value.instrument)
                after = before.apply(value)
                positions[value.instrument] = after
                if seq > int(last) and value.instrument in wanted:
                    out.append((value, after.realized_pnl - before.realized_pnl))
        return out

    def funding_flows(self, venue: str) -> set[tuple[int, str, Decimal]]:
        """``(ts_ns, instrument, amount)`` of every funding payment of ``venue`` the session
        journaled (for de-duplication of the venue's funding history)."""
        if self._unread("cash_flows"):
            return set()
        self._sync()
        rows = self._con.execute(
            "SELECT ts_ns, instrument, amount FROM cash_flows "
            "WHERE session_id = ? AND venue = ? AND kind = 'funding'",
            [self.session_id, venue],
        ).fetchall()
        return {(int(ts), str(inst), Decimal(amount)) for ts, inst, amount in rows}

    def fill_keys(self) -> set[tuple[str, str]]:
        """``(client_order_id, fill key)`` of every fill of the session (for de-duplication)."""
        if self._unread("fills"):
            return set()
        self._sync()
        rows = self._con.execute(
            "SELECT client_order_id, fill_key FROM fills WHERE session_id = ?", [self.session_id]
        ).fetchall()
        return {(a, b) for a, b in rows}

    def _steps(self) -> list[tuple[int, str, Any]]:
        steps: list[tuple[int, str, Any]] = [(s, "fill", f) for s, f in self._fill_rows()]
        none: list[tuple[Any, ...]] = []
        for seq, inst, qty, avg, rpnl, fees, opened, lots in (
            none
            if "positions" in self._empty  # (called after a sync: nothing is staged)
            else self._con.execute(
                "SELECT seq, instrument, quantity, avg_price, realized_pnl, fees, "
                "opened_ts_ns, lots FROM positions WHERE session_id = ? AND reason <> 'fill'",
                [self.session_id],
            ).fetchall()
        ):
            pos = Position(
                instrument=inst,
                quantity=Decimal(qty),
                avg_price=Decimal(avg),
                realized_pnl=Decimal(rpnl),
                fees=Decimal(fees),
                opened_ts_ns=int(opened or 0),
                lots=tuple((Decimal(q), Decimal(p)) for q, p in json.loads(lots)),
            )
            steps.append((int(seq), "position", pos))
        for table, kind in (("balances", "cash"), ("cash_flows", "flow")):
            if table in self._empty:
                continue
            for seq, amount in self._con.execute(
                f"SELECT seq, amount FROM {table} WHERE session_id = ?", [self.session_id]
            ).fetchall():
                steps.append((int(seq), kind, Decimal(amount)))
        steps.sort(key=lambda s: s[0])
        return steps

    def positions(self) -> dict[str, Position]:
        """Every position of the session, flat ones included, rebuilt from the journaled fills
        (:meth:`Position.apply` in booking order) and reconciliation corrections."""
        self._sync()
        positions, _ = rebuild_positions((k, v) for _, k, v in self._steps())
        return positions

    def cash(self) -> Decimal | None:
        """The session's cash: its last baseline moved by every later fill's realised P&L and
        fee; None when no baseline was journaled."""
        self._sync()
        _, cash = rebuild_positions((k, v) for _, k, v in self._steps())
        return cash

    def last_client_order_seq(self) -> int:
        """The highest sequence number of a client order id the session generated (0 if none),
        so a restarted host continues after it and never repeats an id."""
        if self._unread("orders"):
            return 0
        self._sync()
        row = self._con.execute(
            "SELECT coalesce(max(id_seq), 0) FROM orders WHERE session_id = ?", [self.session_id]
        ).fetchone()
        return int(row[0]) if row else 0

    def count(self, table: str, *, session_only: bool = True) -> int:
        """Rows of ``table`` (of the session, where the table has sessions)."""
        if table not in _COLUMNS:
            raise ValueError(f"no journal table {table!r}; tables: {', '.join(TABLES)}")
        self._sync()
        has_session = any(name == "session_id" for name, _ in _COLUMNS[table])
        if session_only and has_session:
            row = self._con.execute(
                f"SELECT count(*) FROM {table} WHERE session_id = ?", [self.session_id]
            ).fetchone()
        else:
            row = self._con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query against the journal (for reports and tests)."""
        self._sync()
        return self._con.execute(sql, list(params)).fetchall()

    def query_columns(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """:meth:`query` with the names of the result's columns."""
        self._sync()
        cur = self._con.execute(sql, list(params))
        return tuple(d[0] for d in cur.description), cur.fetchall()


def _message(event: Event) -> str:
    for name in ("error", "reason", "detail"):
        value = getattr(event, name, None)
        if value:
            return str(value)
    return type(event).__name__
