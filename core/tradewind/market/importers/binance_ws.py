"""Raw Binance websocket captures, as hftbacktest records them (``.gz``, one message a line).

Each line is ``<local receive timestamp> <message JSON>``; the message is usually a
combined-stream envelope ``{"stream": "btcusdt@trade", "data": {...}}`` (a bare payload is
accepted too). Only trade events are imported: ``@trade`` streams, or ``@aggTrade`` for a
symbol that has no ``@trade`` stream in the file (both at once would count trades twice).
Depth updates, book tickers, mark prices and the REST depth snapshot line are skipped and
counted in :attr:`ImportResult.ignored`, as are USD-M fills that are not market trades
(``"X": "INSURANCE_FUND"`` / ``"ADL"``, which Binance also leaves out of aggTrades).

Fields used: ``s`` symbol, ``t`` trade id (``a`` for aggTrade), ``p`` price, ``q`` quantity,
``T`` trade time (epoch ms), ``m`` is-buyer-maker (true: the seller was the taker, aggressor
SELL). Spot trade events carry ``M`` and futures ones ``X``, which tells spot from perp.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tradewind._arrow import lazy
from tradewind.market.importers._base import (
    ImportResult,
    Rejects,
    Source,
    assemble,
    epoch_unit,
    quote,
    text_lines,
    to_ns,
)
from tradewind.market.validation import int64_overflow

# Imported at first use: the backtest of a ticks parquet file never reads them.
pc = lazy("pyarrow.compute")
pajson = lazy("pyarrow.json")

FORMAT = "binance-ws"
DESCRIPTION = "Binance raw websocket capture ('<timestamp> <JSON>' lines, e.g. hftbacktest .gz)"

_SNIFF = re.compile(r'^\d+ \{\s*"(stream"\s*:\s*"[a-z0-9_]+@|e"\s*:|lastUpdateId")')
_CAPTURE_START = r"^[0-9]+ \{"
_TRADE_HEAD = r'@(trade|aggTrade)"|"e":"aggTrade"'
_HEAD_CHARS = 160

_FIELDS = [
    ("e", pa.string()),
    ("s", pa.string()),
    ("t", pa.int64()),
    ("a", pa.int64()),
    ("p", pa.string()),
    ("q", pa.string()),
    ("T", pa.int64()),
    ("m", pa.bool_()),
    ("X", pa.string()),
    ("M", pa.bool_()),
]
_SCHEMA = pa.schema([("data", pa.struct(_FIELDS)), *_FIELDS])


def sniff(lines: list[str], name: str) -> bool:
    """Whether the first lines look like a Binance websocket capture."""
    return any(_SNIFF.match(line) for line in lines)


class _Trades:
    """Trade fields parsed from the capture, one entry per trade message."""

    def __init__(
        self,
        lines: npt.NDArray[np.int64],
        kind: npt.NDArray[np.object_],
        symbol: npt.NDArray[np.object_],
        trade_id: npt.NDArray[np.int64],
        price: npt.NDArray[np.float64],
        size: npt.NDArray[np.float64],
        ts: npt.NDArray[np.int64],
        buyer_maker: npt.NDArray[np.bool_],
        order_type: npt.NDArray[np.object_],
        spot: npt.NDArray[np.bool_],
    ) -> None:
        self.lines, self.kind, self.symbol, self.trade_id = lines, kind, symbol, trade_id
        self.price, self.size, self.ts, self.buyer_maker = price, size, ts, buyer_maker
        self.order_type, self.spot = order_type, spot


def _parse_fast(json_text: list[str], lines: npt.NDArray[np.int64]) -> _Trades | None:
    """Parse all trade messages with Arrow in one pass; ``None`` if any is irregular."""
    try:
        table = pajson.read_json(
            io.BytesIO("\n".join(json_text).encode()),
            parse_options=pajson.ParseOptions(
                explicit_schema=_SCHEMA,
                unexpected_field_behavior="ignore",
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != len(json_text):
        return None
    data = table.column("data").combine_chunks()

    def field(name: str) -> pa.Array:
        return pc.coalesce(pc.struct_field(data, name), table.column(name).combine_chunks())

    kind, ts, m = field("e"), field("T"), field("m")
    is_agg = pc.equal(kind, "aggTrade")
    ids = pc.if_else(is_agg, field("a"), field("t"))
    cols = [kind, field("s"), ids, field("p"), field("q"), ts, m]
    if any(c.null_count for c in cols):
        return None
    try:
        price = pc.cast(field("p"), pa.float64())
        size = pc.cast(field("q"), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return _Trades(
        lines=lines,
        kind=kind.to_numpy(zero_copy_only=False),
        symbol=field("s").to_numpy(zero_copy_only=False),
        trade_id=np.asarray(ids.to_numpy(zero_copy_only=False), dtype=np.int64),
        price=price.to_numpy(zero_copy_only=False),
        size=size.to_numpy(zero_copy_only=False),
        ts=np.asarray(ts.to_numpy(zero_copy_only=False), dtype=np.int64),
        buyer_maker=np.asarray(m.to_numpy(zero_copy_only=False), dtype=bool),
        order_type=field("X").to_numpy(zero_copy_only=False),
        spot=pc.is_valid(field("M")).to_numpy(zero_copy_only=False),
    )


def _num(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"'{name}' {quote(value)} is not a number")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"'{name}' {quote(value)} is not a number") from None


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"'{name}' {quote(value)} is not an integer")
    if int64_overflow([str(value)])[0]:
        raise ValueError(f"'{name}' {quote(value)} is out of range (larger than a 64-bit integer)")
    return value


def _parse_slow(
    json_text: list[str],
    lines: npt.NDArray[np.int64],
    rejects: Rejects,
) -> _Trades:
    """Parse trade messages one by one, reporting each unreadable one with its reason."""
    keep: list[int] = []
    kind: list[str] = []
    symbol: list[str] = []
    ids: list[int] = []
    price: list[float] = []
    size: list[float] = []
    ts: list[int] = []
    maker: list[bool] = []
    order_type: list[str | None] = []
    spot: list[bool] = []
    for i, text in enumerate(json_text):
        try:
            msg = json.loads(text)
        except json.JSONDecodeError as exc:
            rejects.add(int(lines[i]), f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        data = msg.get("data", msg) if isinstance(msg, dict) else None
        if not isinstance(data, dict):
            rejects.add(int(lines[i]), "message is not a JSON object")
            continue
        try:
            e = data.get("e")
            if e not in ("trade", "aggTrade"):
                raise ValueError(f"event type {quote(e)} is not trade or aggTrade")
            id_key = "a" if e == "aggTrade" else "t"
            for key in ("s", id_key, "p", "q", "T", "m"):
                if key not in data:
                    raise ValueError(f"{e} message has no '{key}'")
            s, m = data["s"], data["m"]
            if not isinstance(s, str) or not s:
                raise ValueError(f"'s' {quote(s)} is not a symbol")
            if not isinstance(m, bool):
                raise ValueError(f"'m' {quote(m)} is not true or false")
            row = (
                _int(data[id_key], id_key),
                _num(data["p"], "p"),
                _num(data["q"], "q"),
                _int(data["T"], "T"),
            )
        except ValueError as exc:
            rejects.add(int(lines[i]), str(exc))
            continue
        keep.append(i)
        kind.append(e)
        symbol.append(s)
        ids.append(row[0])
        price.append(row[1])
        size.append(row[2])
        ts.append(row[3])
        maker.append(m)
        x = data.get("X")
        order_type.append(x if isinstance(x, str) else None)
        spot.append("M" in data)
    return _Trades(
        lines=lines[np.asarray(keep, dtype=np.int64)],
        kind=np.asarray(kind, dtype=object),
        symbol=np.asarray(symbol, dtype=object),
        trade_id=np.asarray(ids, dtype=np.int64),
        price=np.asarray(price, dtype=np.float64),
        size=np.asarray(size, dtype=np.float64),
        ts=np.asarray(ts, dtype=np.int64),
        buyer_maker=np.asarray(maker, dtype=bool),
        order_type=np.asarray(order_type, dtype=object),
        spot=np.asarray(spot, dtype=bool),
    )


def read(
    src: Source,
    *,
    symbol: str | None,
    exchange: str | None,
    market: str | None,
    max_backwards_ns: int = 0,
) -> ImportResult:
    """Import the trades of a Binance websocket capture; ``symbol`` keeps only that symbol."""
    rejects = Rejects(src.path)
    lines = text_lines(src.data)
    lineno = np.arange(1, len(lines) + 1, dtype=np.int64)
    # The stream name and event type sit at the start of a line; searching only a prefix of
    # each (long) depth line makes classifying a capture several times faster.
    head = pc.utf8_slice_codeunits(lines, 0, _HEAD_CHARS)
    blank = pc.equal(pc.utf8_trim_whitespace(head), "").to_numpy(zero_copy_only=False)
    is_trade = pc.or_(
        pc.match_substring_regex(head, _TRADE_HEAD),
        pc.match_substring(head, '"e":"trade"'),
    ).to_numpy(zero_copy_only=False)
    well_formed = pc.and_(
        pc.match_substring_regex(head, _CAPTURE_START),
        pc.ends_with(lines, "}"),
    ).to_numpy(zero_copy_only=False)
    malformed = ~blank & ~is_trade & ~well_formed
    rejects.add_mask(
        malformed,
        lineno,
        "not a '<timestamp> <JSON message>' capture line (truncated or corrupt)",
    )
    ignored = int((~blank & ~is_trade & well_formed).sum())

    idx = np.flatnonzero(is_trade)
    trade_lines = lines.take(pa.array(idx, pa.int64()))
    parts = pc.split_pattern(trade_lines, " ", max_splits=1)
    has_json = pc.equal(pc.list_value_length(parts), 2).to_numpy(zero_copy_only=False)
    rejects.add_mask(~has_json, lineno[idx], "no JSON message after the timestamp")
    idx = idx[has_json]
    json_text = pc.list_element(parts.filter(pa.array(has_json)), 1).to_pylist()
    trades = _parse_fast(json_text, lineno[idx])
    if trades is None:
        trades = _parse_slow(json_text, lineno[idx], rejects)

    use = np.ones(len(trades.ts), dtype=bool)
    # Fills by the liquidation engine / ADL are not aggressor trades.
    not_market = np.array(
        [x is not None and x != "MARKET" for x in trades.order_type],
        dtype=bool,
    )
    use &= ~not_market
    # aggTrade only where the capture has no raw trade stream for the symbol.
    has_raw = set(trades.symbol[trades.kind == "trade"].tolist())
    if has_raw:
        redundant = (trades.kind == "aggTrade") & np.isin(trades.symbol, list(has_raw))
        use &= ~redundant
    ignored += int((~use).sum())

    sel = np.flatnonzero(use)
    symbols = trades.symbol[sel]
    if market is None:
        names = set(symbols.tolist())
        if names and all(n.endswith("_PERP") for n in names):
            market = "perp"  # COIN-M perpetuals
        elif not names or trades.spot[sel].any():
            market = "spot"
        else:
            market = "perp"
    ts = trades.ts[sel]
    return assemble(
        src_path=src.path,
        fmt=FORMAT,
        exchange=exchange or "binance",
        market=market,
        symbol=symbols,
        ts_ns=to_ns(ts, epoch_unit(ts)),
        price=trades.price[sel],
        size=trades.size[sel],
        side=np.where(trades.buyer_maker[sel], -1, 1).astype(np.int8),
        trade_id=trades.trade_id[sel],
        lines=trades.lines[sel],
        rejects=rejects,
        max_backwards_ns=max_backwards_ns,
        labels=("p", "q"),
        only_symbol=symbol,
        ignored=ignored,
    )
