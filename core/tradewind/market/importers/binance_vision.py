"""Binance public trade dumps from data.binance.vision: ``trades`` and ``aggTrades`` CSV files.

Layouts (spot files have no header and an extra ``is_best_match`` column; futures files have
a header line and no ``is_best_match``)::

    trades:    id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]
    aggTrades: agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,
               is_buyer_maker[,is_best_match]

``time`` is epoch milliseconds, or microseconds in spot files since 2025 (told apart by
magnitude). ``is_buyer_maker`` true means the seller was the taker: aggressor SELL.
The archives come zipped, one CSV per zip; both ``.zip`` and the extracted ``.csv`` import.
"""

from __future__ import annotations

import re

import numpy as np

from tradewind.errors import DataError
from tradewind.market.importers._base import (
    Col,
    ImportResult,
    Rejects,
    Source,
    assemble,
    epoch_unit,
    first_lines,
    parse_delimited,
    to_ns,
)

TRADES = "binance-trades"
AGG_TRADES = "binance-aggtrades"
DESCRIPTION = {
    TRADES: "Binance trades CSV (id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match])",
    AGG_TRADES: "Binance aggTrades CSV (agg_trade_id,price,quantity,first_trade_id,"
    "last_trade_id,transact_time,is_buyer_maker[,is_best_match])",
}

_TRADE_COLS = (
    Col("id", "int"),
    Col("price", "float"),
    Col("qty", "float"),
    Col("quote_qty", "str"),
    Col("time", "int"),
    Col("is_buyer_maker", "bool"),
)
_AGG_COLS = (
    Col("agg_trade_id", "int"),
    Col("price", "float"),
    Col("quantity", "float"),
    Col("first_trade_id", "str"),
    Col("last_trade_id", "str"),
    Col("transact_time", "int"),
    Col("is_buyer_maker", "bool"),
)
# is_best_match is informational (always true since 2019); read as text so it never rejects.
_BEST_MATCH = Col("is_best_match", "str")
_HEADER_START = {TRADES: "id,price,qty", AGG_TRADES: "agg_trade_id,price,quantity"}
_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]+(?:_[A-Z0-9]+)?)-(?P<kind>trades|aggTrades)-")
_BOOL = {"true", "false"}
_INT = re.compile(r"^[0-9]+$")


def _layout(fields: list[str]) -> str | None:
    """Which layout a headerless data line has, if any."""
    if len(fields) < 6 or not _INT.match(fields[0]):
        return None
    if len(fields) in (6, 7) and fields[5].lower() in _BOOL and _INT.match(fields[4]):
        return TRADES
    if len(fields) in (7, 8) and fields[6].lower() in _BOOL and _INT.match(fields[5]):
        return AGG_TRADES
    return None


def sniff(lines: list[str], name: str) -> str | None:
    """The Binance format of a file from its first lines, or ``None``."""
    if not lines:
        return None
    first = lines[0].replace(" ", "").replace('"', "")
    for fmt, start in _HEADER_START.items():
        if first.startswith(start):
            return fmt
    # Headerless (spot): the first data line that parses decides, so one corrupt line doesn't.
    for line in lines:
        layout = _layout(line.replace(" ", "").split(","))
        if layout is not None:
            return layout
    return None


def symbol_from_name(*names: str) -> str | None:
    """The symbol in a data.binance.vision file name (``BTCUSDT-trades-2024-08-08.zip``)."""
    for name in names:
        m = _NAME.match(name)
        if m:
            return m.group("symbol")
    return None


def _market_hint(src: Source, has_best_match: bool, symbol: str) -> str:
    """Spot or perp: from the download path (``data/futures/um/...``), else the columns."""
    parts = {p.lower() for p in src.path.parts}
    if parts & {"futures", "um", "cm"} or symbol.endswith("_PERP"):
        return "perp"
    if "spot" in parts:
        return "spot"
    return "spot" if has_best_match else "perp"


def read(
    src: Source,
    fmt: str,
    *,
    symbol: str | None,
    exchange: str | None,
    market: str | None,
    max_backwards_ns: int = 0,
) -> ImportResult:
    """Import a Binance trades or aggTrades CSV (``fmt`` is :data:`TRADES` or :data:`AGG_TRADES`).

    ``symbol`` names the trades when the file name does not follow data.binance.vision's
    ``SYMBOL-trades-DATE`` pattern, and overrides it when it does.
    """
    line1 = src.data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    line1 = line1.replace(" ", "").replace('"', "")
    has_header = line1.strip().startswith(_HEADER_START[fmt])
    if has_header:
        n_fields = len(line1.strip().split(","))
    else:
        samples = [ln.replace(" ", "").split(",") for ln in first_lines(src.data, 20)]
        widths = [len(f) for f in samples if _layout(f) == fmt]
        if not widths:
            raise DataError(f"{src.path}: not a {DESCRIPTION[fmt]}: no line of that layout found")
        n_fields = widths[0]
    cols = _TRADE_COLS if fmt == TRADES else _AGG_COLS
    has_best_match = n_fields == len(cols) + 1
    if has_best_match:
        cols = (*cols, _BEST_MATCH)

    name = symbol or symbol_from_name(src.name, src.path.name)
    if name is None:
        raise DataError(
            f"{src.path}: cannot tell the symbol: data.binance.vision names its files "
            "SYMBOL-trades-DATE.csv / SYMBOL-aggTrades-DATE.csv; pass symbol= (--symbol)"
        )

    rejects = Rejects(src.path)
    table, lines = parse_delimited(src, cols, header_lines=int(has_header), rejects=rejects)
    id_col, qty_col, time_col = (
        ("id", "qty", "time") if fmt == TRADES else ("agg_trade_id", "quantity", "transact_time")
    )
    ts = table.column(time_col).to_numpy()
    buyer_maker = table.column("is_buyer_maker").to_numpy(zero_copy_only=False)
    return assemble(
        src_path=src.path,
        fmt=fmt,
        exchange=exchange or "binance",
        market=market or _market_hint(src, has_best_match, name),
        symbol=name,
        ts_ns=to_ns(ts, epoch_unit(ts)),
        price=table.column("price").to_numpy(),
        size=table.column(qty_col).to_numpy(),
        side=np.where(buyer_maker, -1, 1).astype(np.int8),
        trade_id=table.column(id_col).to_numpy(),
        lines=lines,
        rejects=rejects,
        max_backwards_ns=max_backwards_ns,
        labels=("price", qty_col),
    )
