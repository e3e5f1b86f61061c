"""Derive data.binance.vision-style trade CSVs from the recorded Binance websocket captures.

No staged file is in the data.binance.vision layout, so these are rebuilt, field for field,
from the trade events of two real captures in this folder (hftbacktest recordings). Only the
standard library is used, independently of tradewind's importers, so that the test "the same
trades in two formats import to identical ticks" compares two separate readings.

Run from anywhere: ``python tests/data/make_binance_csv.py``. Output (overwritten):

- ``binance/BTCUSDT-trades-2023-04-05.zip``: spot trades layout, no header,
  ``id,price,qty,quote_qty,time,is_buyer_maker,is_best_match`` (Python-style ``True``/``False``
  as in the spot dumps), from ``hftbacktest/spot_btcusdt_20230405.dat.gz``.
- ``binance/BTCUSDT-aggTrades-2023-04-05.zip``: spot aggTrades layout, no header,
  ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,
  is_best_match``, aggregating the same trades the way Binance does: consecutive fills of one
  taker order at one price. The spot trade stream names both orders (``b`` buyer, ``a``
  seller); the taker is the seller when ``m`` is true. Real aggregate ids are not in the trade
  stream, so ``agg_trade_id`` numbers the aggregates from 1.
- ``binance/futures/um/BTCUSDT-trades-2024-07-18.csv``: USD-M futures trades layout, with the
  header line and lower-case ``true``/``false`` as in the futures dumps,
  ``id,price,qty,quote_qty,time,is_buyer_maker``, from ``hftbacktest/usdm_btcusdt_20240718.gz``
  (market trades only: ``"X": "MARKET"``, all 974 of them).

Prices and quantities are written exactly as the websocket sent them; ``quote_qty`` is
price x qty computed in decimal arithmetic.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Fixed archive timestamp so the zips are byte-identical on every run.
_ZIP_TIME = (2023, 4, 6, 0, 0, 0)


def trade_events(capture: Path) -> list[dict]:
    """The ``@trade`` events of a capture, in file order."""
    events = []
    with gzip.open(capture, "rt", encoding="utf-8") as fh:
        for line in fh:
            _, _, payload = line.partition(" ")
            if '@trade"' not in payload:
                continue
            msg = json.loads(payload)
            if msg["stream"].endswith("@trade"):
                events.append(msg["data"])
    events.sort(key=lambda d: d["t"])
    return events


def _quote_qty(price: str, qty: str, places: int | None) -> str:
    value = Decimal(price) * Decimal(qty)
    if places is not None:
        return f"{value:.{places}f}"
    text = format(value.normalize(), "f")
    return text


def _zip(path: Path, member: str, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(member, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, text)
    path.write_bytes(buf.getvalue())


def spot_trades(events: list[dict]) -> str:
    """The spot ``trades`` CSV text."""
    rows = [
        f"{d['t']},{d['p']},{d['q']},{_quote_qty(d['p'], d['q'], 8)},{d['T']},{d['m']!s},{d['M']!s}"
        for d in events
    ]
    return "\n".join(rows) + "\n"


def spot_agg_trades(events: list[dict]) -> str:
    """The spot ``aggTrades`` CSV text (consecutive fills of one taker order at one price)."""
    rows = []
    group: list[dict] = []

    def flush() -> None:
        if not group:
            return
        qty = sum((Decimal(d["q"]) for d in group), Decimal(0))
        first = group[0]
        rows.append(
            f"{len(rows) + 1},{first['p']},{qty:.8f},{first['t']},{group[-1]['t']},"
            f"{first['T']},{first['m']!s},{first['M']!s}"
        )
        group.clear()

    for d in events:
        taker = d["a"] if d["m"] else d["b"]
        if group:
            g = group[-1]
            g_taker = g["a"] if g["m"] else g["b"]
            if not (
                taker == g_taker
                and d["p"] == g["p"]
                and d["m"] == g["m"]
                and d["T"] == g["T"]
                and d["t"] == g["t"] + 1
            ):
                flush()
        group.append(d)
    flush()
    return "\n".join(rows) + "\n"


def futures_trades(events: list[dict]) -> str:
    """The USD-M futures ``trades`` CSV text, with its header line."""
    rows = ["id,price,qty,quote_qty,time,is_buyer_maker"]
    rows += [
        f"{d['t']},{d['p']},{d['q']},{_quote_qty(d['p'], d['q'], None)},{d['T']},"
        f"{str(d['m']).lower()}"
        for d in events
        if d.get("X", "MARKET") == "MARKET"
    ]
    return "\n".join(rows) + "\n"


def main() -> None:
    """Write the three derived files."""
    spot = trade_events(HERE / "hftbacktest" / "spot_btcusdt_20230405.dat.gz")
    _zip(
        HERE / "binance" / "BTCUSDT-trades-2023-04-05.zip",
        "BTCUSDT-trades-2023-04-05.csv",
        spot_trades(spot),
    )
    _zip(
        HERE / "binance" / "BTCUSDT-aggTrades-2023-04-05.zip",
        "BTCUSDT-aggTrades-2023-04-05.csv",
        spot_agg_trades(spot),
    )
    usdm = trade_events(HERE / "hftbacktest" / "usdm_btcusdt_20240718.gz")
    out = HERE / "binance" / "futures" / "um" / "BTCUSDT-trades-2024-07-18.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(futures_trades(usdm), encoding="utf-8")


if __name__ == "__main__":
    main()
