"""Instruments of the EVM venue: one spot instrument per configured pool."""

from __future__ import annotations

from decimal import Decimal

from tradewind.model import Instrument, InstrumentKind

from tradewind_venue_evm.pools import PoolAdapter


def split_symbol(symbol: str, where: str) -> tuple[str, str]:
    """("WETH", "USDC") of "WETH/USDC"; the token names the venue reports balances by."""
    base, slash, quote = symbol.partition("/")
    if not (base and slash and quote) or "/" in quote:
        raise ValueError(f"a pool symbol is BASE/QUOTE, e.g. 'WETH/USDC'; got {symbol!r} @ {where}")
    return base, quote


def pool_instrument(venue: str, pool: PoolAdapter) -> Instrument:
    """The spot instrument of ``pool``: its pool fee is the taker fee, there is no maker side."""
    smallest = Decimal(1).scaleb(-min(pool.base.decimals, 18))
    return Instrument(
        venue=venue,
        symbol=pool.cfg.symbol,
        kind=InstrumentKind.SPOT,
        tick_size=pool.cfg.tick_size,
        lot_size=max(pool.cfg.lot_size, smallest),
        min_notional=Decimal(0),
        maker_fee=pool.fee,
        taker_fee=pool.fee,
        base=pool.base.symbol,
        quote=pool.quote.symbol,
    )
