"""Instruments from Hyperliquid's ``meta``, and the exchange's price and size rules.

Hyperliquid has no fixed tick size (docs: for-developers/api/tick-and-lot-size). A perp price
is valid when it has at most 5 significant figures and at most ``6 - szDecimals`` decimals;
integer prices are always valid. So the tick depends on the price level: BTC (szDecimals 5)
trades in steps of 1 above 10,000 and of 0.1 between 1,000 and 10,000. An :class:`Instrument`
carries one tick, so it gets the tick in force at the mid price when it was loaded, and every
order price is checked against the exact rule by :func:`price_error` before it is sent.
Sizes have at most ``szDecimals`` decimals: the lot size is ``10**-szDecimals``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_UP, Decimal

import attrs
from tradewind.model import Instrument, InstrumentKind

from tradewind_venue_hyperliquid.constants import (
    MIN_ORDER_NOTIONAL_USD,
    PERP_MAX_DECIMALS,
    PRICE_SIGNIFICANT_FIGURES,
    SPOT_MAX_DECIMALS,
)
from tradewind_venue_hyperliquid.schemas import AssetMeta, PerpMeta

ONE = Decimal(1)


def max_price_decimals(sz_decimals: int, spot: bool = False) -> int:
    """The most decimals a price may have: ``MAX_DECIMALS - szDecimals``."""
    return (SPOT_MAX_DECIMALS if spot else PERP_MAX_DECIMALS) - sz_decimals


def lot_size(sz_decimals: int) -> Decimal:
    """The size step: ``10**-szDecimals``."""
    return Decimal(1).scaleb(-sz_decimals)


def price_tick(price: Decimal, sz_decimals: int, spot: bool = False) -> Decimal:
    """The price step in force at ``price``: the coarser of the two rules, never above 1."""
    finest = Decimal(1).scaleb(-max_price_decimals(sz_decimals, spot))
    if price <= 0:
        return finest
    # 5 significant figures: the step is 10^(exponent of the leading digit - 4).
    significant = Decimal(1).scaleb(price.adjusted() - (PRICE_SIGNIFICANT_FIGURES - 1))
    return min(max(finest, significant), ONE)


def price_error(price: Decimal, sz_decimals: int, spot: bool = False) -> str:
    """Why ``price`` is not a valid order price ("" when it is)."""
    if not price.is_finite() or price <= 0:
        return f"price {price} must be positive"
    if price == price.to_integral_value():
        return ""  # integer prices are always allowed
    max_dec = max_price_decimals(sz_decimals, spot)
    exponent = price.normalize().as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if decimals > max_dec:
        return (
            f"price {price} has {decimals} decimals; at most {max_dec} are allowed "
            f"(6 - szDecimals {sz_decimals})"
        )
    digits = len(price.normalize().as_tuple().digits)
    if digits > PRICE_SIGNIFICANT_FIGURES:
        return (
            f"price {price} has {digits} significant figures; at most "
            f"{PRICE_SIGNIFICANT_FIGURES} are allowed (integer prices are always allowed)"
        )
    return ""


def round_price(price: Decimal, sz_decimals: int, *, up: bool, spot: bool = False) -> Decimal:
    """The nearest valid price at or above (``up``) or at or below ``price``."""
    rounding = ROUND_UP if up else ROUND_DOWN
    tick = price_tick(price, sz_decimals, spot)
    out = (price / tick).quantize(ONE, rounding=rounding) * tick
    # Rounding up can carry into the next decade (9999.95 -> 10000), where the rule is coarser.
    if price_error(out, sz_decimals, spot):
        tick = price_tick(out, sz_decimals, spot)
        out = (out / tick).quantize(ONE, rounding=rounding) * tick
    return out.quantize(ONE) if out == out.to_integral_value() else out


def size_error(quantity: Decimal, sz_decimals: int) -> str:
    """Why ``quantity`` is not a valid order size ("" when it is)."""
    if quantity <= 0:
        return f"quantity {quantity} must be positive"
    if quantity % lot_size(sz_decimals):
        return (
            f"quantity {quantity} has more than szDecimals={sz_decimals} decimals "
            f"(lot size {lot_size(sz_decimals)})"
        )
    return ""


@attrs.frozen(kw_only=True)
class PerpAsset:
    """What the venue needs to know about one perp: its wire index and quantisation."""

    coin: str
    asset: int
    sz_decimals: int
    max_leverage: int
    only_isolated: bool = False


class InstrumentProvider:
    """Builds the venue's instruments from a ``meta`` payload (perps of the main dex)."""

    def __init__(self, meta: PerpMeta) -> None:
        self.assets: dict[str, PerpAsset] = {
            a.name: PerpAsset(
                coin=a.name,
                asset=index,
                sz_decimals=a.sz_decimals,
                max_leverage=a.max_leverage,
                only_isolated=a.only_isolated,
            )
            for index, a in enumerate(meta.universe)
            if not a.is_delisted
        }

    def asset(self, coin: str) -> PerpAsset:
        """The perp named ``coin``; KeyError naming close matches if it is not listed."""
        try:
            return self.assets[coin]
        except KeyError:
            near = [c for c in self.assets if c.lower() == coin.lower()]
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise KeyError(f"{coin} is not a listed Hyperliquid perp{hint}") from None

    def instruments(
        self,
        venue: str,
        coins: Iterable[str],
        mids: Mapping[str, Decimal],
        *,
        maker_fee: Decimal,
        taker_fee: Decimal,
    ) -> list[Instrument]:
        """Instruments for ``coins`` on venue instance ``venue``, ticks at the given mids."""
        out = []
        for coin in coins:
            a = self.asset(coin)
            mid = mids.get(coin)
            tick = (
                price_tick(mid, a.sz_decimals)
                if mid is not None
                else Decimal(1).scaleb(-max_price_decimals(a.sz_decimals))
            )
            out.append(
                Instrument(
                    venue=venue,
                    symbol=coin,
                    kind=InstrumentKind.PERP,
                    tick_size=tick,
                    lot_size=lot_size(a.sz_decimals),
                    min_notional=MIN_ORDER_NOTIONAL_USD,
                    maker_fee=maker_fee,
                    taker_fee=taker_fee,
                )
            )
        return out


def listed_coins(meta_universe: Sequence[AssetMeta]) -> list[str]:
    """Names of the listed (not delisted) perps, in the exchange's order."""
    return [a.name for a in meta_universe if not a.is_delisted]
