"""The options of a ``[venues.<instance>]`` table with ``plugin = "hyperliquid"``.

Example::

    [venues.hyperliquid]
    network = "testnet"                       # required: "mainnet" or "testnet", no default
    private_key = "env:HL_PRIVATE_KEY"        # the signing key (the account's or an API wallet's)
    account_address = "env:HL_ACCOUNT"        # the account traded (optional: the key's address)
    symbols = ["BTC", "ETH"]
    leverage = { BTC = 5, ETH = 3 }
"""

from __future__ import annotations

from decimal import Decimal

import attrs
from tradewind.secrets import Secret

from tradewind_venue_hyperliquid.constants import (
    API_URL_BY_NETWORK,
    BASE_TIER_PERP_MAKER_FEE,
    BASE_TIER_PERP_TAKER_FEE,
    DEFAULT_MARKET_SLIPPAGE,
    NETWORKS,
)

MARGIN_MODES = ("cross", "isolated")


@attrs.frozen(kw_only=True)
class HyperliquidConfig:
    """Options of the Hyperliquid venue. Secrets are ``env:NAME`` references, never values."""

    #: "mainnet" or "testnet". Required and without a default, so that no config trades on
    #: mainnet by accident. It also chooses how actions are signed (mainnet or testnet chain),
    #: whatever ``base_url`` says.
    network: str | None = None
    #: The API root, e.g. a local test server or a proxy. Default: the network's public API.
    base_url: str | None = None
    #: ``env:NAME`` of the private key that signs actions: the account's own key or the key of
    #: an API wallet approved for the account. Without it the venue serves market data only.
    private_key: Secret | None = None
    #: ``env:NAME`` of the account's address (the master account when ``private_key`` is an
    #: API wallet). Default: the address of ``private_key``.
    account_address: Secret | None = None
    #: Coins traded and streamed, as Hyperliquid names them ("BTC", "ETH", "kPEPE"). Empty: the
    #: instruments the host config names for this venue, or every listed perp.
    symbols: tuple[str, ...] = ()
    #: Leverage per coin, set on connect (``{ BTC = 5 }``); coins not named keep theirs.
    leverage: dict[str, int] = attrs.Factory(dict)
    #: Margin mode the leverage is set with: "cross" or "isolated".
    margin_mode: str = "cross"
    #: Market orders are IoC limit orders at mid × (1 ± market_slippage): the worst price a
    #: market order may fill at. 0.05 (5 %) is the SDK's default.
    market_slippage: Decimal = DEFAULT_MARKET_SLIPPAGE
    #: Maker fee the instruments carry (fraction of notional). Default: Hyperliquid's base tier.
    maker_fee: Decimal = BASE_TIER_PERP_MAKER_FEE
    #: Taker fee the instruments carry (fraction of notional). Default: Hyperliquid's base tier.
    taker_fee: Decimal = BASE_TIER_PERP_TAKER_FEE
    #: Seconds an HTTP request may take before it counts as timed out.
    request_timeout_s: float = 10.0
    #: Every signed action carries ``expiresAfter`` = now + this; the exchange refuses it later.
    #: This bounds how long the outcome of a timed-out order can stay unknown.
    order_expiry_s: float = 10.0
    #: How far this machine's clock may run ahead of the exchange's. A timed-out order that the
    #: exchange does not know ``order_expiry_s + clock_skew_s`` after sending was never placed.
    clock_skew_s: float = 2.0
    #: Seconds between order lookups while the outcome of a timed-out order is unknown.
    lookup_interval_s: float = 0.5
    #: Stream the account's fills and order updates over the websocket (needs ``private_key``
    #: or ``account_address``).
    user_stream: bool = True
    #: First delay before reconnecting a dropped websocket; it doubles up to the maximum.
    reconnect_delay_s: float = 1.0
    max_reconnect_delay_s: float = 30.0

    def __attrs_post_init__(self) -> None:
        if self.network is None:
            raise ValueError(
                'network is required and has no default: set network = "mainnet" or '
                'network = "testnet" explicitly'
            )
        if self.network not in NETWORKS:
            raise ValueError(
                f"network must be one of {', '.join(repr(n) for n in NETWORKS)}, "
                f"got {self.network!r}"
            )
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if self.margin_mode not in MARGIN_MODES:
            raise ValueError(f"margin_mode must be 'cross' or 'isolated', got {self.margin_mode!r}")
        if not 0 < self.market_slippage < 1:
            raise ValueError(f"market_slippage must be in (0, 1), got {self.market_slippage}")
        for coin, lev in self.leverage.items():
            if lev < 1:
                raise ValueError(f"leverage.{coin} must be at least 1, got {lev}")
            if self.symbols and coin not in self.symbols:
                raise ValueError(
                    f"leverage.{coin}: {coin} is not in symbols ({', '.join(self.symbols)})"
                )
        for name in (
            "request_timeout_s",
            "order_expiry_s",
            "lookup_interval_s",
            "reconnect_delay_s",
            "max_reconnect_delay_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.clock_skew_s < 0:
            raise ValueError(f"clock_skew_s must be >= 0, got {self.clock_skew_s}")

    @property
    def api_url(self) -> str:
        """The API root requests go to."""
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        return API_URL_BY_NETWORK[self.network]  # type: ignore[index]

    @property
    def ws_url(self) -> str:
        """The websocket endpoint (the SDK's rule: the API root with ws(s):// and /ws)."""
        return "ws" + self.api_url[len("http") :] + "/ws"

    @property
    def is_mainnet(self) -> bool:
        """True when actions are signed for mainnet."""
        return self.network == "mainnet"
