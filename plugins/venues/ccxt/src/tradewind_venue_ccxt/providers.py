"""Instruments from ccxt markets, and the mapping between config symbols and ccxt symbols.

Symbol mapping. ccxt names a market by a unified symbol (``BTC/USDT`` spot, ``BTC/USDT:USDT``
a USDT-settled perpetual) and by the exchange's own id (``BTCUSDT`` on Binance and Bybit,
``BTC-USDT-SWAP`` on OKX). A tradewind instrument of this venue is named by the exchange's
market id (``binance:BTCUSDT``), which is what the exchange's own data, docs and UI show. A
config may name a market either way; both resolve to the same instrument. Ids are looked up
among markets of the configured ``market_type`` only, so Binance's spot ``BTCUSDT`` and its
perpetual ``BTCUSDT`` never mix.

Quantisation. ``tick_size`` and ``lot_size`` come from ``market['precision']``, read according
to the exchange's ``precisionMode``: with ``TICK_SIZE`` (most exchanges) the precision is the
step itself; with ``DECIMAL_PLACES`` it is a number of decimals (2 → 0.01). With
``SIGNIFICANT_DIGITS`` no fixed step exists, and the market's minimum price/amount is used.
Contract markets state amounts in contracts: the lot is multiplied by ``contractSize`` so
tradewind quantities stay in base units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs
from tradewind.errors import VenueError
from tradewind.model import Instrument, InstrumentKind

from .constants import DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE
from .schemas import to_decimal


def precision_step(value: Any, precision_mode: int) -> Decimal | None:
    """The quantisation step a ccxt precision value means under ``precision_mode``."""
    d = to_decimal(value)
    if d is None:
        return None
    if precision_mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(d))
    if precision_mode == TICK_SIZE:
        return d if d > 0 else None
    if precision_mode == SIGNIFICANT_DIGITS:
        return None
    return d if d > 0 else None


def _limit(market: Mapping[str, Any], kind: str, bound: str) -> Decimal | None:
    limits = market.get("limits") or {}
    return to_decimal((limits.get(kind) or {}).get(bound))


def contract_size(market: Mapping[str, Any]) -> Decimal:
    """Base units per contract (1 for spot and for markets that do not say)."""
    if not market.get("contract"):
        return Decimal(1)
    size = to_decimal(market.get("contractSize"))
    return size if size and size > 0 else Decimal(1)


def instrument_from_market(
    market: Mapping[str, Any], venue: str, precision_mode: int
) -> Instrument:
    """The :class:`Instrument` of a ccxt market, named ``<venue>:<market id>``."""
    precision = market.get("precision") or {}
    size = contract_size(market)
    tick = precision_step(precision.get("price"), precision_mode) or _limit(market, "price", "min")
    lot = precision_step(precision.get("amount"), precision_mode) or _limit(market, "amount", "min")
    if tick is None or lot is None:
        raise VenueError(
            f"venue '{venue}': market {market.get('symbol')} states no price or amount step "
            f"(precision {precision!r}); it cannot be traded with exact quantisation"
        )
    min_cost = _limit(market, "cost", "min") or Decimal(0)
    return Instrument(
        venue=venue,
        symbol=str(market["id"]),
        kind=InstrumentKind.PERP if market.get("swap") else InstrumentKind.SPOT,
        tick_size=tick,
        lot_size=lot * size,
        min_notional=min_cost,
        maker_fee=to_decimal(market.get("maker")) or Decimal(0),
        taker_fee=to_decimal(market.get("taker")) or Decimal(0),
    )


@attrs.define
class MarketIndex:
    """The loaded markets of one market type, addressable by id, unified symbol or key."""

    venue: str
    markets: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # by unified symbol
    by_id: dict[str, str] = attrs.field(factory=dict)  # market id → unified symbol

    @classmethod
    def build(cls, venue: str, markets: Mapping[str, Mapping[str, Any]], market_type: str) -> Any:
        """Index ccxt's ``exchange.markets`` keeping markets of ``market_type`` only."""
        index = cls(venue=venue)
        for symbol, market in markets.items():
            if market.get("type") != market_type and not market.get(market_type):
                continue
            index.markets[symbol] = dict(market)
            index.by_id.setdefault(str(market["id"]), symbol)
        return index

    def resolve(self, name: str) -> str | None:
        """The unified symbol for a market id, a unified symbol or an instrument key."""
        if name in self.markets:
            return name
        if name in self.by_id:
            return self.by_id[name]
        prefix = f"{self.venue}:"
        if name.startswith(prefix):
            return self.resolve(name[len(prefix) :])
        return None

    def require(self, name: str, where: str = "") -> str:
        """Like :meth:`resolve`, raising a VenueError that lists a few known markets."""
        symbol = self.resolve(name)
        if symbol is None:
            sample = ", ".join(sorted(self.by_id)[:8])
            more = "" if len(self.by_id) <= 8 else f", ... ({len(self.by_id)} markets)"
            raise VenueError(
                f"venue '{self.venue}': no market {name!r}{where}; known: {sample}{more}"
            )
        return symbol

    def market(self, symbol: str) -> dict[str, Any]:
        """The ccxt market of a unified symbol."""
        return self.markets[symbol]

    def key(self, symbol: str) -> str:
        """The instrument key (``venue:market id``) of a unified symbol."""
        return f"{self.venue}:{self.markets[symbol]['id']}"

    def instruments(self, symbols: Iterable[str], precision_mode: int) -> list[Instrument]:
        """Instruments of the given unified symbols, in order, without duplicates."""
        seen: dict[str, Instrument] = {}
        for symbol in symbols:
            if symbol not in seen:
                seen[symbol] = instrument_from_market(
                    self.markets[symbol], self.venue, precision_mode
                )
        return list(seen.values())

    def active_symbols(self) -> list[str]:
        """Unified symbols of every active market, sorted."""
        return sorted(s for s, m in self.markets.items() if m.get("active") is not False)
