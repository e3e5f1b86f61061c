"""The daily-drawdown circuit breaker's arithmetic: where a batch's trades breach the limit.

Equity while the trades of one instrument's batch print is the context's equity with that one
instrument re-marked at each trade (the others keep their last marks):
``equity(p) = equity_without_it + quantity × p − cost``, which is linear in ``p``. So the
breach ``equity(p) ≤ limit`` is one price bound, computed in Decimal and compared with the
trades' float prices exactly (rounded towards the side that keeps the comparison exact).
"""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

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


#: The float pre-check's margin, relative to the magnitudes it sums (see :func:`clear_of`).
MARGIN = 1e-9


def clear_of(
    position: Position,
    prices: npt.NDArray[np.float64],
    mark: float,
    equity: Decimal,
    limit: float,
) -> bool:
    """True only when no trade of ``prices`` can breach ``limit`` (as a float): a float check
    that is conservative, so a False is answered by the exact path (:func:`equity_without`,
    :func:`breach_bound`, :func:`first_breach`); ``position`` must be the context's own
    position of its instrument, ``mark`` its last price and ``equity`` the context's equity
    there (above the limit).

    Exactly: with ``base = equity − (mark·q − cost)``, the bound is ``B = (limit − base +
    cost)/q = mark − (equity − limit)/q``, and a trade at ``p`` breaches when ``p ≤ B`` (a
    long) or ``p ≥ B`` (a short), both the same as ``g(p) = q·(p − mark) + (equity − limit) ≤
    0``; ``g`` is monotonic in ``p`` (increasing for a long), so the batch's lowest price (a
    long's; a short's highest) is its worst. The exact path's bound is that of Decimal
    arithmetic (six roundings, each within one unit of the 28th significant digit — the
    check requires a context of at least 20 — of the magnitudes ``S = |q|·(|p| + |mark| +
    |avg price|) + |equity| + |limit|``), of the mark as ``Decimal(repr(mark))`` (within
    1.2e-16 of it, relatively) and then taken to a float on the breaching side (exact for
    float prices); the float ``g`` here is within a few 1e-16 of ``S``. So ``g > 1e-9·S`` at
    the worst price means no trade breaches in either arithmetic. A NaN or infinite price,
    mark or magnitude makes the comparison False.
    """
    if getcontext().prec < 20:
        return False
    global _floats
    kept, q, avg = _floats
    if kept is not position:  # a position is frozen: its floats while it is the same one
        q, avg = float(position.quantity), abs(float(position.avg_price))
        _floats = (position, q, avg)
    # The worst price: NaN when numpy meets one; Python's min/max over a list either answer
    # NaN (the first is) or skip them, and a NaN price breaches in neither arithmetic.
    if len(prices) <= FEW:
        listed = prices.tolist()
        worst = min(listed) if q > 0 else max(listed)
    else:
        worst = float(prices.min()) if q > 0 else float(prices.max())
    e = float(equity)
    g = q * (worst - mark) + (e - limit)
    return g > MARGIN * (abs(q) * (abs(worst) + abs(mark) + avg) + abs(e) + abs(limit))


#: :func:`clear_of`'s last position and its quantity and absolute average price as floats.
_floats: tuple[Position | None, float, float] = (None, 0.0, 0.0)
