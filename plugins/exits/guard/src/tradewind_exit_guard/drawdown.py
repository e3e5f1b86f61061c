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


def equity_without(instrument: str, ctx: RiskContext, equity: Decimal | None = None) -> Decimal:
    """The context's equity (``equity`` when the caller has just read it) less the
    unrealised P&L it counts for ``instrument``."""
    if equity is None:
        equity = ctx.equity()
    held = ctx.position(instrument)
    mark = ctx.last_price(instrument)
    if held.is_flat or math.isnan(mark):
        return equity
    return equity - held.unrealized_pnl(Decimal(repr(mark)))


def equity_at(position: Position, base: Decimal, price: float) -> Decimal:
    """Equity with ``position`` marked at ``price``, on top of ``base``."""
    return base + position.unrealized_pnl(Decimal(repr(price)))


#: Up to this many prices, :func:`first_breach` compares them as a Python list (the same
#: float comparisons) instead of paying numpy's fixed cost per call.
FEW = 64


def breach_bound(position: Position, base: Decimal, limit: Decimal) -> float:
    """The float price at or beyond which (below for a long, above for a short) equity is at
    or below ``limit``: the Decimal bound, rounded towards the side that keeps the float
    comparison exact."""
    bound = (limit - base + position.cost) / position.quantity
    f = float(bound)
    if position.quantity > 0:  # breach when price ≤ bound
        if Decimal(f) > bound:
            f = math.nextafter(f, -math.inf)
    elif Decimal(f) < bound:  # a short: breach when price ≥ bound
        f = math.nextafter(f, math.inf)
    return f


def first_breach(
    position: Position,
    prices: npt.NDArray[np.float64],
    base: Decimal,
    limit: Decimal,
    bound: float | None = None,
) -> int | None:
    """Index of the first of ``prices`` at which equity is at or below ``limit`` (``bound``:
    :func:`breach_bound` of the same arguments, when the caller kept it)."""
    if position.is_flat or len(prices) == 0:
        return None
    f = breach_bound(position, base, limit) if bound is None else bound
    long = position.quantity > 0
    if len(prices) <= FEW:
        for i, p in enumerate(prices.tolist()):
            if (p <= f) if long else (p >= f):
                return i
        return None
    idx = np.flatnonzero(prices <= f if long else prices >= f)
    return int(idx[0]) if len(idx) else None
