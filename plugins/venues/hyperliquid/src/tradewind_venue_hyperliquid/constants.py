"""Hyperliquid's fixed numbers and names, each with where it comes from.

Sources (Hyperliquid docs, hyperliquid.gitbook.io/hyperliquid-docs):

- Tick and lot size: ``for-developers/api/tick-and-lot-size`` — prices have at most 5
  significant figures and at most ``MAX_DECIMALS - szDecimals`` decimals (6 for perps, 8 for
  spot); integer prices are always allowed; sizes have at most ``szDecimals`` decimals.
- Fees: ``trading/fees`` — the base tier (14-day volume under $5M) pays 0.045 % taker and
  0.015 % maker on perps.
- Order statuses: ``for-developers/api/info-endpoint`` (query order status by oid or cloid).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from hyperliquid.utils import constants as _sdk

#: The API roots the SDK knows. The SDK signs as mainnet only when its base URL equals
#: :data:`MAINNET_API_URL`; this plugin signs by the configured ``network`` instead.
MAINNET_API_URL: Final[str] = _sdk.MAINNET_API_URL
TESTNET_API_URL: Final[str] = _sdk.TESTNET_API_URL

NETWORKS: Final[tuple[str, ...]] = ("mainnet", "testnet")
API_URL_BY_NETWORK: Final[dict[str, str]] = {
    "mainnet": MAINNET_API_URL,
    "testnet": TESTNET_API_URL,
}

#: Prices: at most this many significant figures (integer prices are always allowed).
PRICE_SIGNIFICANT_FIGURES: Final[int] = 5
#: Prices: at most ``MAX_DECIMALS - szDecimals`` decimals.
PERP_MAX_DECIMALS: Final[int] = 6
SPOT_MAX_DECIMALS: Final[int] = 8

#: Base-tier perp fees as fractions of notional (docs: trading/fees, tier 0).
BASE_TIER_PERP_TAKER_FEE: Final[Decimal] = Decimal("0.00045")
BASE_TIER_PERP_MAKER_FEE: Final[Decimal] = Decimal("0.00015")

#: The exchange refuses orders worth less than this ("Order must have minimum value of $10").
MIN_ORDER_NOTIONAL_USD: Final[Decimal] = Decimal("10")

#: Perps margin and settle in USDC.
QUOTE_CURRENCY: Final[str] = "USDC"

#: The SDK's default bound for market orders (Exchange.DEFAULT_SLIPPAGE): 5 % from the mid.
DEFAULT_MARKET_SLIPPAGE: Final[Decimal] = Decimal("0.05")

#: Time in force names on the wire.
TIF_GTC: Final[str] = "Gtc"
TIF_IOC: Final[str] = "Ioc"
TIF_ALO: Final[str] = "Alo"

#: Aggressor / order side codes on the wire: "B" bid (buy), "A" ask (sell).
SIDE_BUY: Final[str] = "B"
SIDE_SELL: Final[str] = "A"

#: The websocket server closes a connection that sent nothing for 60 s; the SDK pings every 50.
WS_PING_INTERVAL_S: Final[float] = 50.0

#: Order statuses of ``orderStatus`` / ``orderUpdates`` and what they mean for us.
ORDER_STATUS_OPEN: Final[frozenset[str]] = frozenset({"open", "triggered"})
ORDER_STATUS_FILLED: Final[frozenset[str]] = frozenset({"filled"})
ORDER_STATUS_CANCELED: Final[frozenset[str]] = frozenset(
    {
        "canceled",
        "marginCanceled",
        "vaultWithdrawalCanceled",
        "openInterestCapCanceled",
        "selfTradeCanceled",
        "reduceOnlyCanceled",
        "siblingFilledCanceled",
        "delistedCanceled",
        "liquidatedCanceled",
        "scheduledCancel",
    }
)
#: An IoC order that found nothing to match: our EXPIRED, as in the simulated venue.
ORDER_STATUS_IOC_UNMATCHED: Final[str] = "iocCancelRejected"
ORDER_STATUS_REJECTED: Final[frozenset[str]] = frozenset(
    {
        "rejected",
        "tickRejected",
        "minTradeNtlRejected",
        "perpMarginRejected",
        "reduceOnlyRejected",
        "badAloPxRejected",
        "badTriggerPxRejected",
        "marketOrderNoLiquidityRejected",
        "positionIncreaseAtOpenInterestCapRejected",
        "positionFlipAtOpenInterestCapRejected",
        "tooAggressiveAtOpenInterestCapRejected",
        "openInterestIncreaseRejected",
        "insufficientSpotBalanceRejected",
        "oracleRejected",
        "perpMaxPositionRejected",
    }
)

#: The start of the exchange's answer to an IoC order that found nothing to match.
IOC_UNMATCHED_ERROR_PREFIX: Final[str] = "Order could not immediately match"
#: How the exchange says it does not know the signer of an action.
UNKNOWN_SIGNER_MARKERS: Final[tuple[str, ...]] = ("does not exist", "User or API Wallet")
