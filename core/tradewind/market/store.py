"""The market store: trade ticks as hive-partitioned parquet, queried with DuckDB.

Layout (one folder per partition, values percent-encoded)::

    <root>/exchange=<exchange>/market=<market>/symbol=<symbol>/date=<YYYY-MM-DD>/
        part-<first ts_ns>-<last ts_ns>-<seq>.parquet

Each part file holds the ticks of one flush, sorted by time, columns ``ts_ns`` (int64),
``price``, ``size`` (float64), ``side`` (int8) and ``trade_id`` (int64). Part files are
written to a temporary name and renamed, so a reader never sees half a file and a crash leaves
at most a stray ``*.tmp``. A symbol is added or dropped by its folder; nothing is shared between
symbols, so writers of different symbols never contend.

Reads go through one open DuckDB connection. The file names carry each part's time span, so
a read lists only the symbol's own folder and hands DuckDB just the files that overlap the
requested window: partition pruning without scanning the other symbols, and reading the last
15 minutes of one symbol among hundreds stays in the low milliseconds.

Retention (live mode, DESIGN §4): :meth:`MarketStore.apply_retention` deletes part files whose
newest tick is older than the window (15 minutes by default). Backtest data is simply never
subjected to it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import attrs
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tradewind.model.ticks import TickBatch

if TYPE_CHECKING:
    from tradewind.market.postgres import PgMarketStore

__all__ = ["DEFAULT_TICKS_KEEP_NS", "MarketStore", "SymbolInfo", "TickBuffer", "open_store"]

_NS_PER_DAY = 86_400 * 1_000_000_000
#: How long live mode keeps ticks (DESIGN §4, from the seed's retention table): 15 minutes.
DEFAULT_TICKS_KEEP_NS = 15 * 60 * 1_000_000_000
_PART_RE = re.compile(r"^part-(-?\d+)-(-?\d+)-(\d+)\.parquet$")
_SCHEMA = pa.schema(
    [
        ("ts_ns", pa.int64()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("side", pa.int8()),
        ("trade_id", pa.int64()),
    ]
)
_ROW_GROUP = 65_536  # row-group min/max stats let DuckDB skip most of a big file


@attrs.frozen(kw_only=True)
class SymbolInfo:
    """What the store holds for one symbol: row count, time span and gaps in trading."""

    exchange: str
    market: str
    symbol: str
    rows: int
    first_ts_ns: int
    last_ts_ns: int
    #: (start_ns, end_ns) of each silence between consecutive ticks longer than the threshold.
    gaps: tuple[tuple[int, int], ...]

    @classmethod
    def from_rows(
        cls,
        key: tuple[str, str, str],
        counts: tuple[Any, ...],
        gaps: list[tuple[Any, ...]],
    ) -> SymbolInfo:
        """From a store's query results: ``(count, min ts, max ts)`` and the gaps' bounds."""
        rows, first, last = counts
        exchange, market, symbol = key
        return cls(
            exchange=exchange,
            market=market,
            symbol=symbol,
            rows=int(rows),
            first_ts_ns=int(first),
            last_ts_ns=int(last),
            gaps=tuple((int(a), int(b)) for a, b in gaps),
        )

    @property
    def span_ns(self) -> int:
        """Time from the first to the last tick."""
        return self.last_ts_ns - self.first_ts_ns


@attrs.frozen
class _Part:
    path: Path
    first_ts: int
    last_ts: int


class TickBuffer:
    """The write buffer both market-store backends share: :meth:`append` batches per
    (exchange, market, symbol); :meth:`_drain` hands each key's ticks over sorted by time
    (stable, so ticks of equal time keep their order of arrival)."""

    _buffers: dict[tuple[str, str, str], list[TickBatch]]

    def append(self, exchange: str, market: str, symbol: str, batch: TickBatch) -> None:
        """Buffer ``batch`` for ``exchange/market/symbol``; :meth:`flush` writes it."""
        for name, value in (("exchange", exchange), ("market", market), ("symbol", symbol)):
            if not value:
                raise ValueError(f"MarketStore.append: {name} must not be empty")
        if len(batch):
            self._buffers[(exchange, market, symbol)].append(batch)

    @property
    def buffered_rows(self) -> int:
        """Ticks appended but not yet flushed."""
        return sum(len(b) for bs in self._buffers.values() for b in bs)

    def _drain(self) -> Iterator[tuple[tuple[str, str, str], TickBatch]]:
        """Each buffered key with its ticks in time order; a key leaves the buffer once the
        caller has written it (asks for the next one)."""
        for key, batches in list(self._buffers.items()):
            batch = TickBatch.concat(batches)
            ts = batch.ts_ns
            if len(ts) > 1 and bool(np.any(ts[1:] < ts[:-1])):
                order = np.argsort(ts, kind="stable")
                batch = TickBatch(
                    instrument=batch.instrument,
                    ts_ns=ts[order],
                    price=batch.price[order],
                    size=batch.size[order],
                    side=batch.side[order],
                    trade_id=batch.trade_id[order],
                )
            yield key, batch
            del self._buffers[key]


class MarketStore(TickBuffer):
    """Tick storage under ``root``: buffered appends, parquet part files, DuckDB reads.

    :param ticks_keep_ns: the default window of :meth:`apply_retention`.
    :param max_parts: when a flush leaves more part files than this in one (symbol, date)
        folder, the newest ``max_parts`` are merged into one (frequent live flushes would
        otherwise leave many small files, and every file costs a read). ``None`` never merges.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        ticks_keep_ns: int = DEFAULT_TICKS_KEEP_NS,
        max_parts: int | None = 8,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.ticks_keep_ns = int(ticks_keep_ns)
        if max_parts is not None and max_parts < 1:
            raise ValueError(f"MarketStore max_parts must be >= 1 or None, got {max_parts}")
        self.max_parts = max_parts
        self._buffers: dict[tuple[str, str, str], list[TickBatch]] = defaultdict(list)
        self._con = duckdb.connect()
        # Point reads touch a few small files: one thread avoids scheduling overhead and scans
        # the files in the order given (DuckDB preserves insertion order without ORDER BY).
        self._read_con = duckdb.connect(config={"threads": 1, "preserve_insertion_order": True})

    # -- writing -------------------------------------------------------------------------------
    def flush(self) -> int:
        """Write every buffered batch: one new part file per (symbol, UTC date). Returns rows."""
        written = 0
        for key, batch in self._drain():
            ts = batch.ts_ns
            day = ts // _NS_PER_DAY
            cuts = np.flatnonzero(day[1:] != day[:-1]) + 1
            bounds = [0, *cuts.tolist(), len(ts)]
            for lo, hi in itertools.pairwise(bounds):
                path = self._write_part(key, batch.slice(lo, hi))
                if self.max_parts is not None:
                    parts = sorted(
                        self._parts_in_day(path.parent), key=lambda p: (p.first_ts, p.path.name)
                    )
                    if len(parts) > self.max_parts:
                        # Only the newest small files: earlier merges are not rewritten.
                        self._merge_parts(key, parts[-self.max_parts :])
            written += len(batch)
        return written

    def compact(self, exchange: str, market: str, symbol: str) -> int:
        """Merge each date folder of a symbol into one part file. Returns files removed."""
        removed = 0
        for day in _subdirs(self._symbol_dir(exchange, market, symbol), "date"):
            parts = list(self._parts_in_day(day))
            if len(parts) > 1:
                self._merge_parts((exchange, market, symbol), parts)
                removed += len(parts) - 1
        return removed

    def _merge_parts(self, key: tuple[str, str, str], parts: list[_Part]) -> Path:
        """Replace ``parts`` (one date folder) by one file holding their ticks in stream order.

        The merged file is in place before the old ones are deleted: a crash in between leaves
        the ticks twice (same trade ids), never loses them.
        """
        parts = sorted(parts, key=lambda p: (p.first_ts, p.path.name))
        table = pa.concat_tables([pq.read_table(p.path, schema=_SCHEMA) for p in parts])
        ts = table.column("ts_ns").to_numpy()
        if len(ts) > 1 and bool(np.any(ts[1:] < ts[:-1])):
            table = table.take(pa.array(np.argsort(ts, kind="stable")))
        cols = {name: table.column(name).to_numpy() for name in _SCHEMA.names}
        batch = TickBatch(instrument=key[2], **cols)
        path = self._write_part(key, batch)
        for p in parts:
            p.path.unlink()
        return path

    def _write_part(self, key: tuple[str, str, str], batch: TickBatch) -> Path:
        folder = self._symbol_dir(*key) / f"date={_date_of(batch.first_ts)}"
        folder.mkdir(parents=True, exist_ok=True)
        seq = 0
        while True:
            path = folder / f"part-{batch.first_ts}-{batch.last_ts}-{seq:03d}.parquet"
            if not path.exists():
                break
            seq += 1
        table = pa.Table.from_arrays(
            [
                pa.array(batch.ts_ns),
                pa.array(batch.price),
                pa.array(batch.size),
                pa.array(batch.side),
                pa.array(batch.trade_id),
            ],
            schema=_SCHEMA,
        )
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp, row_group_size=_ROW_GROUP, compression="zstd")
        os.replace(tmp, path)
        return path

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
        parts = [
            p
            for p in self._parts(exchange, market, symbol)
            if (start_ns is None or p.last_ts >= start_ns)
            and (end_ns is None or p.first_ts < end_ns)
        ]
        if not parts:
            return TickBatch.empty(symbol)
        where = []
        params: list[object] = [[str(p.path) for p in parts]]
        if start_ns is not None:
            where.append("ts_ns >= ?")
            params.append(int(start_ns))
        if end_ns is not None:
            where.append("ts_ns < ?")
            params.append(int(end_ns))
        cond = f"WHERE {' AND '.join(where)}" if where else ""
        if all(a.last_ts <= b.first_ts for a, b in itertools.pairwise(parts)):
            # Parts are sorted and do not overlap: reading them in order is stream order.
            sql = f"SELECT ts_ns, price, size, side, trade_id FROM read_parquet(?) {cond}"
        else:
            # File names sort by first timestamp, so (ts, file, row) is the order of arrival.
            sql = (
                "SELECT ts_ns, price, size, side, trade_id "
                "FROM read_parquet(?, filename = true, file_row_number = true) "
                f"{cond} ORDER BY ts_ns, filename, file_row_number"
            )
        cols = self._read_con.execute(sql, params).fetchnumpy()
        return TickBatch.from_arrays(
            symbol, cols["ts_ns"], cols["price"], cols["size"], cols["side"], cols["trade_id"]
        )

    def last(self, exchange: str, market: str, symbol: str, duration_ns: int) -> TickBatch:
        """The flushed ticks of the last ``duration_ns`` before (and at) the newest one."""
        parts = self._parts(exchange, market, symbol)
        if not parts:
            return TickBatch.empty(symbol)
        newest = max(p.last_ts for p in parts)
        return self.read_ticks(exchange, market, symbol, start_ns=newest - int(duration_ns))

    def symbols(self) -> list[tuple[str, str, str]]:
        """Every stored (exchange, market, symbol), sorted."""
        out = []
        for ex in _subdirs(self.root, "exchange"):
            for mk in _subdirs(ex, "market"):
                for sy in _subdirs(mk, "symbol"):
                    if any(self._parts_in(sy)):
                        out.append((_value(ex), _value(mk), _value(sy)))
        return sorted(out)

    def info(self, gap_ns: int = 60 * 1_000_000_000) -> list[SymbolInfo]:
        """Rows, span and gaps (silences longer than ``gap_ns``) of every stored symbol."""
        out = []
        for exchange, market, symbol in self.symbols():
            files = [str(p.path) for p in self._parts(exchange, market, symbol)]
            counts = self._con.execute(
                "SELECT count(*), min(ts_ns), max(ts_ns) FROM read_parquet(?)", [files]
            ).fetchone() or (0, None, None)
            gaps = self._con.execute(
                "SELECT prev, ts_ns FROM (SELECT ts_ns, lag(ts_ns) OVER (ORDER BY ts_ns) AS prev "
                "FROM read_parquet(?)) WHERE ts_ns - prev > ? ORDER BY ts_ns",
                [files, int(gap_ns)],
            ).fetchall()
            out.append(SymbolInfo.from_rows((exchange, market, symbol), counts, gaps))
        return out

    def query(self, sql: str, params: list[object] | None = None) -> duckdb.DuckDBPyRelation:
        """Run SQL on the store's connection; the view ``ticks`` covers every part file with
        its hive columns (exchange, market, symbol, date)."""
        pattern = (
            self.root / "exchange=*" / "market=*" / "symbol=*" / "date=*" / "part-*.parquet"
        ).as_posix()
        self._con.execute(
            "CREATE OR REPLACE TEMP VIEW ticks AS SELECT * FROM "
            f"read_parquet('{_sql_str(pattern)}', hive_partitioning = true)"
        )
        return self._con.sql(sql, params=params)

    # -- retention -----------------------------------------------------------------------------
    def apply_retention(self, now_ns: int, ticks_keep_ns: int | None = None) -> int:
        """Delete part files whose newest tick is older than ``now_ns - ticks_keep_ns``.

        Whole files go, so up to one flush interval more than the window may stay. Empty date
        folders are removed. Returns the number of files deleted.
        """
        keep = self.ticks_keep_ns if ticks_keep_ns is None else int(ticks_keep_ns)
        cutoff = int(now_ns) - keep
        removed = 0
        for ex in _subdirs(self.root, "exchange"):
            for mk in _subdirs(ex, "market"):
                for sy in _subdirs(mk, "symbol"):
                    for day in _subdirs(sy, "date"):
                        for part in self._parts_in_day(day):
                            if part.last_ts < cutoff:
                                part.path.unlink()
                                removed += 1
                        if not any(day.iterdir()):
                            day.rmdir()
        return removed

    def close(self) -> None:
        """Close the DuckDB connections (buffered ticks are not flushed)."""
        self._con.close()
        self._read_con.close()

    def __enter__(self) -> MarketStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------
    def _symbol_dir(self, exchange: str, market: str, symbol: str) -> Path:
        return (
            self.root
            / f"exchange={_enc(exchange)}"
            / f"market={_enc(market)}"
            / f"symbol={_enc(symbol)}"
        )

    def _parts(self, exchange: str, market: str, symbol: str) -> list[_Part]:
        folder = self._symbol_dir(exchange, market, symbol)
        if not folder.is_dir():
            return []
        return sorted(self._parts_in(folder), key=lambda p: (p.first_ts, p.path.name))

    def _parts_in(self, symbol_dir: Path) -> Iterator[_Part]:
        for day in _subdirs(symbol_dir, "date"):
            yield from self._parts_in_day(day)

    @staticmethod
    def _parts_in_day(day: Path) -> Iterator[_Part]:
        with os.scandir(day) as it:
            for entry in it:
                m = _PART_RE.match(entry.name)
                if m:
                    yield _Part(Path(entry.path), int(m.group(1)), int(m.group(2)))


def open_store(
    target: Path | str,
    *,
    password: str | None = None,
    ticks_keep_ns: int = DEFAULT_TICKS_KEEP_NS,
) -> MarketStore | PgMarketStore:
    """The market store at ``target``: a folder of parquet parts, or a ``postgresql://`` URL
    (:mod:`tradewind.market.postgres`; ``password`` is handed to libpq, never shown)."""
    from tradewind.journal.postgres import is_url

    if is_url(target):
        from tradewind.market.postgres import PgMarketStore

        return PgMarketStore(str(target), password=password, ticks_keep_ns=ticks_keep_ns)
    return MarketStore(target, ticks_keep_ns=ticks_keep_ns)


def _date_of(ts_ns: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=ts_ns // _NS_PER_DAY)).isoformat()


def _enc(value: str) -> str:
    # Percent-encode so that "BTC/USDT:USDT" is one folder name and "=" cannot confuse hive.
    return quote(value, safe="")


def _value(folder: Path) -> str:
    return unquote(folder.name.split("=", 1)[1])


def _subdirs(folder: Path, key: str) -> list[Path]:
    prefix = f"{key}="
    try:
        with os.scandir(folder) as it:
            return sorted(Path(e.path) for e in it if e.is_dir() and e.name.startswith(prefix))
    except FileNotFoundError:
        return []


def _sql_str(text: str) -> str:
    return text.replace("'", "''")
