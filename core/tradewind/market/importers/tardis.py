"""Tardis.dev ``trades`` CSV files (the ``datasets`` downloads, one exchange per file).

Layout: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount`` with a header line;
``timestamp`` is the exchange's trade time in microseconds, ``side`` the taker's side
(``buy``/``sell``; Tardis writes ``unknown`` where the exchange does not say, and such rows are
reported as bad rows because tradewind needs the aggressor).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tradewind._arrow import indices, lazy, string_scalar, to_numpy
from tradewind.market.importers._base import (
    Col,
    ImportResult,
    Rejects,
    Source,
    assemble,
    parse_delimited,
    parse_ids,
    quote,
    to_ns,
)

# Imported at first use: the backtest of a ticks parquet file never reads them.
pc = lazy("pyarrow.compute")

FORMAT = "tardis"
HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
DESCRIPTION = f"Tardis.dev trades CSV (header {HEADER}; timestamp in microseconds)"

_COLUMNS = (
    Col("exchange", "cat"),
    Col("symbol", "cat"),
    Col("timestamp", "int"),
    Col("local_timestamp", "str"),  # not used; a missing one must not reject the trade
    Col("id", "str"),
    Col("side", "cat"),
    Col("price", "float"),
    Col("amount", "float"),
)

#: Tardis exchange ids -> (tradewind exchange, market). Others: a derivatives suffix means perp.
_VENUES: dict[str, tuple[str, str]] = {
    "binance": ("binance", "spot"),
    "binance-us": ("binance-us", "spot"),
    "binance-futures": ("binance", "perp"),
    "binance-delivery": ("binance", "perp"),
    "bybit": ("bybit", "perp"),
    "bybit-spot": ("bybit", "spot"),
    "okex": ("okx", "spot"),
    "okex-swap": ("okx", "perp"),
    "okex-futures": ("okx", "perp"),
    "deribit": ("deribit", "perp"),
    "bitmex": ("bitmex", "perp"),
    "coinbase": ("coinbase", "spot"),
    "kraken": ("kraken", "spot"),
    "cryptofacilities": ("kraken", "perp"),
    "huobi": ("huobi", "spot"),
    "huobi-dm-swap": ("huobi", "perp"),
    "bitfinex": ("bitfinex", "spot"),
    "bitfinex-derivatives": ("bitfinex", "perp"),
    "hyperliquid": ("hyperliquid", "perp"),
}
_PERP_SUFFIXES = ("-futures", "-swap", "-delivery", "-derivatives", "-linear", "-inverse")


def venue_of(tardis_exchange: str) -> tuple[str, str]:
    """The tradewind exchange name and market of a Tardis exchange id."""
    if tardis_exchange in _VENUES:
        return _VENUES[tardis_exchange]
    for suffix in _PERP_SUFFIXES:
        if tardis_exchange.endswith(suffix):
            return tardis_exchange[: -len(suffix)], "perp"
    return tardis_exchange, "spot"


def sniff(lines: list[str], name: str) -> bool:
    """Whether the first lines look like a Tardis trades CSV (its header is mandatory)."""
    return bool(lines) and lines[0].replace(" ", "").replace('"', "") == HEADER


def read(
    src: Source,
    *,
    symbol: str | None,
    exchange: str | None,
    market: str | None,
    max_backwards_ns: int = 0,
) -> ImportResult:
    """Import a Tardis trades CSV; ``symbol`` keeps only that symbol's trades."""
    rejects = Rejects(src.path)
    table, lines = parse_delimited(src, _COLUMNS, header_lines=1, rejects=rejects)

    exchange_col = table.column("exchange").cast(pa.string())
    counts = pc.value_counts(exchange_col)
    if len(counts):
        top = int(np.argmax(to_numpy(counts.field("counts"))))
        file_exchange = str(counts.field("values")[top].as_py())
    else:
        file_exchange = ""
    ok = to_numpy(pc.equal(exchange_col, string_scalar(file_exchange)))
    if not ok.all():
        texts = exchange_col.to_pylist()
        for i in np.flatnonzero(~ok):
            rejects.add(
                int(lines[i]),
                f"exchange {quote(texts[i])} differs from the file's {file_exchange!r}",
            )

    side_col = table.column("side").cast(pa.string())
    buy = to_numpy(pc.equal(side_col, string_scalar("buy")))
    sell = to_numpy(pc.equal(side_col, string_scalar("sell")))
    side = np.where(buy, 1, np.where(sell, -1, 0)).astype(np.int8)
    unknown = ok & (side == 0)
    if unknown.any():
        texts = side_col.to_pylist()
        for i in np.flatnonzero(unknown):
            rejects.add(
                int(lines[i]), f"side {quote(texts[i])} is not buy or sell (aggressor unknown)"
            )
    ok &= ~unknown

    keep = np.flatnonzero(ok)
    ids = parse_ids(table.column("id").take(indices(keep)))
    default_exchange, default_market = venue_of(file_exchange or "unknown")
    return assemble(
        src_path=src.path,
        fmt=FORMAT,
        exchange=exchange or default_exchange,
        market=market or default_market,
        symbol=table.column("symbol").take(indices(keep)),
        ts_ns=to_ns(to_numpy(table.column("timestamp"))[keep], "us"),
        price=to_numpy(table.column("price"))[keep],
        size=to_numpy(table.column("amount"))[keep],
        side=side[keep],
        trade_id=ids,
        lines=lines[keep],
        rejects=rejects,
        max_backwards_ns=max_backwards_ns,
        labels=("price", "amount"),
        only_symbol=symbol,
    )
