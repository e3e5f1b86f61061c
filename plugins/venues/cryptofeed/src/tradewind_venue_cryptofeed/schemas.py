"""cryptofeed's normalised payloads and how each becomes a tradewind value.

cryptofeed parses every exchange's JSON into a few Cython types (``Trade``, ``Ticker``,
``OrderBook``, ``Funding``, ``Liquidation``) with Decimal prices and float-second timestamps.
This module is the only place that reads them: timestamps become integer nanoseconds, Decimals
become float64, sides become +1 / -1, and trade ids become int64. The domain never sees a
cryptofeed name.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from tradewind.model import BookTop

from tradewind_venue_cryptofeed.constants import (
    CF_BUY,
    CF_SELL,
    PREDICTED_RATE_IS_A_PRICE,
    TOP_SIZE_KEYS,
)
from tradewind_venue_cryptofeed.market import FundingRate, L2Book, Liquidation

_INT63 = (1 << 63) - 1


def ts_to_ns(seconds: float | str | None) -> int:
    """cryptofeed's float seconds as integer nanoseconds, rounded to the microsecond.

    A float64 near 1.7e9 s resolves about 0.24 µs, so the microsecond is the finest digit it
    carries exactly; millisecond exchange times (Binance ``T``) come back exact.
    """
    if seconds is None:
        return 0
    # float(): cryptofeed's playback passes receipt times as the text it read from the file.
    return round(float(seconds) * 1_000_000) * 1_000


def side_code(side: str) -> int:
    """cryptofeed's taker side (``"buy"`` / ``"sell"``) as the tick batch code +1 / -1."""
    if side == CF_BUY:
        return 1
    if side == CF_SELL:
        return -1
    raise ValueError(f"unknown trade side {side!r}")


def trade_id_to_int(trade_id: str | int | None) -> int | None:
    """An exchange trade id as int64, or None when the exchange sends none.

    Numeric ids (Binance, OKX, Coinbase, ...) keep their value. Other ids (Bybit and BitMEX
    UUIDs) become a stable 63-bit hash of the id, so a resent trade gets the same number and
    de-duplication still works; their order means nothing.
    """
    if trade_id is None:
        return None
    if isinstance(trade_id, int):
        return trade_id
    try:
        value = int(trade_id)
    except ValueError:
        digest = hashlib.blake2b(trade_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") & _INT63
    if -_INT63 - 1 <= value <= _INT63:
        return value
    digest = hashlib.blake2b(trade_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _INT63


def trade_to_row(trade: Any) -> tuple[int, float, float, int, int | None]:
    """A cryptofeed ``Trade`` as ``(ts_ns, price, size, side, trade_id)``."""
    return (
        ts_to_ns(trade.timestamp),
        float(trade.price),
        float(trade.amount),
        side_code(trade.side),
        trade_id_to_int(trade.id),
    )


def _decimal_or_nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _top_sizes(raw: Any) -> tuple[float, float]:
    candidates: list[Mapping[str, Any]] = []
    if isinstance(raw, Mapping):
        candidates.append(raw)
        data = raw.get("data")
        if isinstance(data, Mapping):
            candidates.append(data)
        elif isinstance(data, list) and len(data) == 1 and isinstance(data[0], Mapping):
            candidates.append(data[0])
    for payload in candidates:
        for bid_key, ask_key in TOP_SIZE_KEYS:
            if bid_key in payload and ask_key in payload:
                try:
                    return float(payload[bid_key]), float(payload[ask_key])
                except (TypeError, ValueError):
                    continue
    return math.nan, math.nan


def ticker_to_book_top(ticker: Any, instrument: str, receipt_ts: float | str) -> BookTop:
    """A cryptofeed ``Ticker`` (best bid / ask) as a BookTop.

    cryptofeed's Ticker has prices only; the sizes come from the exchange's raw payload where
    it carries them (Binance ``B``/``A``, OKX ``bidSz``/``askSz``, ...) and are NaN otherwise.
    The time is the exchange's, or the receipt time when the exchange sends none.
    """
    bid_size, ask_size = _top_sizes(ticker.raw)
    ts = ticker.timestamp if ticker.timestamp is not None else receipt_ts
    return BookTop(
        instrument=instrument,
        ts_ns=ts_to_ns(ts),
        bid_price=_decimal_or_nan(ticker.bid),
        bid_size=bid_size,
        ask_price=_decimal_or_nan(ticker.ask),
        ask_size=ask_size,
    )


def book_to_l2(book: Any, instrument: str, depth: int, receipt_ts: float | str) -> L2Book:
    """The top ``depth`` levels per side of a cryptofeed ``OrderBook`` as an L2Book."""
    out: list[np.ndarray] = []
    for side in (book.book.bids, book.book.asks):
        n = min(depth, len(side))
        prices = np.empty(n, dtype=np.float64)
        sizes = np.empty(n, dtype=np.float64)
        for i in range(n):
            price, size = side.index(i)
            prices[i] = float(price)
            sizes[i] = float(size)
        out.extend((prices, sizes))
    ts = book.timestamp if book.timestamp is not None else receipt_ts
    seq = book.sequence_number
    return L2Book(
        instrument=instrument,
        ts_ns=ts_to_ns(ts),
        bid_price=out[0],
        bid_size=out[1],
        ask_price=out[2],
        ask_size=out[3],
        sequence=int(seq) if seq is not None else None,
    )


def funding_to_domain(funding: Any, instrument: str, receipt_ts: float | str) -> FundingRate:
    """A cryptofeed ``Funding`` as a FundingRate.

    On Binance USD-M / COIN-M cryptofeed fills ``predicted_rate`` from ``markPriceUpdate.P``,
    which is the *estimated settle price*, not a rate; it is dropped there (NaN).
    """
    ts = funding.timestamp if funding.timestamp is not None else receipt_ts
    nxt = funding.next_funding_time
    predicted = funding.predicted_rate
    if funding.exchange in PREDICTED_RATE_IS_A_PRICE:
        predicted = None
    return FundingRate(
        instrument=instrument,
        ts_ns=ts_to_ns(ts),
        rate=_decimal_or_nan(funding.rate),
        mark_price=_decimal_or_nan(funding.mark_price),
        predicted_rate=_decimal_or_nan(predicted),
        next_funding_ts_ns=ts_to_ns(nxt) if nxt is not None else None,
    )


def liquidation_to_domain(liq: Any, instrument: str, receipt_ts: float | str) -> Liquidation:
    """A cryptofeed ``Liquidation`` as a Liquidation."""
    ts = liq.timestamp if liq.timestamp is not None else receipt_ts
    return Liquidation(
        instrument=instrument,
        ts_ns=ts_to_ns(ts),
        side=side_code(liq.side),
        price=_decimal_or_nan(liq.price),
        size=_decimal_or_nan(liq.quantity),
        status=str(liq.status or ""),
        liquidation_id=None if liq.id is None else str(liq.id),
    )
