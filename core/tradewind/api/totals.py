"""What the API's trade statistics (``/profit``, ``/performance``, ``/daily`` and the other
periods, ``/stats``) add up over every trade of the session, kept as running totals.

Each statistic is a loop over the session's trades in id order; :class:`Totals` holds where
each loop stands after the oldest trades (closed, in the reporting currency), so the views run
the same loops on from there over the trades kept in memory and answer the same numbers, bit
for bit: Decimal sums in the same order, counts, maxima, the same drawdown walk, and float
sums as :func:`sum` adds them (:class:`FloatSum`). The trades folded in can then leave memory.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradewind.api.views import Trade

ZERO = Decimal(0)
ONE = Decimal(1)
#: :func:`sum` of floats compensates its rounding from Python 3.12 on (Neumaier's method).
_COMPENSATED = sys.version_info >= (3, 12)
#: The periods ``/daily``, ``/weekly`` and ``/monthly`` count closed trades' profit in.
UNITS = ("days", "weeks", "months")


class FloatSum:
    """``sum(xs)`` of floats (start 0) and ``len(xs)``, as the floats come: the same float
    :func:`sum` returns for the whole list, on this interpreter."""

    __slots__ = ("c", "f", "n")

    def __init__(self) -> None:
        self.n = 0
        self.f = 0.0
        self.c = 0.0

    def add(self, x: float) -> None:
        """Add one float (as :func:`sum` does the next item)."""
        if not self.n:
            self.f = 0 + x
        elif _COMPENSATED:
            f = self.f
            t = f + x
            if abs(f) >= abs(x):
                self.c += (f - t) + x
            else:
                self.c += (x - t) + f
            self.f = t
        else:
            self.f += x
        self.n += 1

    def value(self) -> float | int:
        """What :func:`sum` returns: 0 (an int) for no item."""
        if not self.n:
            return 0
        if _COMPENSATED and self.c and math.isfinite(self.c):
            return self.f + self.c
        return self.f

    def mean(self) -> float:
        """``sum(xs) / len(xs)``, 0.0 for no item."""
        return self.value() / self.n if self.n else 0.0

    def copy(self) -> FloatSum:
        """A copy to add more to."""
        out = FloatSum()
        out.n, out.f, out.c = self.n, self.f, self.c
        return out


def period_start(d: dt.date, unit: str, shift: int) -> dt.date:
    """The first day of the ``unit`` (days, weeks from Monday, months) ``shift`` periods from
    the one ``d`` is in."""
    if unit == "days":
        return d + dt.timedelta(days=shift)
    if unit == "weeks":
        monday = d - dt.timedelta(days=d.weekday())
        return monday + dt.timedelta(weeks=shift)
    month = d.year * 12 + (d.month - 1) + shift
    return dt.date(month // 12, month % 12 + 1, 1)


def close_day(t: Trade) -> dt.date:
    """The (UTC) day a trade closed."""
    return dt.datetime.fromtimestamp((t.close_ts_ns or 0) / 1e9, tz=dt.UTC).date()


def closed_profit(t: Trade) -> tuple[Decimal, float | None, float | None]:
    """A closed trade's profit, and its ``profit_abs`` and ``profit_ratio`` as its JSON
    carries them (None: a fee without a price at its fill)."""
    profit = t.realized - t.fee_open - t.fee_close
    stake = t.stake
    ratio = float(profit / stake) if stake else 0.0
    if t.fees_not_converted:
        return profit, None, None
    return profit, float(profit), ratio


def as_decimal(value: float | None) -> Decimal:
    """A float profit as Decimal (0 for an unknown one: the caller nulls the sums then)."""
    return ZERO if value is None else Decimal(repr(value))


class ProfitLoop:
    """Where ``/profit``'s walk over the trades (id order) stands: every sum, count and
    maximum it takes, and the drawdown's walk over the closed trades."""

    def __init__(self) -> None:
        self.n = 0
        self.first = 0
        self.latest = 0
        #: ``conv.unpriced``: the trades whose profit is unknown, and why.
        self.errors: dict[str, str] = {}
        self.unconverted = False
        self.closed_sum = ZERO
        self.all_sum = ZERO
        self.ratios = FloatSum()
        self.closed_ratios = FloatSum()
        self.wins = 0
        self.losses = 0
        self.gross_win = ZERO
        self.loss_sum = ZERO
        self.by_pair: dict[str, Decimal] = {}
        self.durations = 0
        self.n_closed = 0
        self.volume = ZERO
        self.closed_by: dict[str, Decimal] = {}
        self.all_by: dict[str, Decimal] = {}
        # The drawdown of cumulative closed profit: peak, its time, the sum, the worst fall.
        self.peak = ZERO
        self.peak_ts = 0
        self.cum = ZERO
        self.worst: tuple[Decimal, int, int] = (ZERO, 0, 0)
        # The fees: as charged per currency, what they cost per P&L currency, the unpriced.
        self.fees_by: dict[str, Decimal] = {}
        self.fees_valued: dict[str, Decimal] = {}
        self.fees_missing: list[str] = []

    def copy(self) -> ProfitLoop:
        """A copy to walk on from."""
        out = ProfitLoop()
        out.__dict__.update(self.__dict__)
        for name in ("errors", "by_pair", "closed_by", "all_by", "fees_by", "fees_valued"):
            setattr(out, name, dict(getattr(self, name)))
        out.fees_missing = list(self.fees_missing)
        out.ratios, out.closed_ratios = self.ratios.copy(), self.closed_ratios.copy()
        return out

    def add(
        self,
        t: Trade,
        cur: str,
        conv: Callable[[str, Decimal], Decimal],
        profit_abs: float | None,
        ratio: float | None,
    ) -> None:
        """The next trade (by id), in P&L currency ``cur``; ``conv`` values an amount of its
        instrument's in the reporting currency; ``profit_abs`` and ``ratio`` as its JSON
        carries them."""
        if not self.n:
            self.first = t.open_ts_ns
        self.n += 1
        self.latest = max(self.latest, t.close_ts_ns or t.open_ts_ns)
        if t.fees_not_converted:
            self.errors[f"fees of trade {t.trade_id}"] = "; ".join(t.fees_not_converted)
            self.unconverted = True
        native = as_decimal(profit_abs)
        self.all_sum += conv(t.instrument, native)
        self.all_by[cur] = self.all_by.get(cur, ZERO) + native
        self.ratios.add(ratio or 0.0)
        for f in t.orders:
            self.volume += conv(t.instrument, f.quantity * f.price)
        self.fees_by[cur] = self.fees_by.get(cur, ZERO) + t.own_fees
        for c, amount in t.other_fees.items():
            self.fees_by[c] = self.fees_by.get(c, ZERO) + amount
        self.fees_valued[cur] = self.fees_valued.get(cur, ZERO) + (t.fee_open + t.fee_close)
        self.fees_missing.extend(t.fees_not_converted)
        if t.is_open:
            return
        p = t.profit or ZERO
        amount = conv(t.instrument, p)
        self.n_closed += 1
        self.closed_sum += amount
        self.closed_by[cur] = self.closed_by.get(cur, ZERO) + p
        self.closed_ratios.add(ratio or 0.0)
        if p > 0:
            self.wins += 1
            self.gross_win += amount
        elif p < 0:
            self.losses += 1
            self.loss_sum += amount
        self.by_pair[t.instrument] = self.by_pair.get(t.instrument, ZERO) + amount
        self.durations += (t.close_ts_ns or 0) - t.open_ts_ns
        self.cum += amount
        ts = t.close_ts_ns or 0
        if self.cum > self.peak:
            self.peak, self.peak_ts = self.cum, ts
        if self.peak - self.cum > self.worst[0]:
            self.worst = (self.peak - self.cum, self.peak_ts, ts)


class Totals:
    """The statistics' loops over the trades folded in (ids 1 to :attr:`n`, every one closed
    and in the reporting currency, whose conversion is exact: times one)."""

    def __init__(self) -> None:
        self.n = 0
        self.profit = ProfitLoop()
        #: ``/performance``: closed-trade profit (None: unknown) and count per pair.
        self.performance: dict[str, list[Any]] = {}
        #: ``/daily`` and the others: per unit, closed-trade profit and count per period.
        self.periods: dict[str, dict[dt.date, list[Any]]] = {u: {} for u in UNITS}
        #: The closed trades' latest close (the periods count back from it).
        self.last_close = 0
        #: ``conv.unpriced`` of the closed trades (the periods' money is null then).
        self.closed_errors: dict[str, str] = {}
        #: ``/stats``: wins, losses and draws per exit reason, and the durations per kind.
        self.reasons: dict[str, dict[str, int]] = {}
        self.durations: dict[str, FloatSum] = {k: FloatSum() for k in ("wins", "draws", "losses")}

    def add(self, t: Trade, cur: str) -> None:
        """Fold in the next closed trade (by id), whose P&L currency ``cur`` is the
        reporting one."""
        self.n += 1
        _, profit_abs, ratio = closed_profit(t)
        self.profit.add(t, cur, _times_one, profit_abs, ratio)
        add_performance(self.performance, t)
        if t.close_ts_ns:
            if t.fees_not_converted:
                self.closed_errors[f"fees of trade {t.trade_id}"] = "; ".join(t.fees_not_converted)
            self.last_close = max(self.last_close, t.close_ts_ns)
            d = close_day(t)
            amount = _times_one(t.instrument, t.profit or ZERO)
            for unit in UNITS:
                row = self.periods[unit].setdefault(period_start(d, unit, 0), [ZERO, 0])
                row[0] += amount
                row[1] += 1
        add_stats(self.reasons, self.durations, t)


def _times_one(instrument: str, amount: Decimal) -> Decimal:
    """An amount in the reporting currency valued in it (as the views' converter does)."""
    return amount * ONE


def add_performance(acc: dict[str, list[Any]], t: Trade) -> None:
    """``/performance``'s walk: one more trade (by id)."""
    if t.is_open:
        return
    p = t.profit
    row = acc.setdefault(t.instrument, [ZERO, 0])
    # A trade without a profit (a fee without a price) leaves its pair's unknown.
    row[0] = None if p is None or row[0] is None else row[0] + p
    row[1] += 1


def add_stats(reasons: dict[str, dict[str, int]], durs: dict[str, FloatSum], t: Trade) -> None:
    """``/stats``' walk: one more trade (by id)."""
    if t.is_open:
        return
    p = t.profit
    if p is None:
        return  # a fee without a price: neither a win nor a loss is known
    kind = "wins" if p > 0 else "losses" if p < 0 else "draws"
    r = reasons.setdefault(
        t.exit_reason.split(":")[0] or "unknown", {"wins": 0, "losses": 0, "draws": 0}
    )
    r[kind] += 1
    durs[kind].add(((t.close_ts_ns or 0) - t.open_ts_ns) / 1e9)
