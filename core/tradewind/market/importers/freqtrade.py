"""freqtrade trade downloads: ``<PAIR>-trades.json[.gz]``, ``.feather`` or ``.parquet``.

``freqtrade download-data --dl-trades`` stores each trade as
``[timestamp_ms, id, type, side, price, amount, cost]`` (``side`` = the taker's side); the
JSON variants hold one array of such rows, feather and parquet a table with those column names.
Old JSON files hold ccxt trade objects (``{"timestamp", "id", "side", "price", "amount", ...}``)
instead, and import too.

freqtrade keeps the exchange in the folder name (``user_data/data/binance/``, futures in
``.../binance/futures/``) and the pair in the file name (``XRP_ETH``; futures
``XRP_USDT_USDT``). The symbol is base + quote (``XRPETH``), as Binance spells it. Trade
objects carry their pair (``"symbol": "XRP/ETH"``; futures ``"XRP/USDT:USDT"``), and that wins
over the file name.

A JSON file that does not parse whole (a cut download or gzip, a stray line, a bare ``NaN``
that strict parsers refuse) is read record by record: every record that parses is kept, each
one that does not is a bad row (``line`` = record number), and a cut ends the file there.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tradewind._arrow import lazy
from tradewind.errors import DataError
from tradewind.market.importers._base import (
    ImportResult,
    Rejects,
    Source,
    assemble,
    parse_ids,
    quote,
    to_ns,
)
from tradewind.market.validation import int64_overflow

FORMAT = "freqtrade"
DESCRIPTION = (
    "freqtrade trades JSON/feather/parquet (rows [timestamp_ms, id, type, side, price, amount,"
    " cost])"
)

# Imported at first use: the backtest of a ticks parquet file never reads them.
pc = lazy("pyarrow.compute")
feather = lazy("pyarrow.feather")

_NAME = re.compile(r"^(?P<pair>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){1,2})-trades\.")
_SNIFF = re.compile(r"^\[\s*(\[\s*-?\d+(\.\d*)?\s*,|\{|\]\s*$)")
#: Folder names freqtrade uses for exchanges it supports (ccxt ids).
_EXCHANGES = frozenset(
    {
        "binance",
        "binanceus",
        "binancejp",
        "bingx",
        "bitget",
        "bitmart",
        "bitvavo",
        "bybit",
        "coinbase",
        "coinbasepro",
        "gate",
        "gateio",
        "htx",
        "huobi",
        "hyperliquid",
        "idex",
        "kraken",
        "kucoin",
        "mexc",
        "okx",
        "okex",
        "bitfinex",
        "bitstamp",
        "cryptocom",
        "lbank",
    }
)
FEATHER_MAGIC = b"ARROW1"
PARQUET_MAGIC = b"PAR1"


def sniff(lines: list[str], name: str) -> bool:
    """Whether the first lines look like a freqtrade JSON trades array."""
    # A pretty-printed array starts with a line holding only "[".
    return bool(lines) and bool(_SNIFF.match(" ".join(lines[:2])))


def _parse_json(data: bytes) -> Any:
    """Parse a JSON document, with orjson when it is installed (ccxt brings it; 4x faster)."""
    try:
        import orjson
    except ImportError:
        return json.loads(data)
    return orjson.loads(data)


def _pair(path: Path, name: str) -> tuple[str | None, str | None]:
    """(symbol, market) from a freqtrade file name, or (None, None)."""
    for candidate in (name, path.name):
        m = _NAME.match(candidate)
        if m:
            parts = m.group("pair").upper().split("_")
            return parts[0] + parts[1], "perp" if len(parts) == 3 else "spot"
    return None, None


def _exchange(path: Path) -> str | None:
    folder = path.resolve().parent
    if folder.name == "futures":
        folder = folder.parent
    return folder.name if folder.name in _EXCHANGES else None


def _context(
    src_path: Path,
    name: str,
    symbol: str | None,
    exchange: str | None,
    market: str | None,
) -> tuple[str, str, str]:
    file_symbol, file_market = _pair(src_path, name)
    symbol = symbol or file_symbol
    if symbol is None:
        raise DataError(
            f"{src_path}: cannot tell the pair: freqtrade names trade files "
            "<BASE>_<QUOTE>-trades.json.gz; pass symbol= (--symbol)"
        )
    exchange = exchange or _exchange(src_path)
    if exchange is None:
        raise DataError(
            f"{src_path}: a freqtrade file does not say its exchange (freqtrade keeps it in the "
            "folder name, user_data/data/<exchange>/); pass exchange= (--exchange)"
        )
    return symbol, exchange, market or file_market or "spot"


_WS = re.compile(r"\s*")
#: Where the next record may start after a broken one: a comma, then ``[`` or ``{``.
_RESYNC = re.compile(r",\s*(?=[\[{])")


def _scan(text: str) -> tuple[list[tuple[int, Any]], list[tuple[int, str]]]:
    """The records of a JSON array that does not parse whole: ``(number, record)`` for each
    that parses, ``(number, reason)`` for each that does not (a cut ends the scan)."""
    decoder = json.JSONDecoder()
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        raise ValueError("the file is not a JSON array")
    pos += 1
    n = 0
    good: list[tuple[int, Any]] = []
    bad: list[tuple[int, str]] = []
    end_of_file = "the file ends here (cut short or truncated); the records before it were imported"
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            bad.append((n + 1, end_of_file))
            break
        if text[pos] == "]":
            break
        n += 1
        try:
            item, stop = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            found = _RESYNC.search(text, pos)
            if found is None:
                bad.append((n, f"invalid JSON ({exc.msg}); {end_of_file}"))
                break
            bad.append((n, f"invalid JSON ({exc.msg}): {quote(text[pos : found.start()].strip())}"))
            pos = found.end()
            continue
        good.append((n, item))
        pos = _WS.match(text, stop).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] != "]":
            found = _RESYNC.search(text, pos)
            n += 1
            junk = text[pos : len(text) if found is None else found.start()].strip()
            bad.append((n, f"invalid JSON (expected , or ] after a record): {quote(junk)}"))
            if found is None:
                break
            pos = found.end()
    return good, bad


def _symbol_of(pair: Any) -> tuple[str, str] | None:
    """(symbol, market) of a ccxt pair (``XRP/ETH`` spot, ``XRP/USDT:USDT`` perp)."""
    if not isinstance(pair, str) or "/" not in pair:
        return None
    base, _, rest = pair.partition("/")
    quote_ccy, colon, _settle = rest.partition(":")
    return (base + quote_ccy).upper(), "perp" if colon else "spot"


def _row(item: Any) -> tuple[int, Any, str, float, float]:
    """(timestamp_ms, id, side, price, amount) of one JSON record, or ValueError why not."""
    if isinstance(item, list):
        if len(item) < 6:
            raise ValueError(
                f"expected [timestamp, id, type, side, price, amount, cost], got {len(item)} fields"
            )
        ts, tid, side, price, amount = item[0], item[1], item[3], item[4], item[5]
    elif isinstance(item, dict):
        missing = [k for k in ("timestamp", "side", "price", "amount") if k not in item]
        if missing:
            raise ValueError(f"trade object has no {', '.join(repr(k) for k in missing)}")
        ts, tid, side = item["timestamp"], item.get("id"), item["side"]
        price, amount = item["price"], item["amount"]
    else:
        raise ValueError(f"record {quote(item)} is neither a list nor an object")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise ValueError(f"timestamp {quote(ts)} is not a number")
    if not math.isfinite(ts) or int64_overflow([str(int(ts))])[0]:
        raise ValueError(f"timestamp {quote(ts)} is out of range (larger than a 64-bit integer)")
    if side not in ("buy", "sell"):
        raise ValueError(f"side {quote(side)} is not buy or sell")
    for label, value in (("price", price), ("amount", amount)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{label} {quote(value)} is not a number")
    return int(ts), tid, side, float(price), float(amount)


def read_json(
    src: Source,
    *,
    symbol: str | None,
    exchange: str | None,
    market: str | None,
    max_backwards_ns: int = 0,
) -> ImportResult:
    """Import a freqtrade JSON trades file (``line`` of a bad row = record number)."""
    rejects = Rejects(src.path)
    numbered: list[tuple[int, Any]] | None = None
    try:
        records = _parse_json(src.data)
    except ValueError:
        try:  # the standard parser takes what orjson refuses (NaN, Infinity)
            records = json.loads(src.data.decode("utf-8", errors="replace"))
        except ValueError:
            try:
                numbered, broken = _scan(src.data.decode("utf-8", errors="replace"))
            except ValueError as exc:
                raise DataError(
                    f"{src.path}: not a freqtrade trades file: {exc}; expected an array of "
                    "[timestamp_ms, id, type, side, price, amount, cost]"
                ) from exc
            for n, why in broken:
                rejects.add(n, why)
            records = [item for _, item in numbered]
    if not isinstance(records, list):
        raise DataError(
            f"{src.path}: not a freqtrade trades file: the JSON is a {type(records).__name__}, "
            "expected an array of [timestamp_ms, id, type, side, price, amount, cost]"
        )
    if numbered is None and src.truncated:
        rejects.add(len(records) + 1, "gzip stream ends early (truncated file)")
    pairs = {
        found
        for item in records[:1000]
        if isinstance(item, dict) and (found := _symbol_of(item.get("symbol"))) is not None
    }
    if symbol is None and len(pairs) == 1:
        ((name, content_market),) = pairs
        _, exchange, _ = _context(src.path, src.name, name, exchange, market)
        market = market or content_market
    else:
        name, exchange, market = _context(src.path, src.name, symbol, exchange, market)
    fast = _columns(records) if numbered is None else None
    if fast is not None:
        ts_ms, ids, side, price, amount = fast
        lines = np.arange(1, len(records) + 1, dtype=np.int64)
        return assemble(
            src_path=src.path,
            fmt=FORMAT,
            exchange=exchange,
            market=market,
            symbol=name,
            ts_ns=to_ns(ts_ms, "ms"),
            price=price,
            size=amount,
            side=side,
            trade_id=parse_ids(ids),
            lines=lines,
            rejects=rejects,
            max_backwards_ns=max_backwards_ns,
            labels=("price", "amount"),
        )
    ts: list[int] = []
    tids: list[Any] = []
    sides: list[int] = []
    prices: list[float] = []
    sizes: list[float] = []
    kept: list[int] = []
    for n, item in numbered or enumerate(records, start=1):
        try:
            t, tid, sd, px, amt = _row(item)
        except ValueError as exc:
            rejects.add(n, str(exc))
            continue
        ts.append(t)
        tids.append(tid)
        sides.append(1 if sd == "buy" else -1)
        prices.append(px)
        sizes.append(amt)
        kept.append(n)
    trade_ids = parse_ids(pa.array([None if i is None else str(i) for i in tids], pa.string()))
    return assemble(
        src_path=src.path,
        fmt=FORMAT,
        exchange=exchange,
        market=market,
        symbol=name,
        ts_ns=to_ns(np.asarray(ts, dtype=np.int64), "ms"),
        price=np.asarray(prices, dtype=np.float64),
        size=np.asarray(sizes, dtype=np.float64),
        side=np.asarray(sides, dtype=np.int8),
        trade_id=trade_ids,
        lines=np.asarray(kept, dtype=np.int64),
        rejects=rejects,
        max_backwards_ns=max_backwards_ns,
        labels=("price", "amount"),
    )


def _columns(
    records: list[Any],
) -> tuple[np.ndarray, pa.Array, np.ndarray, np.ndarray, np.ndarray] | None:
    """Columns of a clean list-of-lists file in one vectorised pass; ``None`` if anything is
    irregular (the record-by-record path then says what and where)."""
    if not records or not all(type(r) is list for r in records):
        return None
    if len({len(r) for r in records}) != 1 or len(records[0]) < 6:
        return None
    # One comprehension per column: ~6x faster than zip(*records) on a million rows.
    try:
        ts = pa.array([r[0] for r in records], pa.int64())
        ids = pa.array([r[1] for r in records])
        side = pa.array([r[3] for r in records], pa.string())
        price = pa.array([r[4] for r in records], pa.float64())
        amount = pa.array([r[5] for r in records], pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None
    if any(a.null_count for a in (ts, ids, side, price, amount)):
        return None
    if not (pa.types.is_integer(ids.type) or pa.types.is_string(ids.type)):
        return None
    buy = pc.equal(side, "buy").to_numpy(zero_copy_only=False)
    sell = pc.equal(side, "sell").to_numpy(zero_copy_only=False)
    if not np.all(buy | sell):
        return None
    return (
        np.asarray(ts.to_numpy(), dtype=np.int64),
        ids,
        np.where(buy, 1, -1).astype(np.int8),
        np.asarray(price.to_numpy(), dtype=np.float64),
        np.asarray(amount.to_numpy(), dtype=np.float64),
    )


def read_table(
    path: Path,
    *,
    symbol: str | None,
    exchange: str | None,
    market: str | None,
    max_backwards_ns: int = 0,
) -> ImportResult:
    """Import a freqtrade feather or parquet trades file (``line`` = record number)."""
    name, exchange, market = _context(path, path.name, symbol, exchange, market)
    try:
        with path.open("rb") as fh:
            magic = fh.read(6)
        table = feather.read_table(path) if magic == FEATHER_MAGIC else pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: cannot read as feather/parquet: {exc}") from exc
    missing = [c for c in ("timestamp", "side", "price", "amount") if c not in table.column_names]
    if missing:
        raise DataError(
            f"{path}: not a freqtrade trades table: no column {', '.join(missing)}; expected "
            "timestamp, id, type, side, price, amount, cost "
            f"(it has {', '.join(table.column_names)})"
        )
    rejects = Rejects(path)
    n = table.num_rows
    lines = np.arange(1, n + 1, dtype=np.int64)
    ok = np.ones(n, dtype=bool)
    cols: dict[str, np.ndarray] = {}
    for col in ("timestamp", "price", "amount"):
        arr = table.column(col)
        if pa.types.is_timestamp(arr.type):
            arr = pc.cast(pc.cast(arr, pa.timestamp("ms", tz=arr.type.tz)), pa.int64())
        null = arr.is_null().to_numpy(zero_copy_only=False)
        rejects.add_mask(ok & null, lines, f"{col} is empty")
        ok &= ~null
        target = pa.int64() if col == "timestamp" else pa.float64()
        cols[col] = pc.fill_null(pc.cast(arr, target), 0).to_numpy()
    side_text = table.column("side").to_numpy(zero_copy_only=False)
    side = np.where(side_text == "buy", 1, np.where(side_text == "sell", -1, 0)).astype(np.int8)
    rejects.add_mask(
        ok & (side == 0),
        lines,
        lambda i: f"side {quote(side_text[i])} is not buy or sell",
    )
    ok &= side != 0
    keep = np.flatnonzero(ok)
    ids = parse_ids(table.column("id").take(keep)) if "id" in table.column_names else None
    return assemble(
        src_path=path,
        fmt=FORMAT,
        exchange=exchange,
        market=market,
        symbol=name,
        ts_ns=to_ns(cols["timestamp"][keep], "ms"),
        price=cols["price"][keep],
        size=cols["amount"][keep],
        side=side[keep],
        trade_id=ids,
        lines=lines[keep],
        rejects=rejects,
        max_backwards_ns=max_backwards_ns,
        labels=("price", "amount"),
    )
