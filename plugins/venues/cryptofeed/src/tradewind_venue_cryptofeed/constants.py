"""Fixed facts the venue relies on: channel names, exchanges with contiguous trade ids, defaults."""

from __future__ import annotations

from collections.abc import Mapping

from cryptofeed.defines import (
    BINANCE,
    BINANCE_DELIVERY,
    BINANCE_FUTURES,
    BINANCE_US,
    FUNDING,
    L2_BOOK,
    LIQUIDATIONS,
    TICKER,
    TRADES,
)

#: The plugin name (entry point ``tradewind.venues: cryptofeed``).
PLUGIN_NAME = "cryptofeed"

#: Channels a config may ask for, and the cryptofeed channel each one subscribes.
#: ``book`` is the exchange's best bid/offer stream (cryptofeed TICKER), ``l2`` its depth book.
CHANNELS: Mapping[str, str] = {
    "trades": TRADES,
    "book": TICKER,
    "l2": L2_BOOK,
    "funding": FUNDING,
    "liquidations": LIQUIDATIONS,
}

#: The capability each optional channel adds to ``{"data", "trades"}``.
CHANNEL_CAPABILITY: Mapping[str, str] = {
    "book": "book",
    "l2": "book",
    "funding": "funding",
    "liquidations": "liquidations",
}

#: Exchanges whose public trade ids (cryptofeed's ``Trade.id``) increase by exactly one per
#: trade and per symbol: Binance's aggregate-trade ids (``a``) on spot, USD-M and COIN-M. A
#: jump there is a lost trade, so ``gap_detection = "auto"`` checks ids on these and time
#: elsewhere.
CONTIGUOUS_ID_EXCHANGES: frozenset[str] = frozenset(
    {BINANCE, BINANCE_US, BINANCE_FUTURES, BINANCE_DELIVERY}
)

#: Exchanges where cryptofeed's ``Funding.predicted_rate`` holds Binance's estimated settle
#: price (``markPriceUpdate.P``) rather than a rate; the venue reports NaN there.
PREDICTED_RATE_IS_A_PRICE: frozenset[str] = frozenset({BINANCE_FUTURES, BINANCE_DELIVERY})

#: ``gap_detection`` modes.
GAP_MODES: tuple[str, ...] = ("auto", "trade_id", "time", "off")

#: Where exchanges put the best bid / ask sizes in their ticker payload (cryptofeed's Ticker has
#: prices only). Checked in order on the raw message and on its ``data`` member.
TOP_SIZE_KEYS: tuple[tuple[str, str], ...] = (
    ("B", "A"),  # Binance bookTicker
    ("bidSz", "askSz"),  # OKX tickers
    ("bid1Size", "ask1Size"),  # Bybit v5 tickers
    ("bidSize", "askSize"),  # BitMEX quote
    ("best_bid_size", "best_ask_size"),  # Coinbase ticker
    ("best_bid_quantity", "best_ask_quantity"),  # Coinbase Advanced Trade ticker
)

#: Trade side strings as cryptofeed normalises them (the taker's side).
CF_BUY = "buy"
CF_SELL = "sell"
