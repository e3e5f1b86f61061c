"""tradewind's own tick file: a parquet table of :class:`TickBatch` columns.

Columns ``symbol`` (string), ``ts_ns`` (int64 ns), ``price``, ``size`` (float64), ``side``
(int8, +1 buy aggressor / -1 sell aggressor) and ``trade_id`` (int64); the exchange and
market are in the file's key-value metadata under ``tradewind``. ``tradewind data synth
--out FILE.parquet`` writes it, and a replay venue reads it back like any other trades file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tradewind._arrow import lazy, null_mask, to_numpy
from tradewind.errors import DataError
from tradewind.market.importers._base import (
    MARKETS,
    ImportResult,
    LineNumbers,
    Rejects,
    assemble,
)
from tradewind.model.ticks import TickBatch

# Imported at first use: the backtest of a ticks parquet file never reads them.
pc = lazy("pyarrow.compute")

FORMAT = "tradewind"
DESCRIPTION = "tradewind ticks parquet (symbol, ts_ns, price, size, side, trade_id)"
COLUMNS = ("symbol", "ts_ns", "price", "size", "side", "trade_id")
_META_KEY = b"tradewind"


def is_ticks_table(schema: pa.Schema) -> bool:
    """Whether a parquet schema is this layout."""
    return all(name in schema.names for name in COLUMNS)


def write(path: Path, batches: dict[str, TickBatch], *, exchange: str, market: str) -> None:
    """Write batches (by symbol) to one parquet file, with the exchange and market."""
    if market not in MARKETS:
        raise DataError(f"market must be one of {', '.join(MARKETS)}, got {market!r}")
    # One dictionary of every symbol for all the pieces: the parquet writer keeps a column's
    # dictionary encoding only while the Arrow dictionary stays the same; one dictionary per
    # symbol made it fall back to plain strings after the first, and a reader then decoded
    # 10 M strings (100 instruments) to dictionary-code them again.
    names = pa.array(list(batches), type=pa.string())
    tables = []
    for code, (_, b) in enumerate(batches.items()):
        tables.append(
            pa.table(
                {
                    "symbol": pa.DictionaryArray.from_arrays(
                        pa.array(np.full(len(b), code, dtype=np.int32)), names
                    ),
                    "ts_ns": b.ts_ns,
                    "price": b.price,
                    "size": b.size,
                    "side": b.side,
                    "trade_id": b.trade_id,
                }
            )
        )
    if not tables:
        raise DataError(f"{path}: nothing to write")
    table = pa.concat_tables(tables)
    meta = {_META_KEY: json.dumps({"exchange": exchange, "market": market}).encode()}
    table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def _symbols(
    column: pa.ChunkedArray,
    keep: np.ndarray | None,
) -> pa.ChunkedArray | pa.Array | np.ndarray:
    """The kept rows' symbols (``keep`` None: every row): Arrow dictionary codes stay codes
    (no Python string per row); a plain string column becomes Python strings as before."""
    if pa.types.is_dictionary(column.type):
        return column if keep is None else column.take(pa.array(keep))
    names = np.asarray(pc.cast(column, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    return names if keep is None else names[keep]


def _by_row_group(f: pq.ParquetFile, name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column ``name`` as one numpy array filled a row group at a time (nulls as 0), and its
    null mask. Reading the whole column would concatenate its row groups in Arrow and then
    copy that into numpy: two copies of the column alive at once and freed memory the
    allocator keeps — a third of the load's peak RSS with 100 instruments × 100,000 ticks."""
    out: np.ndarray | None = None
    null = np.zeros(n, dtype=bool)
    pos = 0
    for g in range(f.metadata.num_row_groups):
        column = f.read_row_group(g, columns=[name]).column(0)
        m = len(column)
        if column.null_count:
            null[pos : pos + m] = null_mask(column)
        values = to_numpy(column)
        if out is None:
            out = np.empty(n, dtype=values.dtype)
        out[pos : pos + m] = values
        pos += m
        del column, values
    assert out is not None and pos == n  # the row groups' lengths add up to the file's rows
    return out, null


def read(
    path: Path,
    *,
    symbol: str | None,
    exchange: str | None,
    market: str | None,
    max_backwards_ns: int = 0,
) -> ImportResult:
    """Import a tradewind ticks parquet file (``line`` of a bad row = row number).

    Columns are read one at a time and turned into numpy arrays, so the Arrow copy of only one
    column is alive at once; symbols stay dictionary codes. ParquetFile reads the file
    directly: read_table would go through pyarrow.dataset, whose import (pandas with it)
    costs a second of a backtest's start-up. The columns are read through their buffers
    (:mod:`tradewind._arrow`): pyarrow's own ``to_numpy`` imports pandas where it is installed.
    """
    try:
        with pq.ParquetFile(path) as f:
            schema = f.schema_arrow
            if not is_ticks_table(schema):
                raise DataError(f"{path}: not a {DESCRIPTION}; it has {', '.join(schema.names)}")
            meta = json.loads((schema.metadata or {}).get(_META_KEY, b"{}"))
            n = f.metadata.num_rows
            rejects = Rejects(path)
            lines = LineNumbers(1, n)  # the row numbers, without an array of them
            ok = np.ones(n, dtype=bool)
            arrays: dict[str, np.ndarray] = {}
            symbols_column: pa.ChunkedArray | None = None
            groups = f.metadata.num_row_groups
            for name in COLUMNS:
                typ = schema.field(name).type
                if name != "symbol" and not (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
                    raise DataError(
                        f"{path}: column {name} has type {typ}; a {DESCRIPTION} has numbers there"
                    )
                if name != "symbol" and groups > 1:
                    arrays[name], null = _by_row_group(f, name, n)
                    rejects.add_mask(ok & null, lines, f"{name} is empty")
                    ok &= ~null
                    continue
                column = f.read(columns=[name]).column(0)
                null = null_mask(column)
                rejects.add_mask(ok & null, lines, f"{name} is empty")
                ok &= ~null
                if name == "symbol":
                    symbols_column = column
                    continue
                arrays[name] = to_numpy(column)
                del column
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: cannot read as parquet: {exc}") from exc
    assert symbols_column is not None
    side = arrays.pop("side").astype(np.int8)
    bad_side = ok & (side != 1) & (side != -1)
    for i in np.flatnonzero(bad_side):
        rejects.add(int(lines[i]), f"side {int(side[i])} is not +1 or -1")
    ok &= ~bad_side
    everything = bool(ok.all())  # the usual case: no copy of the kept rows
    keep = None if everything else np.flatnonzero(ok)

    def col(name: str) -> np.ndarray:
        values = arrays.pop(name)
        return values if keep is None else values[keep]

    ts_ns, price, size, trade_id = col("ts_ns"), col("price"), col("size"), col("trade_id")
    return assemble(
        src_path=path,
        fmt=FORMAT,
        exchange=exchange or str(meta.get("exchange") or "unknown"),
        market=market or str(meta.get("market") or "spot"),
        symbol=_symbols(symbols_column, keep),
        ts_ns=ts_ns,
        price=price,
        size=size,
        side=side if keep is None else side[keep],
        trade_id=trade_id,
        lines=lines if keep is None else lines[keep],
        rejects=rejects,
        max_backwards_ns=max_backwards_ns,
        only_symbol=symbol,
    )
