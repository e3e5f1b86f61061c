"""Import recorded trades into :class:`~tradewind.model.ticks.TickBatch` es.

One module per source format; :func:`load` recognises the format from the file's content
(and name), reads it vectorised, and returns the trades by symbol together with every row it
could not import (file, line, reason). A bad row never stops an import; a file of no known
format raises :class:`~tradewind.errors.DataError` saying what was expected.

Formats (``format=`` names):

- ``tardis``: Tardis.dev trades CSV.
- ``binance-trades`` / ``binance-aggtrades``: data.binance.vision CSV dumps (``.csv`` or ``.zip``).
- ``binance-ws``: raw Binance websocket captures (hftbacktest ``.gz`` files).
- ``freqtrade``: freqtrade ``-trades.json[.gz]``, ``.feather`` and ``.parquet`` files.
- ``tradewind``: tradewind's own ticks parquet (what ``tradewind data synth`` writes).

Gzip and single-file zip archives are decompressed transparently, whatever their name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tradewind.errors import DataError
from tradewind.market.importers import (
    binance_vision,
    binance_ws,
    freqtrade,
    tardis,
    ticks_parquet,
)
from tradewind.market.importers._base import (
    MARKETS,
    BadRow,
    ImportResult,
    Source,
    first_lines,
    read_source,
    refuse_special_file,
    small_pages,
    truncation_row,
    whole_lines,
)

__all__ = ["FORMATS", "MARKETS", "BadRow", "ImportResult", "load", "sniff"]

#: Every format name :func:`load` accepts, with what it reads.
FORMATS: dict[str, str] = {
    tardis.FORMAT: tardis.DESCRIPTION,
    binance_vision.TRADES: binance_vision.DESCRIPTION[binance_vision.TRADES],
    binance_vision.AGG_TRADES: binance_vision.DESCRIPTION[binance_vision.AGG_TRADES],
    binance_ws.FORMAT: binance_ws.DESCRIPTION,
    freqtrade.FORMAT: freqtrade.DESCRIPTION,
    ticks_parquet.FORMAT: ticks_parquet.DESCRIPTION,
}


def _table_format(path: Path) -> str | None:
    """The format of a feather (Arrow IPC) or parquet file, ``None`` for anything else."""
    refuse_special_file(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head == freqtrade.FEATHER_MAGIC:
        return freqtrade.FORMAT
    if head[:4] != freqtrade.PARQUET_MAGIC:
        return None
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: cannot read as parquet: {exc}") from exc
    return ticks_parquet.FORMAT if ticks_parquet.is_ticks_table(schema) else freqtrade.FORMAT


def _sniff_text(src: Source) -> str | None:
    lines = first_lines(src.data, 20)
    if tardis.sniff(lines, src.name):
        return tardis.FORMAT
    if binance_ws.sniff(lines, src.name):
        return binance_ws.FORMAT
    if freqtrade.sniff(lines, src.name):
        return freqtrade.FORMAT
    return binance_vision.sniff(lines, src.name)


def _unknown(src: Source, expected: str | None = None) -> DataError:
    lines = first_lines(src.data, 1)
    first = lines[0][:80] if lines else "(empty)"
    if expected is not None:
        want = f"a {FORMATS[expected]}"
    else:
        want = "one of: " + "; ".join(FORMATS.values())
    return DataError(f"{src.path}: not a known trades file; expected {want}. First line: {first}")


def sniff(path: Path | str) -> str:
    """The format name of a trades file, recognised by content; DataError if none fits."""
    path = Path(path)
    table_format = _table_format(path)
    if table_format is not None:
        return table_format
    src = read_source(path)
    fmt = _sniff_text(src)
    if fmt is None:
        raise _unknown(src)
    return fmt


def load(
    path: Path | str,
    format: str | None = None,
    *,
    symbol: str | None = None,
    exchange: str | None = None,
    market: str | None = None,
    max_backwards_ns: int = 0,
) -> ImportResult:
    """Import the trades of one file.

    :param path: the file; ``.gz`` and ``.zip`` are decompressed whatever the format.
    :param format: one of :data:`FORMATS`, or ``None`` to recognise it from the content.
    :param symbol: for files that hold several symbols (Tardis, websocket captures), keep only
        this one; for files that name their symbol in the file name (Binance CSV, freqtrade),
        the symbol to use instead, and needed when the name does not follow the usual pattern.
    :param exchange: the exchange to record instead of the one the file implies (needed for
        freqtrade files outside a ``user_data/data/<exchange>/`` folder).
    :param market: ``spot`` or ``perp`` instead of the one the file implies.
    :param max_backwards_ns: how far a trade's timestamp may go back behind an earlier line's
        (of the same symbol) and still be sorted into place, for venues that publish slightly
        out of order; a trade further back is a bad row. 0 (default): any step back is one.
    :returns: the trades by symbol, sorted by time, and the rows that were not imported.
    :raises DataError: unreadable file, unknown format, or nothing to tell the symbol/exchange.

    The file's arrays are allocated without numpy's huge-page advice (:func:`small_pages`).
    """
    with small_pages():
        return _load(
            path,
            format,
            symbol=symbol,
            exchange=exchange,
            market=market,
            max_backwards_ns=max_backwards_ns,
        )


def _load(
    path: Path | str,
    format: str | None,
    *,
    symbol: str | None,
    exchange: str | None,
    market: str | None,
    max_backwards_ns: int,
) -> ImportResult:
    """:func:`load`'s work."""
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise DataError(f"unknown trades format {format!r} for {path}; known: {', '.join(FORMATS)}")
    if market is not None and market not in MARKETS:
        raise DataError(f"market must be one of {', '.join(MARKETS)}, got {market!r}")
    table_format = _table_format(path)
    if table_format is not None:
        if format not in (None, table_format):
            raise DataError(f"{path}: is a {FORMATS[table_format]}, not a {FORMATS[format]}")
        reader = (
            ticks_parquet.read if table_format == ticks_parquet.FORMAT else freqtrade.read_table
        )
        return reader(
            path,
            symbol=symbol,
            exchange=exchange,
            market=market,
            max_backwards_ns=max_backwards_ns,
        )

    src = read_source(path)
    found = _sniff_text(src)
    if found is None or (format is not None and found != format):
        raise _unknown(src, format)
    if max_backwards_ns < 0:
        raise DataError(f"max_backwards_ns must be >= 0, got {max_backwards_ns}")
    opts: dict[str, Any] = {
        "symbol": symbol,
        "exchange": exchange,
        "market": market,
        "max_backwards_ns": max_backwards_ns,
    }
    if found == freqtrade.FORMAT:
        return freqtrade.read_json(src, **opts)  # reports a cut itself (records, not lines)
    src = whole_lines(src)
    if found == tardis.FORMAT:
        result = tardis.read(src, **opts)
    elif found == binance_ws.FORMAT:
        result = binance_ws.read(src, **opts)
    else:
        result = binance_vision.read(src, found, **opts)
    cut = truncation_row(src, src.data)
    if cut is not None:
        result.bad_rows.append(cut)
    return result
