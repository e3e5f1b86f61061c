"""The equity curve at decision closes, read from the fill ledger while nothing needs a mark.

Between fills (and funding payments) with every position flat and no venue account, the
equity is the ledger's running cash — starting cash, realised P&L, fees and funding — and it
changes only when the ledger does. :class:`EquityCurve` converts that Decimal once per ledger
change and appends the same float at every decision until the next one; only while a
position is open (or an account holds balances) does a point need the Decimal valuation of
:meth:`~tradewind.trading.portfolio.Portfolio.equity` at the marks. The points are the same
bits either way (``float`` of the same Decimal).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from tradewind.trading.accounts import ConversionError
from tradewind.trading.curves import Curve
from tradewind.trading.portfolio import Portfolio


class EquityCurve:
    """Appends ``(ts_ns, equity)`` points to ``points`` (the engine's live curve)."""

    def __init__(self, portfolio: Portfolio, points: Curve[tuple[int, float]]) -> None:
        self.portfolio = portfolio
        self.points = points
        self._cash: Decimal | None = None
        self._cash_float = 0.0
        #: Points valued at the marks (a position open or an account), for the benchmark.
        self.marked = 0
        #: Of those, points that took the last valuation because none of its inputs changed.
        self.reused = 0
        self._inputs: tuple[object, ...] | None = None
        self._value = 0.0

    def record(self, ts_ns: int) -> None:
        """The equity point of a decision at ``ts_ns`` (none while equity cannot be valued:
        a balance without a price; the decision itself says why)."""
        p = self.portfolio
        cash = p.cash_equity()
        if cash is not None:
            if cash is not self._cash:  # the ledger moved: a fill or a funding payment
                self._cash, self._cash_float = cash, float(cash)
            self.points.append((ts_ns, self._cash_float))
            return
        self.marked += 1
        # Between two marks (several instruments decide one after another at a grid time)
        # the valuation reads the same things: the same cash (a Decimal, replaced when it
        # changes), the same positions (frozen, replaced) at the same marks (the portfolio
        # counts each change), and no account. Then the point is the last one's float, the
        # same bits.
        inputs = None
        if not p.accounts:
            inputs = (p.cash, p.changes)
            kept = self._inputs
            if kept is not None and kept[0] is inputs[0] and kept[1] == inputs[1]:
                self.reused += 1
                self.points.append((ts_ns, self._value))
                return
        try:
            value = float(p.equity())
        except ConversionError:
            self._inputs = None
            return
        self._inputs, self._value = inputs, value
        self.points.append((ts_ns, value))

    def record_many(self, times: Sequence[int] | np.ndarray) -> None:
        """The points :meth:`record` gives at each of ``times`` (int64) in turn, the
        portfolio not changing between them (the backtest scheduler's flat stretches: no
        fill, no mark read in between). Flat without an account, that is one float over
        ``times``: a chunk of columns (the array ``times`` is kept)."""
        times = np.asarray(times, dtype=np.int64)
        p = self.portfolio
        cash = p.cash_equity()
        if cash is None:
            for ts_ns in times.tolist():
                self.record(ts_ns)
            return
        if cash is not self._cash:
            self._cash, self._cash_float = cash, float(cash)
        self.points.extend_columns(times, np.full(len(times), self._cash_float))
