"""Fixed values of the ccxt venue: names, per-exchange parameter spellings, status maps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradewind.model import OrderStatus

#: The plugin's entry-point name (``plugin = "ccxt"`` in config).
PLUGIN_NAME = "ccxt"

#: Market types the plugin trades; ``swap`` means perpetual futures.
MARKET_TYPES: tuple[str, ...] = ("spot", "swap")

#: How order updates reach the plugin: ``auto`` = websocket where ccxt.pro offers
#: ``watchOrders``, else polling; ``off`` = only what the caller asks for.
ORDER_UPDATE_MODES: tuple[str, ...] = ("auto", "websocket", "poll", "off")

#: Rate limiters: the plugin's token bucket (default), ccxt's leaky bucket, ccxt's rolling
#: window.
RATE_LIMITERS: tuple[str, ...] = ("token_bucket", "leaky_bucket", "rolling_window")

#: Seconds the token bucket lets nothing leave after a 429 / 418 without ``Retry-After``.
DEFAULT_RATE_LIMIT_HOLD_S = 1.0

#: Every capability this plugin can declare; an instance narrows it to what its exchange offers.
ALL_CAPABILITIES: frozenset[str] = frozenset(
    {
        "execution",
        "order:market",
        "order:limit",
        "order:stop",
        "order:stop_limit",
        "tif:gtc",
        "tif:ioc",
        "tif:fok",
        "tif:post_only",
        "reduce_only",
        "funding",
    }
)

#: ccxt's unified order ``status`` → the domain's state (``open`` is refined by ``filled``).
CCXT_STATUS: Mapping[str, OrderStatus] = {
    "open": OrderStatus.ACCEPTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}

#: The create-order parameter carrying our client order id, where it is not ccxt's unified
#: ``clientOrderId`` (ccxt translates that one too, but naming the venue's own field makes a
#: request log read like the venue's documentation).
CLIENT_ID_CREATE_PARAM: Mapping[str, str] = {
    "binance": "newClientOrderId",
    "binanceusdm": "newClientOrderId",
    "binancecoinm": "newClientOrderId",
}
#: The fetch/cancel parameter that addresses an order by client order id.
CLIENT_ID_LOOKUP_PARAM: Mapping[str, str] = {
    "binance": "origClientOrderId",
    "binanceusdm": "origClientOrderId",
    "binancecoinm": "origClientOrderId",
    "bybit": "orderLinkId",
    "okx": "clOrdId",
}
DEFAULT_CLIENT_ID_PARAM = "clientOrderId"

#: Exchanges whose ccxt ``fetch_order`` cannot address an order by client id alone (ccxt's
#: bybit sends ``orderId=None``): the order is looked up through these list calls, in order,
#: with the client-id parameter, and matched on ``clientOrderId``.
LOOKUP_BY_LIST: Mapping[str, tuple[str, ...]] = {
    "bybit": ("fetch_open_orders", "fetch_closed_orders"),
}

#: Extra parameters of a fetch-order call, per exchange. Bybit v5 answers ``/v5/order/realtime``
#: for open and recent orders and wants the caller to acknowledge that limit.
FETCH_ORDER_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "bybit": {"acknowledged": True},
}

#: The ``fetch_my_trades`` parameter that narrows the account's trades to one order, for
#: exchanges whose ccxt ``fetchOrderTrades`` does not cover the market type.
MY_TRADES_ORDER_PARAM: Mapping[str, str] = {
    "binance": "orderId",
    "binanceusdm": "orderId",
    "binancecoinm": "orderId",
}

#: ccxt options set by default per exchange (the config's ``options`` table overrides them).
#: Bybit: assume a unified trading account (every new account is one) instead of asking the
#: venue at each fetch.
EXCHANGE_OPTIONS: Mapping[str, Mapping[str, Any]] = {
    "bybit": {"enableUnifiedAccount": True, "enableUnifiedMargin": False},
    "binance": {"warnOnFetchOpenOrdersWithoutSymbol": False},
    "binanceusdm": {"warnOnFetchOpenOrdersWithoutSymbol": False},
}

#: ccxt precision modes (ccxt.base.decimal_to_precision), named here so the plugin reads
#: without importing ccxt at module level.
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3
TICK_SIZE = 4

#: Defaults of the config.
DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_POLL_INTERVAL_S = 2.0

NS_PER_MS = 1_000_000


#: Where a derivatives exchange's balance response (ccxt's ``info``) lists the wallet balance
#: per asset, without unrealised P&L: (list key, asset key, wallet field). ccxt's unified
#: ``total`` of these is the margin balance (wallet + unrealised P&L).
WALLET_BALANCE: dict[str, tuple[str, str, str]] = {
    "binanceusdm": ("assets", "asset", "walletBalance"),
    "binancecoinm": ("assets", "asset", "walletBalance"),
}
