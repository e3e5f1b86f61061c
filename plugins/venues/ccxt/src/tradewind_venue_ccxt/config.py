"""The ccxt venue's configuration: which exchange, which markets, credentials, endpoints.

Example (``tradewind.toml``)::

    [venues.binance]
    plugin = "ccxt"
    exchange = "binanceusdm"
    market_type = "swap"
    symbols = ["BTCUSDT", "ETH/USDT:USDT"]
    api_key = "env:BINANCE_API_KEY"
    secret = "env:BINANCE_SECRET"

Secrets are ``env:NAME`` references (:class:`tradewind.secrets.Secret`); the value is read
from the environment when the venue connects and is never logged or put in a message.
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path
from typing import Any

import attrs
from tradewind.secrets import Secret

from .constants import (
    DEFAULT_POLL_INTERVAL_S,
    DEFAULT_TIMEOUT_MS,
    MARKET_TYPES,
    ORDER_UPDATE_MODES,
    RATE_LIMITERS,
)


def ccxt_exchange_ids() -> list[str]:
    """The exchange ids the installed ccxt offers, read from its files (no import of ccxt)."""
    spec = importlib.util.find_spec("ccxt")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))) / "async_support"
    return sorted(
        p.stem for p in folder.glob("*.py") if not p.stem.startswith("_") and p.stem != "base"
    )


@attrs.frozen(kw_only=True)
class CcxtVenueConfig:
    """Options of the ccxt venue (one exchange, one market type per instance)."""

    #: ccxt exchange id: ``binance`` (spot), ``binanceusdm`` (USDⓈ-M futures), ``bybit``,
    #: ``okx``, ... Any exchange of the installed ccxt.
    exchange: str = "binance"
    #: ``spot`` or ``swap`` (perpetual futures). Only markets of this type are loaded.
    market_type: str = "spot"
    #: The instruments to trade: the exchange's own market id (``BTCUSDT``, ``BTC-USDT-SWAP``)
    #: or ccxt's unified symbol (``BTC/USDT:USDT``). Instruments are always named by the market
    #: id. Empty: every active market of ``market_type`` (plus those the host config names).
    symbols: list[str] = attrs.Factory(list)
    #: API key, as ``env:NAME``. Needed for everything but instruments and funding rates.
    api_key: Secret | None = None
    #: API secret, as ``env:NAME``.
    secret: Secret | None = None
    #: API passphrase where the exchange has one (OKX, KuCoin, Bitget), as ``env:NAME``.
    password: Secret | None = None
    #: Use the exchange's testnet (ccxt ``set_sandbox_mode``).
    sandbox: bool = False
    #: Replace entries of ccxt's ``urls['api']`` by key, e.g. ``{public = "...", private =
    #: "..."}`` for Binance spot or ``{fapiPublic = "...", fapiPrivate = "..."}`` for USDⓈ-M.
    api_urls: dict[str, str] = attrs.Factory(dict)
    #: Send every REST and websocket request to this scheme and host instead, keeping each
    #: URL's path (``http://127.0.0.1:8080``; websockets become ``ws://``). For a proxy or a
    #: local test server. Applied before ``api_urls``.
    api_host: str | None = None
    #: Per-request timeout in milliseconds; a create that times out is looked up, never resent.
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    #: ``auto`` (websocket where ccxt.pro has ``watchOrders``, else polling), ``websocket``,
    #: ``poll`` or ``off``.
    order_updates: str = "auto"
    #: Seconds between polls of the open orders, in every mode but ``off`` (with the websocket
    #: too: a lost update is caught up within one interval).
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    #: The rate limiter: ``"token_bucket"`` (the plugin's: the exchange's ``rateLimit`` and
    #: per-endpoint weights, refilled in real time while idle, so an order after idle time
    #: leaves at once and a burst is paced; ``rate_burst_s`` of weight may leave at once;
    #: creates and cancels waiting for it leave before lookups and polls, a waiting read
    #: being overtaken by at most 4 of them),
    #: ``"leaky_bucket"`` (ccxt's default; ccxt 4.5 refills it only while a request waits, so
    #: an idle host's next order still pays the last request's cost, ccxt/ccxt#25556) or
    #: ``"rolling_window"`` (ccxt's: at most the exchange's rate over ``rate_window_s``; once
    #: a burst has filled the window every request waits for it to move).
    rate_limiter: str = "token_bucket"
    #: The ``token_bucket``'s capacity, in seconds of the exchange's rate (Binance USDⓈ-M,
    #: ``rateLimit`` 50 ms: 1 s = 20 weight, five creates).
    rate_burst_s: float = 1.0
    #: The window of the ``rolling_window`` limiter, in seconds.
    rate_window_s: float = 60.0
    #: Times a create that timed out is looked up by client order id before giving up.
    lookup_attempts: int = 3
    #: Seconds between those lookups.
    lookup_delay_s: float = 0.5
    #: ccxt's ``fetchMarkets`` types to load; empty = derived from ``market_type``
    #: (``spot`` → ``spot``; ``swap`` → ``swap`` or ``linear``, by the exchange's vocabulary).
    fetch_market_types: list[str] = attrs.Factory(list)
    #: Load the currency list at connect (a private call on several exchanges; off by default).
    load_currencies: bool = False
    #: Extra ccxt ``options`` for the exchange, merged over the plugin's defaults.
    options: dict[str, Any] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        if self.market_type not in MARKET_TYPES:
            raise ValueError(
                f"market_type must be one of {', '.join(MARKET_TYPES)}, got {self.market_type!r}"
            )
        if self.order_updates not in ORDER_UPDATE_MODES:
            raise ValueError(
                f"order_updates must be one of {', '.join(ORDER_UPDATE_MODES)}, "
                f"got {self.order_updates!r}"
            )
        if self.rate_limiter not in RATE_LIMITERS:
            raise ValueError(
                f"rate_limiter must be one of {', '.join(RATE_LIMITERS)}, got {self.rate_limiter!r}"
            )
        if self.rate_burst_s <= 0:
            raise ValueError(f"rate_burst_s must be positive, got {self.rate_burst_s}")
        if self.rate_window_s <= 0:
            raise ValueError(f"rate_window_s must be positive, got {self.rate_window_s}")
        if self.timeout_ms <= 0:
            raise ValueError(f"timeout_ms must be positive, got {self.timeout_ms}")
        if self.poll_interval_s <= 0:
            raise ValueError(f"poll_interval_s must be positive, got {self.poll_interval_s}")
        if self.lookup_attempts < 1:
            raise ValueError(f"lookup_attempts must be at least 1, got {self.lookup_attempts}")
        if self.lookup_delay_s < 0:
            raise ValueError(f"lookup_delay_s must be >= 0, got {self.lookup_delay_s}")
        if (self.api_key is None) != (self.secret is None):
            raise ValueError("api_key and secret must be given together (both env:NAME)")
        if self.api_host is not None and not self.api_host.startswith(("http://", "https://")):
            raise ValueError(f"api_host must start with http:// or https://, got {self.api_host!r}")
        known = ccxt_exchange_ids()
        if known and self.exchange not in known:
            close = difflib.get_close_matches(self.exchange, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(
                f"exchange {self.exchange!r} is not a ccxt exchange id "
                f"(ccxt offers {len(known)} exchanges){hint}"
            )

    @property
    def has_credentials(self) -> bool:
        """True when an API key and secret are configured."""
        return self.api_key is not None and self.secret is not None

    def secrets(self) -> list[Secret]:
        """The configured secrets (for redaction)."""
        return [s for s in (self.api_key, self.secret, self.password) if s is not None]
