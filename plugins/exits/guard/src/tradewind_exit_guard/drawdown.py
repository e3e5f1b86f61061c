"""The daily-drawdown circuit breaker's arithmetic: where a batch's trades breach the limit.

Equity while the trades of one instrument's batch print is the context's equity with that one
instrument re-marked at each trade (the others keep their last marks):
``equity(p) = equity_without_it + quantity × p − cost``, which is linear in ``p``. So the
breach ``equity(p) ≤ limit`` is one price bound, computed in Decimal and compared with the
trades' float prices exactly (rounded towards the side that keeps the comparison exact).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import numpy.typing as npt
from tradewind.model import Position
from tradewind.protocols import RiskContext


def equity_without(instrument: str, ctx: RiskContext) -> Decimal:
    """The context's equity less the unrealised P&L it counts for ``instrument``."""
    equity = ctx.equity()
    held = ctx.position(instrument)
    mark = ctx.last_price(instrument)
    if held.is_flat or math.isnan(mark):
        return equity
    return equity - held.unrealized_pnl(Decimal(repr(mark)))


def equity_at(position: Position, base: Decimal, price: float) -> Decimal:
    """Equity with ``position`` marked at ``price``, on top of ``base``."""
    return base + position.unrealized_pnl(Decimal(repr(price)))


def first_breach(
    position: Position, prices: npt.NDArray[np.float64], base: Decimal, limit: Decimal
) -> int | None:
    """Index of the first of ``prices`` at which equity is at or below ``limit``."""
    if position.is_flat or len(prices) == 0:
        return None
    bound = (limit - base + position.cost) / position.quantity
    f = float(bound)
    if position.quantity > 0:  # breach when price ≤ bound
        if Decimal(f) > bound:
            f = math.nextafter(f, -math.inf)
        hit = prices <= f
    else:  # a short: breach when price ≥ bound
        if Decimal(f) < bound:
            f = math.nextafter(f, math.inf)
        hit = prices >= f
    idx = np.flatnonzero(hit)
    return int(idx[0]) if len(idx) else None
