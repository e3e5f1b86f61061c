"""The ``[venues.<name>]`` table of a cryptofeed venue.

Public market data needs no keys, so this config has no secrets. Every field is checked when the
config is built: an unknown exchange, a channel the exchange does not offer or a nonsensical
number is a config error naming the key, never a warning at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from tradewind_venue_cryptofeed.constants import CHANNELS, GAP_MODES


def _exchange_names() -> list[str]:
    from cryptofeed.exchanges import EXCHANGE_MAP

    return sorted(EXCHANGE_MAP)


@attrs.frozen(kw_only=True)
class CryptofeedConfig:
    """Options of a cryptofeed data venue (see docs/venues/cryptofeed.md)."""

    #: cryptofeed exchange id, as in ``cryptofeed.defines``: "BINANCE", "BINANCE_FUTURES",
    #: "BYBIT", "OKX", "COINBASE", "KRAKEN", ...
    exchange: str = "BINANCE"
    #: Symbols to stream when the engine gives none: cryptofeed's normalised form
    #: ("BTC-USDT", "BTC-USDT-PERP") or the exchange's own ("BTCUSDT"). Instruments the engine
    #: passes to ``stream_trades`` are resolved the same way.
    symbols: list[str] = attrs.field(factory=lambda: ["BTC-USDT"])
    #: Channels: "trades" (always on) plus any of "book" (best bid/offer -> BookTop), "l2"
    #: (depth book -> L2Book), "funding" (-> FundingRate), "liquidations" (-> Liquidation).
    channels: list[str] = attrs.field(factory=lambda: ["trades"])
    #: A trade batch is yielded this long after its first trade arrived ...
    batch_ms: float = 100.0
    #: ... or as soon as it holds this many trades, whichever comes first.
    batch_max: int = 1000
    #: "auto" (trade ids on exchanges whose ids are contiguous, time elsewhere), "trade_id",
    #: "time" or "off". Gaps are reported as FeedGap events (a DataQuality) through the sink.
    gap_detection: str = "auto"
    #: Time gap: no trade of an instrument for this long is reported (time mode); 0 = never.
    time_gap_s: float = 60.0
    #: How many recent trade ids per instrument are remembered to drop duplicates.
    id_window: int = 10_000
    #: Levels per side kept in each L2Book.
    l2_depth: int = 10
    #: Reconnect attempts after a drop before the stream fails; -1 = forever.
    max_retries: int = -1
    #: First reconnect delay; doubles per failed attempt up to ``backoff_max_s`` (with jitter).
    backoff_initial_s: float = 1.0
    #: Largest reconnect delay.
    backoff_max_s: float = 30.0
    #: Websocket ping interval (the exchange must answer with a pong) ...
    ping_interval_s: float = 10.0
    #: ... and how long a pong may take before the connection is declared dead.
    ping_timeout_s: float = 20.0
    #: A connection that delivered no message for this long is closed and reopened; 0 = never
    #: (cryptofeed's own default; raise it for channels that can be quiet longer).
    stale_after_s: float = 120.0
    #: Use the exchange's sandbox / testnet endpoints where cryptofeed knows them.
    sandbox: bool = False
    #: Buffer of each ``subscribe()`` stream (book, l2, funding, liquidations).
    subscriber_buffer: int = 10_000
    #: Extra keyword arguments for the cryptofeed feed class, e.g. {depth_interval = "100ms"}.
    feed_options: Mapping[str, Any] = attrs.field(factory=dict)
    #: Send every websocket connection to this scheme and host instead, paths kept
    #: ("wss://proxy.example:9443"; cryptofeed accepts wss:// only).
    ws_host: str | None = None
    #: The same for REST calls (symbol table, book snapshots): "https://..." or "http://...".
    rest_host: str | None = None
    #: A PEM file of certificates to trust for the websocket TLS (a proxy's or a test server's
    #: own CA), instead of the system's.
    ca_file: str | None = None
    #: Base folder for a relative ``ca_file`` (the engine sets it to the config file's folder).
    base_dir: str = "."

    def __attrs_post_init__(self) -> None:
        from cryptofeed.exchanges import EXCHANGE_MAP

        feed_cls = EXCHANGE_MAP.get(self.exchange)
        if feed_cls is None:
            raise ValueError(
                f"unknown cryptofeed exchange {self.exchange!r}; known: "
                f"{', '.join(_exchange_names())}"
            )
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown:
            raise ValueError(
                f"unknown channel(s) {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(CHANNELS)}"
            )
        if "trades" not in self.channels:
            raise ValueError("channels must include 'trades' (the venue's tick stream)")
        offered = feed_cls.websocket_channels
        missing = [c for c in self.channels if CHANNELS[c] not in offered]
        if missing:
            have = [c for c, cf in CHANNELS.items() if cf in offered]
            raise ValueError(
                f"{self.exchange} does not offer {', '.join(map(repr, missing))} through "
                f"cryptofeed; it offers {', '.join(have)}"
            )
        if not self.symbols:
            raise ValueError("symbols must name at least one symbol")
        if self.gap_detection not in GAP_MODES:
            raise ValueError(
                f"gap_detection must be one of {', '.join(GAP_MODES)}, got {self.gap_detection!r}"
            )
        positive = {
            "batch_ms": self.batch_ms,
            "batch_max": self.batch_max,
            "id_window": self.id_window,
            "l2_depth": self.l2_depth,
            "backoff_initial_s": self.backoff_initial_s,
            "backoff_max_s": self.backoff_max_s,
            "ping_interval_s": self.ping_interval_s,
            "ping_timeout_s": self.ping_timeout_s,
            "subscriber_buffer": self.subscriber_buffer,
        }
        for key, value in positive.items():
            if value <= 0:
                raise ValueError(f"{key} must be positive, got {value}")
        for key, value in {
            "time_gap_s": self.time_gap_s,
            "stale_after_s": self.stale_after_s,
        }.items():
            if value < 0:
                raise ValueError(f"{key} must be >= 0 (0 turns it off), got {value}")
        if self.ws_host is not None and not self.ws_host.startswith("wss://"):
            raise ValueError(
                "ws_host must be a wss:// URL (cryptofeed refuses plain ws://), "
                f"got {self.ws_host!r}"
            )
        if self.rest_host is not None and not self.rest_host.startswith(("https://", "http://")):
            raise ValueError(f"rest_host must be an http(s):// URL, got {self.rest_host!r}")
        if self.ca_file is not None and self.ws_host is None:
            raise ValueError("ca_file applies to ws_host; set ws_host too")
        if self.max_retries < -1:
            raise ValueError(f"max_retries must be -1 (forever) or >= 0, got {self.max_retries}")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")

    @property
    def cf_channels(self) -> list[str]:
        """The cryptofeed channels to subscribe, in config order."""
        return [CHANNELS[c] for c in self.channels]
