"""Helpers shared by risk filters: config values, numbers in veto reasons, and notionals.

Every function here reads a :class:`~tradewind.protocols.RiskContext` (or a plain value) and
nothing else, so a filter plugin can use them while depending on ``tradewind`` alone.

Prices: a position counts at the last traded price of its instrument, or at its average entry
price before the instrument's first trade; a pending order counts at its limit price, else its
stop price, else the last traded price (nothing before the first trade).
"""

from __future__ import annotations

import math
from decimal import Decimal

from tradewind.model import Order, Position, Signal
from tradewind.protocols import RiskContext

__all__ = [
    "fmt_money",
    "fmt_number",
    "fmt_pct",
    "fmt_position",
    "last_price",
    "open_entry_orders",
    "order_notional",
    "position_notional",
    "signal_notional",
    "to_decimal",
]


# -- config values --------------------------------------------------------------------------
def to_decimal(value: object) -> Decimal:
    """A Decimal from a config value; floats through their shortest repr (0.1 stays 0.1).

    Meant as an attrs converter (``attrs.field(converter=to_decimal)``). Strings, ints and
    Decimals go through :class:`~decimal.Decimal` unchanged, so a bad string raises
    :class:`decimal.InvalidOperation`.
    """
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)  # type: ignore[arg-type]


# -- numbers in veto reasons ----------------------------------------------------------------
def fmt_money(value: Decimal) -> str:
    """An amount of quote currency, to the cent with thousands separators: ``1,050.00``."""
    return f"{value:,.2f}"


def fmt_number(value: Decimal) -> str:
    """A price or quantity as given, with thousands separators and no exponent.

    ``50,000`` (not ``5E+4``), ``0.000012``: trailing zeros go, every significant digit stays.
    """
    return f"{value.normalize():,f}"


def fmt_pct(fraction: Decimal) -> str:
    """A fraction as a percentage, no trailing zeros: ``0.5`` → ``50%``, ``0.055`` → ``5.5%``."""
    return f"{(fraction * 100).normalize():f}%"


def fmt_position(ctx: RiskContext, position: Position) -> str:
    """An open position as a veto reason names it: ``long 0.01 at 50,000``.

    The average entry price is an exact quotient (28 digits); it is shown rounded to the
    instrument's tick, which is enough to read it.
    """
    held = "long" if position.quantity > 0 else "short"
    avg = ctx.instrument(position.instrument).round_price(position.avg_price)
    return f"{held} {fmt_number(abs(position.quantity))} at {fmt_number(avg)}"


# -- prices and notionals -------------------------------------------------------------------
def last_price(ctx: RiskContext, instrument: str) -> Decimal | None:
    """The last traded price of ``instrument`` as a Decimal, or None before its first trade.

    The float from :meth:`RiskContext.last_price` goes through its shortest repr, so a trade
    printed at 0.1 reads 0.1.
    """
    last = ctx.last_price(instrument)
    return None if math.isnan(last) else Decimal(repr(last))


def position_notional(ctx: RiskContext, position: Position) -> Decimal:
    """``|quantity| × last price`` of ``position``; its average entry price before the first trade.

    Longs and shorts alike are positive (gross notional).
    """
    price = last_price(ctx, position.instrument)
    return abs(position.quantity) * (position.avg_price if price is None else price)


def order_notional(ctx: RiskContext, order: Order) -> Decimal:
    """``quantity × price`` of a pending order.

    The price is the limit price, else the stop price, else the last traded price; an order with
    none of them (a market order before the instrument's first trade) counts 0.
    """
    price = order.price or order.stop_price or last_price(ctx, order.instrument)
    return order.quantity * (price or Decimal(0))


def open_entry_orders(ctx: RiskContext, instrument: str | None = None) -> list[Order]:
    """The open orders that are entries (not reduce-only), of ``instrument`` or of all.

    In the order :meth:`RiskContext.open_orders` gives them. Exits are reduce-only, so they
    never count as a pending entry.
    """
    return [
        o
        for o in ctx.open_orders()
        if not o.reduce_only and (instrument is None or o.instrument == instrument)
    ]


def signal_notional(signal: Signal) -> Decimal:
    """``|quantity| × entry`` of a sized signal.

    Raises:
        ValueError: the signal has no quantity (sizing runs before the filters; a filter that
            needs a notional refuses an unsized signal before it asks for one).
    """
    if signal.quantity is None:
        raise ValueError(f"signal for {signal.instrument} has no quantity")
    return abs(signal.quantity) * signal.entry
