"""The market store on a PostgreSQL server: ``store = "postgresql://user@host/db"``.

The same interface as the parquet store (:class:`tradewind.market.store.MarketStore`):
``append`` buffers, ``flush`` writes, ``read_ticks``/``last`` return the same
:class:`~tradewind.model.ticks.TickBatch` bit for bit, ``symbols``/``info``/
``apply_retention``/``close``. :meth:`PgMarketStore.query` is DuckDB-only and says so.

Tables (created by versioned migrations recorded in ``tradewind_market_migrations``):

- ``market_symbols (id, exchange, market, symbol)``: one row per stored symbol;
- ``market_ticks (symbol_id, ts_ns, seq, price, size, side, trade_id)``: every tick, range
  partitioned by UTC day of ``ts_ns`` (PostgreSQL's native partitioning, one partition per day
  created as ticks arrive, ``market_ticks_dYYYYMMDD``), or a TimescaleDB hypertable with
  one-day chunks when the database has the extension. ``seq`` (a sequence) numbers ticks in
  order of arrival, so ticks of equal time read back in the order they were appended.
- ``market_rejections (exchange, market, symbol, record)``: the rows ``tradewind data import``
  rejected, per symbol (the parquet store's ``_rejections.json``).

Writes: a flush is one transaction holding one binary ``COPY`` of fixed-width rows per symbol
(a killed writer leaves a flush whole or absent; a failed flush keeps its ticks buffered for
the next one). Several writers may share a database: those making the same new day's
partition take turns under an advisory lock. Reads: one binary ``COPY (SELECT ...) TO
STDOUT`` decoded by numpy: no Python object per value (psycopg still hands over one message
per row, about 1 µs each; docs/performance.md).

The password comes from ``store_password = "env:NAME"`` (handed to libpq, never in the URL
the store shows, nor in its errors).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import defaultdict
from typing import Any

import numpy as np

from tradewind.errors import DataError
from tradewind.journal import postgres as pg
from tradewind.market.store import DEFAULT_TICKS_KEEP_NS, SymbolInfo, TickBuffer
from tradewind.model.ticks import TickBatch

__all__ = ["MIGRATIONS", "PgMarketStore"]

_NS_PER_DAY = 86_400 * 1_000_000_000
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_TRAILER = b"\xff\xff"

#: A row of ``COPY market_ticks (symbol_id, ts_ns, price, size, side, trade_id)`` in binary
#: format: field count, then each field's length and big-endian value.
_WRITE_ROW = np.dtype(
    [
        ("n", ">i2"), ("l0", ">i4"), ("symbol_id", ">i4"), ("l1", ">i4"), ("ts_ns", ">i8"),
        ("l2", ">i4"), ("price", ">f8"), ("l3", ">i4"), ("size", ">f8"),
        ("l4", ">i4"), ("side", ">i2"), ("l5", ">i4"), ("trade_id", ">i8"),
    ]
)  # fmt: skip
#: A row of ``COPY (SELECT ts_ns, price, size, side, trade_id ...) TO STDOUT`` in binary format.
_READ_ROW = np.dtype(
    [
        ("n", ">i2"), ("l0", ">i4"), ("ts_ns", ">i8"), ("l1", ">i4"), ("price", ">f8"),
        ("l2", ">i4"), ("size", ">f8"), ("l3", ">i4"), ("side", ">i2"),
        ("l4", ">i4"), ("trade_id", ">i8"),
    ]
)  # fmt: skip
_WIDTHS = {"ts_ns": 8, "price": 8, "size": 8, "side": 2, "trade_id": 8, "symbol_id": 4}


def _create_tables(con: pg.PgConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS market_symbols (id integer GENERATED ALWAYS AS IDENTITY "
        "PRIMARY KEY, exchange text NOT NULL, market text NOT NULL, symbol text NOT NULL, "
        "UNIQUE (exchange, market, symbol))"
    )
    con.execute("CREATE SEQUENCE IF NOT EXISTS market_ticks_seq AS bigint")
    timescale = pg.has_timescale(con)
    tail = "" if timescale else " PARTITION BY RANGE (ts_ns)"
    con.execute(
        "CREATE TABLE IF NOT EXISTS market_ticks (symbol_id integer NOT NULL, "
        "ts_ns bigint NOT NULL, seq bigint NOT NULL DEFAULT nextval('market_ticks_seq'), "
        "price double precision NOT NULL, size double precision NOT NULL, "
        f"side smallint NOT NULL, trade_id bigint NOT NULL){tail}"
    )
    if timescale:
        con.execute(
            "SELECT create_hypertable('market_ticks', 'ts_ns', chunk_time_interval => ?, "
            "if_not_exists => TRUE)",
            [_NS_PER_DAY],
        )
    con.execute(
        "CREATE INDEX IF NOT EXISTS market_ticks_symbol_ts ON market_ticks (symbol_id, ts_ns, seq)"
    )


def _create_rejections(con: pg.PgConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS market_rejections (exchange text NOT NULL, "
        "market text NOT NULL, symbol text NOT NULL, record text NOT NULL, "
        "PRIMARY KEY (exchange, market, symbol))"
    )


#: ``(version, name, apply)``, applied in order, each in its own transaction, once.
MIGRATIONS = (
    (1, "market ticks, partitioned by day of ts_ns", _create_tables),
    (2, "rows rejected by data import, per symbol", _create_rejections),
)
#: The transaction-level advisory lock that serialises migrations across hosts.
_MIGRATION_LOCK = pg.LOCK_KEY - 2
#: The transaction-level advisory lock under which a writer creates daily partitions.
_PARTITION_LOCK = pg.LOCK_KEY - 3


def migrate(con: pg.PgConnection) -> list[int]:
    """Apply the market store's migrations the database has not had. Returns those applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS tradewind_market_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    applied: list[int] = []
    for version, name, apply in MIGRATIONS:
        con.execute("BEGIN")
        try:
            con.execute("SELECT pg_advisory_xact_lock(?)", [_MIGRATION_LOCK])
            done = con.execute(
                "SELECT count(*) FROM tradewind_market_migrations WHERE version = ?", [version]
            ).fetchone()
            if not (done and done[0]):
                apply(con)
                con.execute(
                    "INSERT INTO tradewind_market_migrations (version, name) VALUES (?, ?)",
                    [version, name],
                )
                applied.append(version)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return applied


def day_bounds(ts_ns: int) -> tuple[str, int, int]:
    """The daily partition holding ``ts_ns``: its suffix and [start, end) in ns."""
    day = ts_ns // _NS_PER_DAY
    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    return f"d{date:%Y%m%d}", day * _NS_PER_DAY, (day + 1) * _NS_PER_DAY


def _suffix_end(suffix: str) -> int | None:
    """The end (ns) of the daily partition named by ``suffix``; None for another name."""
    try:
        date = dt.datetime.strptime(suffix, "d%Y%m%d").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return (calendar.timegm(date.timetuple()) + 86_400) * 10**9


class PgMarketStore(TickBuffer):
    """Tick storage in a PostgreSQL database (see the module docstring).

    :param url: ``postgresql://USER@HOST:PORT/DATABASE`` (no password in it).
    :param password: handed to libpq; None lets libpq find one (``PGPASSWORD``, ``.pgpass``).
    :param ticks_keep_ns: the default window of :meth:`apply_retention`.
    """

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        ticks_keep_ns: int = DEFAULT_TICKS_KEEP_NS,
    ) -> None:
        #: The URL without a password (what messages show).
        self.url = pg.redact(url)
        self.ticks_keep_ns = int(ticks_keep_ns)
        self._buffers: dict[tuple[str, str, str], list[TickBatch]] = defaultdict(list)
        self._ids: dict[tuple[str, str, str], int] = {}
        self._partitions: set[str] = set()
        self._con: pg.PgConnection | None = None
        try:
            import psycopg  # noqa: F401 - only to say what is missing
        except ImportError:
            raise DataError(
                f"market store {self.url}: the PostgreSQL market store needs psycopg: "
                "pip install 'tradewind[postgres]'"
            ) from None
        try:
            self._con = pg.connect(url, password, application="tradewind market store")
            migrate(self._con)
            self._timescale = pg.has_timescale(self._con)
        except pg.errors() as exc:
            self.close()
            raise self._error(exc, "open") from None

    def __repr__(self) -> str:
        return f"PgMarketStore({self.url!r})"

    @property
    def con(self) -> pg.PgConnection:
        if self._con is None:
            raise DataError(f"market store {self.url}: it is closed")
        return self._con

    def _error(self, exc: BaseException, doing: str) -> DataError:
        err = pg.pg_journal_error(self.url, exc, doing=doing)
        text = str(err).replace(f"journal {self.url}", f"market store {self.url}", 1)
        return DataError(text.replace("[journal] password", "store_password"))

    # -- writing -------------------------------------------------------------------------------
    def flush(self) -> int:
        """Write every buffered batch in one transaction (a binary COPY per symbol)."""
        if not self._buffers:
            return 0
        con = self.con
        written = 0
        # A failed flush rolls back every symbol's COPY: their ticks go back to the buffer
        # (the next flush retries them), never half into the table.
        pending = {key: list(batches) for key, batches in self._buffers.items()}
        try:
            con.execute("BEGIN")
            try:
                for key, batch in self._drain():
                    self._ensure_partitions(batch.ts_ns)
                    self._copy(self._symbol_id(key), batch)
                    written += len(batch)
                con.execute("COMMIT")
            except BaseException:
                self._buffers.clear()
                self._buffers.update(pending)
                self._ids.clear()  # a symbol row inserted in the transaction is gone too
                self._partitions.clear()  # and so are partitions made in it
                if not con.raw.closed:
                    con.execute("ROLLBACK")
                raise
        except pg.errors() as exc:
            raise self._error(exc, "write ticks to") from None
        return written

    def _symbol_id(self, key: tuple[str, str, str]) -> int:
        if key not in self._ids:
            con = self.con
            con.execute(
                "INSERT INTO market_symbols (exchange, market, symbol) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                list(key),
            )
            row = con.execute(
                "SELECT id FROM market_symbols WHERE exchange = ? AND market = ? AND symbol = ?",
                list(key),
            ).fetchone()
            assert row is not None
            self._ids[key] = int(row[0])
        return self._ids[key]

    def _ensure_partitions(self, ts_ns: np.ndarray) -> None:
        if self._timescale:
            return
        locked = False
        for day in np.unique(ts_ns // _NS_PER_DAY).tolist():
            suffix, start, end = day_bounds(int(day) * _NS_PER_DAY)
            if suffix in self._partitions:
                continue
            if not locked:
                # Writers making the same new day at once would collide on its name: they
                # take turns (the lock is held to the flush's commit, so the second sees the
                # first's partition).
                self.con.execute("SELECT pg_advisory_xact_lock(?)", [_PARTITION_LOCK])
                locked = True
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS market_ticks_{suffix} PARTITION OF market_ticks "
                f"FOR VALUES FROM ({start}) TO ({end})"
            )
            self._partitions.add(suffix)

    def _copy(self, symbol_id: int, batch: TickBatch) -> None:
        rows = np.empty(len(batch), dtype=_WRITE_ROW)
        rows["n"] = 6
        for i, name in enumerate(("symbol_id", "ts_ns", "price", "size", "side", "trade_id")):
            rows[f"l{i}"] = _WIDTHS[name]
        rows["symbol_id"] = symbol_id
        rows["ts_ns"] = batch.ts_ns
        rows["price"] = batch.price
        rows["size"] = batch.size
        rows["side"] = batch.side
        rows["trade_id"] = batch.trade_id
        header = _SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
        cur = self.con.raw.cursor()
        with cur.copy(
            "COPY market_ticks (symbol_id, ts_ns, price, size, side, trade_id) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(header + rows.tobytes() + _TRAILER)

    # -- reading -------------------------------------------------------------------------------
    def read_ticks(
        self,
        exchange: str,
        market: str,
        symbol: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> TickBatch:
        """Flushed ticks of one symbol with ``start_ns <= ts_ns < end_ns``, in stream order."""
        try:
            sid = self._known_id((exchange, market, symbol))
            if sid is None:
                return TickBatch.empty(symbol)
            where = f"symbol_id = {int(sid)}"
            if start_ns is not None:
                where += f" AND ts_ns >= {int(start_ns)}"
            if end_ns is not None:
                where += f" AND ts_ns < {int(end_ns)}"
            data = self._copy_out(
                "SELECT ts_ns, price, size, side, trade_id FROM market_ticks "
                f"WHERE {where} ORDER BY ts_ns, seq"
            )
        except pg.errors() as exc:
            raise self._error(exc, "read ticks from") from None
        rows = _decode(data, self.url)
        return TickBatch.from_arrays(
            symbol,
            rows["ts_ns"].astype(np.int64),
            rows["price"].astype(np.float64),
            rows["size"].astype(np.float64),
            rows["side"].astype(np.int8),
            rows["trade_id"].astype(np.int64),
        )

    def _copy_out(self, select: str) -> bytes:
        cur = self.con.raw.cursor()
        with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT BINARY)") as copy:
            return b"".join(bytes(block) for block in copy)

    def _known_id(self, key: tuple[str, str, str]) -> int | None:
        if key in self._ids:
            return self._ids[key]
        row = self.con.execute(
            "SELECT id FROM market_symbols WHERE exchange = ? AND market = ? AND symbol = ?",
            list(key),
        ).fetchone()
        if row is None:
            return None
        self._ids[key] = int(row[0])
        return self._ids[key]

    def last(self, exchange: str, market: str, symbol: str, duration_ns: int) -> TickBatch:
        """The flushed ticks of the last ``duration_ns`` before (and at) the newest one."""
        try:
            sid = self._known_id((exchange, market, symbol))
            row = (
                None
                if sid is None
                else self.con.execute(
                    "SELECT max(ts_ns) FROM market_ticks WHERE symbol_id = ?", [sid]
                ).fetchone()
            )
        except pg.errors() as exc:
            raise self._error(exc, "read ticks from") from None
        if row is None or row[0] is None:
            return TickBatch.empty(symbol)
        return self.read_ticks(exchange, market, symbol, start_ns=int(row[0]) - int(duration_ns))

    def fingerprint(self, exchange: str, market: str, symbol: str) -> bytes:
        """What identifies the symbol's stored ticks: their count and the sum and range of
        their arrival numbers (rows are never updated, so any append or deletion changes it).
        A backtest's run id hashes it, as it hashes the parquet store's files."""
        try:
            sid = self._known_id((exchange, market, symbol))
            row = (
                None
                if sid is None
                else self.con.execute(
                    "SELECT count(*), sum(seq), min(seq), max(seq) FROM market_ticks "
                    "WHERE symbol_id = ?",
                    [sid],
                ).fetchone()
            )
        except pg.errors() as exc:
            raise self._error(exc, "read ticks from") from None
        return repr((exchange, market, symbol, row)).encode()

    def symbols(self) -> list[tuple[str, str, str]]:
        """Every stored (exchange, market, symbol) that has ticks, sorted."""
        try:
            rows = self.con.execute(
                "SELECT exchange, market, symbol FROM market_symbols s WHERE EXISTS "
                "(SELECT 1 FROM market_ticks t WHERE t.symbol_id = s.id)"
            ).fetchall()
        except pg.errors() as exc:
            raise self._error(exc, "list the symbols of") from None
        return sorted((str(a), str(b), str(c)) for a, b, c in rows)

    def info(self, gap_ns: int = 60 * 1_000_000_000) -> list[SymbolInfo]:
        """Rows, span and gaps (silences longer than ``gap_ns``) of every stored symbol."""
        out = []
        try:
            for exchange, market, symbol in self.symbols():
                sid = self._known_id((exchange, market, symbol))
                counts = self.con.execute(
                    "SELECT count(*), min(ts_ns), max(ts_ns) FROM market_ticks WHERE symbol_id = ?",
                    [sid],
                ).fetchone() or (0, None, None)
                gaps = self.con.execute(
                    "SELECT prev, ts_ns FROM (SELECT ts_ns, lag(ts_ns) OVER (ORDER BY ts_ns, seq) "
                    "AS prev FROM market_ticks WHERE symbol_id = ?) g WHERE ts_ns - prev > ? "
                    "ORDER BY ts_ns",
                    [sid, int(gap_ns)],
                ).fetchall()
                out.append(SymbolInfo.from_rows((exchange, market, symbol), counts, gaps))
        except pg.errors() as exc:
            raise self._error(exc, "read the info of") from None
        return out

    # -- rejection records (``tradewind data import``) -------------------------------------------
    def read_rejections(self, key: tuple[str, str, str]) -> dict[str, Any]:
        """The rejection record of ``key`` (``symbol`` empty: rows of multi-symbol files), as
        the parquet store keeps it in ``_rejections.json``: ``{"total": ..., "imports": ...}``."""
        try:
            row = self.con.execute(
                "SELECT record FROM market_rejections WHERE exchange = ? AND market = ? "
                "AND symbol = ?",
                list(key),
            ).fetchone()
        except pg.errors() as exc:
            raise self._error(exc, "read the rejection records of") from None
        data = json.loads(row[0]) if row else None
        return data if isinstance(data, dict) else {"total": {}, "imports": []}

    def write_rejections(self, key: tuple[str, str, str], data: dict[str, Any]) -> None:
        """Replace the rejection record of ``key``."""
        try:
            self.con.execute(
                "INSERT INTO market_rejections (exchange, market, symbol, record) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (exchange, market, symbol) "
                "DO UPDATE SET record = EXCLUDED.record",
                [*key, json.dumps(data, indent=1)],
            )
        except pg.errors() as exc:
            raise self._error(exc, "write the rejection records of") from None

    def rejection_keys(self) -> list[tuple[str, str, str]]:
        """Every key with a rejection record, sorted."""
        try:
            rows = self.con.execute(
                "SELECT exchange, market, symbol FROM market_rejections"
            ).fetchall()
        except pg.errors() as exc:
            raise self._error(exc, "read the rejection records of") from None
        return sorted((str(a), str(b), str(c)) for a, b, c in rows)

    def query(self, sql: str, params: list[object] | None = None) -> Any:
        """DuckDB SQL over the parquet store only: refused here with the way around."""
        raise DataError(
            f"market store {self.url}: query() runs DuckDB SQL over a parquet store; on "
            "PostgreSQL query the tables market_ticks and market_symbols with psql or psycopg"
        )

    # -- retention -----------------------------------------------------------------------------
    def apply_retention(self, now_ns: int, ticks_keep_ns: int | None = None) -> int:
        """Delete the ticks older than ``now_ns - ticks_keep_ns``: daily partitions wholly
        before the cutoff are dropped, older rows of the partition holding it deleted.
        Returns the number of ticks deleted (the parquet store counts files)."""
        keep = self.ticks_keep_ns if ticks_keep_ns is None else int(ticks_keep_ns)
        cutoff = int(now_ns) - keep
        con = self.con
        removed = 0
        try:
            con.execute("BEGIN")
            try:
                if not self._timescale:
                    names = con.execute(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = "
                        "i.inhrelid WHERE i.inhparent = 'market_ticks'::regclass"
                    ).fetchall()
                    for (name,) in names:
                        end = _suffix_end(str(name).removeprefix("market_ticks_"))
                        if end is not None and end <= cutoff:
                            row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
                            removed += int(row[0]) if row else 0
                            con.execute(f"DROP TABLE {name}")
                            self._partitions.discard(str(name).removeprefix("market_ticks_"))
                cur = con.raw.cursor()
                cur.execute("DELETE FROM market_ticks WHERE ts_ns < %s", [cutoff])
                removed += max(cur.rowcount, 0)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                self._partitions.clear()
                raise
        except pg.errors() as exc:
            raise self._error(exc, "apply retention to") from None
        return removed

    def close(self) -> None:
        """Close the connection (buffered ticks are not flushed)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> PgMarketStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decode(data: bytes, url: str) -> np.ndarray:
    """The rows of a binary COPY of (ts_ns, price, size, side, trade_id)."""
    if not data.startswith(_SIGNATURE) or len(data) < 21:
        raise DataError(f"market store {url}: the server's COPY output is not in binary format")
    ext = int.from_bytes(data[15:19], "big")
    body = data[19 + ext : -2]
    if len(body) % _READ_ROW.itemsize:
        raise DataError(f"market store {url}: the server's COPY output has a NULL or odd width")
    return np.frombuffer(body, dtype=_READ_ROW)
