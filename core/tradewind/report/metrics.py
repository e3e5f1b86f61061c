"""Run metrics and the report files: JSON, and one HTML page that opens offline.

Every metric is computed from what a run produced (a
:class:`~tradewind.trading.engine.RunResult`, or
the :class:`RunFigures` the engine builds at the end of a run), never from the engine's
internals, and is defined in docs/report.md. Money is exact:
P&L, fees, funding, expectancy, profit factor and total return are ``Decimal`` and appear in
JSON as strings. Ratios of the float equity curve (Sharpe, Sortino, drawdown) and of time
(exposure, trades per hour) are floats.

The HTML page (:mod:`tradewind.report.html`) is one self-contained file with interactive
plotly charts; it loads nothing and links nowhere.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tradewind.report import _arrays
from tradewind.report._json import dumps_indented
from tradewind.timeframes import format_timeframe, parse_timeframe
from tradewind.trading.pnl import (
    MoneyTotal,
    rate_table,
    value_closed_trades,
)
from tradewind.trading.pnl import fee_total as pnl_fee_total

if TYPE_CHECKING:
    from tradewind.model import Fill
    from tradewind.report.analysis import Analysis
    from tradewind.report.trades import OpenTrade, Trade
    from tradewind.trading.engine import RunResult

NS_PER_SECOND = 1_000_000_000
NS_PER_HOUR = 3600 * NS_PER_SECOND
#: Crypto markets trade every day of the year: annualisation uses 365 days.
NS_PER_YEAR = 365 * 86_400 * NS_PER_SECOND
ZERO = Decimal(0)


# -- metrics ------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Funnel:
    """How candidates thinned out: evaluated, rejected per gate, signals, vetoed per filter,
    orders sent."""

    candidates: int = 0
    rejected: Mapping[str, int] = attrs.Factory(dict)
    signals: int = 0
    vetoed: Mapping[str, int] = attrs.Factory(dict)
    orders: int = 0

    @classmethod
    def from_flat(cls, flat: Mapping[str, int]) -> Funnel:
        """From the summary's flat form ``{"candidates", "rejected:<gate>", "signals",
        "vetoed:<filter>", "orders"}``."""
        return cls(
            candidates=int(flat.get("candidates", 0)),
            rejected={k[9:]: int(v) for k, v in flat.items() if k.startswith("rejected:")},
            signals=int(flat.get("signals", 0)),
            vetoed={k[7:]: int(v) for k, v in flat.items() if k.startswith("vetoed:")},
            orders=int(flat.get("orders", 0)),
        )

    def bars(self) -> list[tuple[str, int, str]]:
        """``(label, count, stage)`` in funnel order; stage is pass, reject or veto."""
        out = [("candidates", self.candidates, "pass")]
        out += [(f"rejected: {k}", v, "reject") for k, v in self.rejected.items()]
        out.append(("signals", self.signals, "pass"))
        out += [(f"vetoed: {k}", v, "veto") for k, v in self.vetoed.items()]
        out.append(("orders", self.orders, "pass"))
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "candidates": self.candidates,
            "rejected": dict(self.rejected),
            "signals": self.signals,
            "vetoed": dict(self.vetoed),
            "orders": self.orders,
        }


@attrs.frozen(kw_only=True)
class Drawdown:
    """The deepest fall of the equity curve from a running peak, and how long it lasted."""

    #: Depth as a fraction of the peak: ``(peak - trough) / peak``.
    depth: float = 0.0
    peak_ts_ns: int | None = None
    trough_ts_ns: int | None = None
    #: When equity first got back to the peak, or the curve's last point if it never did.
    end_ts_ns: int | None = None
    recovered: bool = True

    @property
    def duration_ns(self) -> int:
        """Peak to recovery, or peak to the end of the curve."""
        if self.peak_ts_ns is None or self.end_ts_ns is None:
            return 0
        return self.end_ts_ns - self.peak_ts_ns


@attrs.frozen(kw_only=True)
class Metrics:
    """Everything the report states about a run. See docs/report.md for each definition."""

    starting_equity: Decimal
    final_equity: Decimal
    #: ``(final - starting) / starting``; None when starting equity is 0.
    total_return: Decimal | None
    #: Bar length of the sampled equity curve (the strategy timeframe) and bars per year.
    bar_ns: int | None
    periods_per_year: float | None
    #: Number of bar-to-bar returns Sharpe and Sortino were computed from.
    returns: int
    sharpe: float | None
    sortino: float | None
    drawdown: Drawdown
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    gross_profit: Decimal
    gross_loss: Decimal
    net_pnl: Decimal
    profit_factor: Decimal | None
    expectancy: Decimal | None
    start_ts_ns: int | None
    end_ts_ns: int | None
    exposure: float | None
    trades_per_hour: float | None
    #: Fees in the run's currency (each fee currency converted at the run's rates); None
    #: when one has no rate (``fees_by_currency`` holds the amounts, ``fees_error`` why).
    fees_paid: Decimal | None
    funding_paid: Decimal
    funnel: Funnel
    #: P&L currencies of closed trades that had no price in the run's currency: the trade
    #: sums (gross profit and loss, net P&L, profit factor, expectancy) are then not stated.
    unvalued: tuple[str, ...] = ()
    #: Fees per currency: the quote's for fees in the quote or the bought asset (valued at
    #: the fill price), a third currency's own.
    fees_by_currency: Mapping[str, Decimal] = attrs.Factory(dict)
    fees_error: str = ""

    @property
    def duration_ns(self) -> int:
        """Length of the run: ``end_ts_ns - start_ts_ns``."""
        if self.start_ts_ns is None or self.end_ts_ns is None:
            return 0
        return self.end_ts_ns - self.start_ts_ns

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: Decimals as strings, None as null."""
        out = self._json()
        if self.unvalued:
            for key in ("gross_profit", "gross_loss", "net_pnl", "profit_factor", "expectancy"):
                out[key] = None
            out["unvalued_currencies"] = list(self.unvalued)
        return out

    def _json(self) -> dict[str, Any]:
        dd = self.drawdown
        return {
            "starting_equity": _dstr(self.starting_equity),
            "final_equity": _dstr(self.final_equity),
            "total_return": _dstr(self.total_return),
            "timeframe": format_timeframe(self.bar_ns) if self.bar_ns else None,
            "periods_per_year": self.periods_per_year,
            "returns": self.returns,
            "sharpe": self.sharpe,
            "sortino": self.sortino,
            "max_drawdown": dd.depth,
            "max_drawdown_peak_ts_ns": dd.peak_ts_ns,
            "max_drawdown_trough_ts_ns": dd.trough_ts_ns,
            "max_drawdown_end_ts_ns": dd.end_ts_ns,
            "max_drawdown_duration_ns": dd.duration_ns,
            "max_drawdown_recovered": dd.recovered,
            "trades": self.trades,
            "wins": self.wins,
            "losses": self.losses,
            "win_rate": self.win_rate,
            "gross_profit": _dstr(self.gross_profit),
            "gross_loss": _dstr(self.gross_loss),
            "net_pnl": _dstr(self.net_pnl),
            "profit_factor": _dstr(self.profit_factor),
            "expectancy": _dstr(self.expectancy),
            "start_ts_ns": self.start_ts_ns,
            "end_ts_ns": self.end_ts_ns,
            "duration_ns": self.duration_ns,
            "exposure": self.exposure,
            "trades_per_hour": self.trades_per_hour,
            "fees_paid": _dstr(self.fees_paid),
            "fees_paid_by_currency": {c: str(v) for c, v in sorted(self.fees_by_currency.items())},
            "fees_not_converted": self.fees_error or None,
            "funding_paid": _dstr(self.funding_paid),
            "funnel": self.funnel.to_json(),
        }


def _dstr(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def equity_points(curve: Iterable[tuple[int, float]]) -> list[tuple[int, float]]:
    """The equity curve in time order with one point per timestamp (the last one recorded).

    With several instruments the engine records equity at each instrument's candle close, so
    one close time can appear once per instrument.
    """
    out: list[tuple[int, float]] = []
    for ts, eq in sorted(curve, key=lambda p: p[0]):
        if out and out[-1][0] == ts:
            out[-1] = (ts, float(eq))
        else:
            out.append((int(ts), float(eq)))
    return out


def bar_returns(points: Sequence[tuple[int, float]]) -> np.ndarray:
    """Simple returns between consecutive equity points: ``E[i] / E[i-1] - 1``."""
    eq = np.array([e for _, e in points], dtype=np.float64)
    if len(eq) < 2 or np.any(eq[:-1] <= 0):
        return np.zeros(0)
    return eq[1:] / eq[:-1] - 1.0


def sharpe_ratio(returns: np.ndarray, periods_per_year: float) -> float | None:
    """``mean(r) / stdev(r) * sqrt(periods_per_year)``; sample stdev (n - 1), risk-free 0.

    None with fewer than two returns or zero deviation.
    """
    if len(returns) < 2:
        return None
    sd = float(np.std(returns, ddof=1))
    if sd == 0 or not math.isfinite(sd):
        return None
    return float(np.mean(returns)) / sd * math.sqrt(periods_per_year)


def sortino_ratio(returns: np.ndarray, periods_per_year: float) -> float | None:
    """``mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(periods_per_year)``: target 0, downside
    deviation over all n returns. None with no returns or no negative return."""
    if len(returns) == 0:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    if downside == 0:
        return None
    return float(np.mean(returns)) / downside * math.sqrt(periods_per_year)


def max_drawdown(points: Sequence[tuple[int, float]]) -> Drawdown:
    """The deepest peak-to-trough fall of ``points`` and its duration (peak to recovery, or
    to the last point when equity never got back to the peak)."""
    best = Drawdown()
    if not points:
        return best
    peak, peak_ts = points[0][1], points[0][0]
    worst = 0.0
    at: tuple[int, int, float] | None = None  # (peak ts, trough ts, peak value)
    for ts, eq in points:
        if eq >= peak:
            peak, peak_ts = eq, ts
            continue
        depth = (peak - eq) / peak if peak > 0 else 0.0
        if depth > worst:
            worst, at = depth, (peak_ts, ts, peak)
    if at is None:
        return best
    peak_ts, trough_ts, peak_value = at
    end = next((ts for ts, eq in points if ts > trough_ts and eq >= peak_value), None)
    return Drawdown(
        depth=worst,
        peak_ts_ns=peak_ts,
        trough_ts_ns=trough_ts,
        end_ts_ns=end if end is not None else points[-1][0],
        recovered=end is not None,
    )


def _drawdown(ts: np.ndarray, eq: np.ndarray) -> Drawdown:
    """:func:`max_drawdown` of the curve's arrays."""
    found = _arrays.max_drawdown(ts, eq)
    if found is None:  # a NaN point (or none at all): the definition's own comparisons
        return max_drawdown(list(zip(ts.tolist(), eq.tolist(), strict=True)))
    depth, peak_ts, trough_ts, end_ts, recovered = found
    if peak_ts < 0:
        return Drawdown()
    return Drawdown(
        depth=depth,
        peak_ts_ns=peak_ts,
        trough_ts_ns=trough_ts,
        end_ts_ns=end_ts,
        recovered=recovered,
    )


def drawdown_series(points: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """``(ts, 1 - E / running peak)`` for each point (0 at a new high)."""
    out = []
    peak = -math.inf
    for ts, eq in points:
        peak = max(peak, eq)
        out.append((ts, (peak - eq) / peak if peak > 0 else 0.0))
    return out


def exposure_intervals(fills: Sequence[Fill]) -> list[tuple[int, int | None]]:
    """Time intervals with at least one open position, rebuilt from the fills.

    A position opens at the fill that takes its instrument's net quantity away from 0 and
    closes at the fill that brings it back; an interval still open at the end has end None.
    """
    qty: dict[str, Decimal] = {}
    open_count = 0
    out: list[tuple[int, int | None]] = []
    start: int | None = None
    for f in sorted(fills, key=lambda f: f.ts_ns):
        before = qty.get(f.instrument, ZERO)
        after = before + f.net_quantity * f.side.sign
        qty[f.instrument] = after
        if before == 0 and after != 0:
            open_count += 1
            if open_count == 1:
                start = f.ts_ns
        elif before != 0 and after == 0:
            open_count -= 1
            if open_count == 0 and start is not None:
                out.append((start, f.ts_ns))
                start = None
    if start is not None:
        out.append((start, None))
    return out


def compute_metrics(
    *,
    equity_curve: Sequence[tuple[int, float]],
    closed_trades: Sequence[tuple[int, str, Decimal]],
    fills: Sequence[Fill],
    starting_equity: Decimal,
    final_equity: Decimal,
    funding_paid: Decimal = ZERO,
    funnel: Mapping[str, int] | None = None,
    bar_ns: int | None = None,
    last_ts_ns: int | None = None,
    pnl_currencies: Mapping[str, str] | None = None,
    pnl_rates: Mapping[str, Decimal] | None = None,
    currency: str = "",
) -> Metrics:
    """Every metric of a run from its raw results (see docs/report.md for the definitions).

    :param bar_ns: the strategy timeframe; inferred from the curve's smallest spacing if None.
    :param last_ts_ns: time of the last trade the run saw (extends the run's end).
    :param pnl_currencies: each instrument's P&L currency; with ``pnl_rates`` (their prices
        in ``currency``) the closed trades' P&L is valued in ``currency`` before it is summed,
        and so are the fees (per currency, :func:`fee_total`).

    The metrics of the last call are remembered: a call with the same inputs (the run's
    summary at its end, then the analysis's :func:`metrics_of` of its result, issue 17) gets
    them without computing them again (:func:`_same_inputs` says what "the same" is).
    """
    global _last_metrics
    inputs = _Inputs(
        trades=tuple(closed_trades),
        fills=tuple(fills),
        values=(
            starting_equity,
            final_equity,
            funding_paid,
            None if funnel is None else dict(funnel),
            bar_ns,
            last_ts_ns,
            None if pnl_currencies is None else dict(pnl_currencies),
            None if pnl_rates is None else dict(pnl_rates),
            currency,
            _decimal_context(),
        ),
    )
    last = _last_metrics
    if last is not None and _same_inputs(last[0], inputs) and last[1].matches(equity_curve):
        return last[2]
    m = _compute_metrics(
        equity_curve=equity_curve,
        closed_trades=closed_trades,
        fills=fills,
        starting_equity=starting_equity,
        final_equity=final_equity,
        funding_paid=funding_paid,
        funnel=funnel,
        bar_ns=bar_ns,
        last_ts_ns=last_ts_ns,
        pnl_currencies=pnl_currencies,
        pnl_rates=pnl_rates,
        currency=currency,
    )
    key = _arrays.CurveKey(equity_curve)
    _last_metrics = (inputs, key, m) if key.immutable() and _rememberable(inputs) else None
    return m


@attrs.frozen
class _Inputs:
    """What :func:`compute_metrics` was given besides the curve: the closed trades and the
    fills (shallow copies) and the other arguments in their order, each mapping copied."""

    trades: tuple[Any, ...]
    fills: tuple[Any, ...]
    values: tuple[Any, ...]


#: The last :func:`compute_metrics` call's inputs, its curve's key and its metrics (None:
#: nothing to reuse).
_last_metrics: tuple[_Inputs, _arrays.CurveKey, Metrics] | None = None


def _decimal_context() -> tuple[Any, ...]:
    """What of this thread's decimal context the metrics' Decimal arithmetic depends on."""
    ctx = decimal.getcontext()
    traps = tuple(sorted(t.__name__ for t, on in ctx.traps.items() if on))
    return (ctx.prec, ctx.rounding, ctx.Emin, ctx.Emax, ctx.clamp, ctx.capitals, traps)


def _rememberable(inputs: _Inputs) -> bool:
    """Inputs whose items cannot change in place: the closed trades are tuples (of numbers,
    texts and Decimals), the fills frozen :class:`Fill` s (the curve:
    :meth:`~tradewind.report._arrays.CurveKey.immutable`)."""
    from tradewind.model import Fill

    return set(map(type, inputs.trades)) <= {tuple} and set(map(type, inputs.fills)) <= {Fill}


def _same_inputs(a: _Inputs, b: _Inputs) -> bool:
    """The same metrics for both (with the same curve): the trades and the fills are the
    very same items in the same order (compared by identity: the remembered inputs' items
    are immutable), and every other argument is :func:`_same_value`."""
    return (
        all(map(_same_value, a.values, b.values))
        and _arrays.same_items(a.trades, b.trades)
        and _arrays.same_items(a.fills, b.fills)
    )


def _same_value(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are the same input: the same type and written the same (a Decimal's
    sign, digits and exponent, a float's bits, an int's or a text's value), mappings with the
    same items in the same order. Anything else only when it is the same object."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, float):
        return a.hex() == b.hex()
    if isinstance(a, (int, str)):
        return bool(a == b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(map(_same_value, a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            _same_value(ka, kb) and _same_value(va, vb)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    return False


def _compute_metrics(
    *,
    equity_curve: Sequence[tuple[int, float]],
    closed_trades: Sequence[tuple[int, str, Decimal]],
    fills: Sequence[Fill],
    starting_equity: Decimal,
    final_equity: Decimal,
    funding_paid: Decimal,
    funnel: Mapping[str, int] | None,
    bar_ns: int | None,
    last_ts_ns: int | None,
    pnl_currencies: Mapping[str, str] | None,
    pnl_rates: Mapping[str, Decimal] | None,
    currency: str,
) -> Metrics:
    """:func:`compute_metrics`, computed."""
    fees = fee_total(fills, pnl_currencies or {}, pnl_rates or {}, currency)
    unvalued: tuple[str, ...] = ()
    if pnl_currencies:
        closed_trades, unvalued = value_closed_trades(
            closed_trades, pnl_currencies, pnl_rates or {}, currency
        )
    # The curve as arrays: the points of equity_points(equity_curve), without a Python step
    # per point (tradewind.report._arrays).
    ts, eq = _arrays.curve_arrays(equity_curve)
    if bar_ns is None and len(ts) >= 2:
        # The points' times strictly increase: every gap counts.
        bar_ns = int(np.diff(ts).min())
    ppy = NS_PER_YEAR / bar_ns if bar_ns else None
    rets = _arrays.returns(eq)
    sharpe = sharpe_ratio(rets, ppy) if ppy else None
    sortino = sortino_ratio(rets, ppy) if ppy else None

    pnls = [Decimal(p) for _, _, p in closed_trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_profit = sum(wins, ZERO)
    gross_loss = -sum(losses, ZERO)
    net = sum(pnls, ZERO)

    starts = [int(ts[0]) - (bar_ns or 0)] if len(ts) else []
    ends = [int(ts[-1])] if len(ts) else []
    if fills:
        starts.append(min(f.ts_ns for f in fills))
        ends.append(max(f.ts_ns for f in fills))
    if closed_trades:
        ends.append(max(t for t, _, _ in closed_trades))
    if last_ts_ns is not None:
        ends.append(last_ts_ns)
    start_ts = min(starts) if starts else None
    end_ts = max(ends) if ends else None
    duration = (end_ts - start_ts) if start_ts is not None and end_ts is not None else 0
    exposure: float | None = None
    trades_per_hour: float | None = None
    if duration > 0 and start_ts is not None and end_ts is not None:
        held = 0
        for a, b in exposure_intervals(fills):
            lo, hi = max(a, start_ts), min(end_ts if b is None else b, end_ts)
            held += max(0, hi - lo)
        exposure = held / duration
        trades_per_hour = len(pnls) / (duration / NS_PER_HOUR)

    return Metrics(
        starting_equity=starting_equity,
        final_equity=final_equity,
        total_return=(final_equity - starting_equity) / starting_equity
        if starting_equity
        else None,
        bar_ns=bar_ns,
        periods_per_year=ppy,
        returns=len(rets),
        sharpe=sharpe,
        sortino=sortino,
        drawdown=_drawdown(ts, eq),
        trades=len(pnls),
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / len(pnls) if pnls else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        net_pnl=net,
        profit_factor=gross_profit / gross_loss if gross_loss else None,
        expectancy=net / len(pnls) if pnls else None,
        start_ts_ns=start_ts,
        end_ts_ns=end_ts,
        exposure=exposure,
        trades_per_hour=trades_per_hour,
        fees_paid=fees.total,
        fees_by_currency=fees.by_currency,
        fees_error=fees.error,
        funding_paid=funding_paid,
        funnel=Funnel.from_flat(funnel or {}),
        unvalued=unvalued,
    )


def fee_total(
    fills: Iterable[Fill],
    pnl_currencies: Mapping[str, str],
    rates: Mapping[str, Decimal],
    currency: str,
) -> MoneyTotal:
    """The fees of ``fills`` per currency as charged, and in ``currency``: what they cost
    in their P&L currencies (a third currency's at its price at the fill,
    :func:`tradewind.trading.pnl.fee_total`) converted at ``rates`` (the run's
    ``pnl_rates``); an instrument missing from ``pnl_currencies`` pays in ``currency``."""
    return pnl_fee_total(fills, pnl_currencies, currency, rate_table(rates, currency))


def metrics_of(result: RunResult) -> Metrics:
    """The metrics of a finished run.

    Reads from ``result.summary``: ``starting_equity``, ``final_equity`` (default: the first and
    last equity points), ``funding_paid`` (default 0), ``funnel``, ``timeframe`` (the strategy
    timeframe; inferred from the curve if absent) and ``last_ts_ns``.
    """
    s = result.summary
    _, eq = _arrays.curve_arrays(result.equity_curve)
    start = s.get("starting_equity")
    final = s.get("final_equity")
    tf = s.get("timeframe")
    return compute_metrics(
        equity_curve=result.equity_curve,
        closed_trades=result.closed_trades,
        fills=result.fills,
        starting_equity=Decimal(str(start))
        if start is not None
        else Decimal(repr(float(eq[0])) if len(eq) else 0),
        final_equity=Decimal(str(final))
        if final is not None
        else Decimal(repr(float(eq[-1])) if len(eq) else 0),
        funding_paid=Decimal(str(s.get("funding_paid", 0))),
        funnel=s.get("funnel") or {},
        pnl_currencies=s.get("pnl_currencies") or None,
        pnl_rates={c: Decimal(str(v)) for c, v in (s.get("pnl_rates") or {}).items()},
        currency=str(s.get("currency") or ""),
        bar_ns=parse_timeframe(tf) if tf else None,
        last_ts_ns=s.get("last_ts_ns"),
    )


#: Metrics copied into the run summary (and so into the CLI table and the journal).
SUMMARY_METRICS = (
    "total_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration_ns",
    "win_rate",
    "profit_factor",
    "expectancy",
    "exposure",
    "trades_per_hour",
)


@attrs.frozen(kw_only=True)
class RunFigures:
    """What a run produced, as the report reads it: counts, money, curves and the funnel.

    The engine builds it (:meth:`~tradewind.trading.engine.Engine.figures`), at the end of a
    run or while it runs; the report never reads the engine itself."""

    run_id: str
    mode: str
    instruments: Sequence[str]
    timeframe_ns: int
    ticks: int
    candles: int
    decisions: int
    signals: int
    #: The currency equity is counted in.
    currency: str
    starting_equity: Decimal
    final_equity: Decimal
    #: Realised P&L of every instrument in ``currency``, each converted from its
    #: instrument's P&L currency at the host's marks; None when one could not be converted
    #: (``realized_by_currency`` then holds the amounts, never a raw sum of currencies).
    realized_pnl: Decimal | None
    #: Fees in ``currency``, each fee currency's sum converted as the P&L is; None when one
    #: could not be converted (``fees_by_currency`` then holds the amounts).
    fees_paid: Decimal | None
    funding_paid: Decimal
    equity_curve: Sequence[tuple[int, float]]
    closed_trades: Sequence[tuple[int, str, Decimal]]
    fills: Sequence[Fill]
    #: The funnel: candidates evaluated, rejected per gate, vetoes per filter, entries sent.
    evaluated: int
    rejected: Mapping[str, int]
    vetoes: Mapping[str, int]
    entries_sent: int
    open_positions: int
    #: Time of the last price seen (None before the first).
    last_ts_ns: int | None
    #: Holes in the data longer than ``[run] max_gap``, and rows the data files lost.
    data_gaps: int
    bad_rows: int
    overlays: Sequence[str] = ()
    panes: Sequence[str] = ()
    #: When ``gap_policy = "halt"`` stopped the run.
    halted_at_ns: int | None = None
    #: Realised P&L per P&L currency (unconverted), and each instrument's P&L currency.
    realized_by_currency: Mapping[str, Decimal] = attrs.Factory(dict)
    pnl_currencies: Mapping[str, str] = attrs.Factory(dict)
    #: The price in ``currency`` of each P&L and fee currency at the end (those without one
    #: left out): closed trades' P&L and the fees are valued with them.
    pnl_rates: Mapping[str, Decimal] = attrs.Factory(dict)
    #: Fees per currency (:func:`tradewind.trading.pnl.fee_amount`: the quote's for fees in
    #: the quote or the bought asset, a third currency's own), and why ``fees_paid`` is None.
    fees_by_currency: Mapping[str, Decimal] = attrs.Factory(dict)
    fees_not_converted: str = ""


def funnel(figures: RunFigures) -> dict[str, int]:
    """Candidates at each level: evaluated, rejected per gate, signals, vetoed, sent."""
    out = {"candidates": figures.evaluated}
    out.update({f"rejected:{k}": v for k, v in figures.rejected.items()})
    out["signals"] = figures.signals
    out.update({f"vetoed:{k}": v for k, v in figures.vetoes.items()})
    out["orders"] = figures.entries_sent
    return out


def summarize(figures: RunFigures) -> dict[str, Any]:
    """Headline figures of a run: counts, equity, P&L, costs, the metrics and the funnel."""
    start = figures.starting_equity
    equity = figures.final_equity
    flat_funnel = funnel(figures)
    last_ts = figures.last_ts_ns
    m = compute_metrics(
        equity_curve=figures.equity_curve,
        closed_trades=figures.closed_trades,
        pnl_currencies=figures.pnl_currencies or None,
        pnl_rates=figures.pnl_rates,
        currency=figures.currency,
        fills=figures.fills,
        starting_equity=start,
        final_equity=equity,
        funding_paid=figures.funding_paid,
        funnel=flat_funnel,
        bar_ns=figures.timeframe_ns,
        last_ts_ns=last_ts,
    ).to_json()
    summary: dict[str, Any] = {
        "run_id": figures.run_id,
        "mode": figures.mode,
        "instruments": list(figures.instruments),
        "timeframe": format_timeframe(figures.timeframe_ns),
        "ticks": figures.ticks,
        "candles": figures.candles,
        "decisions": figures.decisions,
        "signals": figures.signals,
        "currency": figures.currency,
        "starting_equity": str(start),
        "final_equity": str(equity),
        "pnl": str(equity - start),
        "realized_pnl": None if figures.realized_pnl is None else str(figures.realized_pnl),
        "realized_pnl_by_currency": {
            c: str(v) for c, v in sorted(figures.realized_by_currency.items())
        },
        "pnl_currencies": dict(figures.pnl_currencies),
        "pnl_rates": {c: str(v) for c, v in sorted(figures.pnl_rates.items())},
        "fees_paid": _dstr(figures.fees_paid),
        "fees_paid_by_currency": {c: str(v) for c, v in sorted(figures.fees_by_currency.items())},
        "funding_paid": str(figures.funding_paid),
        "fills": len(figures.fills),
        "trades": len(figures.closed_trades),
    }
    if figures.fees_not_converted:
        summary["fees_not_converted"] = figures.fees_not_converted
    summary.update({k: m[k] for k in SUMMARY_METRICS})
    summary.update(
        {
            "open_positions": figures.open_positions,
            "funnel": flat_funnel,
            "vetoes": dict(figures.vetoes),
            "last_ts_ns": last_ts,
            # Data quality: holes longer than [run] max_gap, rows the data files lost.
            "data_gaps": figures.data_gaps,
            "bad_rows": figures.bad_rows,
            "overlays": list(figures.overlays),
            "panes": list(figures.panes),
        }
    )
    if figures.halted_at_ns is not None:
        summary["halted_at_ns"] = figures.halted_at_ns  # gap_policy = "halt"
    return summary


# -- files --------------------------------------------------------------------------------
def report_data(
    result: RunResult,
    metrics: Metrics | None = None,
    *,
    trips: tuple[Sequence[Trade], Sequence[OpenTrade]] | None = None,
) -> dict[str, Any]:
    """The JSON report: summary, metrics, equity curve, closed trades (and the round trips
    with their entry, exit, costs and exit reason), positions open at the end, and fills.
    ``trips``: ``round_trips`` of the result's fills when the caller has them (an
    :class:`Analysis`'s ``trades`` and ``open_positions``), else made here."""
    from tradewind.report.analysis import quote_currency
    from tradewind.report.trades import round_trips

    m = metrics or metrics_of(result)
    if trips is None:
        trips = round_trips(result.fills, result.order_tags, result.funding)
    trips_closed, still_open = trips
    # Each trade's money is in its instrument's P&L currency (the summary names them).
    currencies = dict(result.summary.get("pnl_currencies") or {})
    fallback = str(result.summary.get("currency") or "") or quote_currency(
        result.summary.get("instruments") or []
    )
    return {
        "summary": dict(result.summary),
        "metrics": m.to_json(),
        "equity_curve": [[ts, eq] for ts, eq in result.equity_curve],
        "trades": [
            {
                "closed_ts_ns": ts,
                "instrument": i,
                "pnl": str(p),
                "pnl_currency": currencies.get(i, fallback),
            }
            for ts, i, p in result.closed_trades
        ],
        "round_trips": [
            {
                "instrument": t.instrument,
                "side": t.side.value,
                "entry_ts_ns": t.entry_ts_ns,
                "exit_ts_ns": t.exit_ts_ns,
                "entry_price": str(t.entry_price),
                "exit_price": str(t.exit_price),
                "quantity": str(t.quantity),
                "gross_pnl": str(t.gross_pnl),
                # A third-currency fee without a price at its fill: no fees, no net P&L.
                "fees": None if t.fees_not_converted else str(t.fees),
                "other_fees": {c: str(v) for c, v in sorted(t.other_fees.items())},
                "fees_not_converted": t.fees_not_converted or None,
                "funding": str(t.funding),
                "pnl": None if t.pnl is None else str(t.pnl),
                "pnl_currency": currencies.get(t.instrument, fallback),
                "exit_reason": t.exit_reason,
            }
            for t in trips_closed
        ],
        "open_positions": [
            {
                "instrument": p.instrument,
                "side": p.side.value,
                "entry_ts_ns": p.entry_ts_ns,
                "entry_price": str(p.entry_price),
                "quantity": str(p.quantity),
                "fees": None if p.fees_not_converted else str(p.fees),
                "other_fees": {c: str(v) for c, v in sorted(p.other_fees.items())},
                "fees_not_converted": p.fees_not_converted or None,
                "funding": str(p.funding),
                "realized_pnl": str(p.realized_pnl),
                "pnl_currency": currencies.get(p.instrument, fallback),
            }
            for p in still_open
        ],
        "fills": [
            {
                "ts_ns": f.ts_ns,
                "instrument": f.instrument,
                "client_order_id": f.client_order_id,
                "side": f.side.value,
                "quantity": str(f.quantity),
                "price": str(f.price),
                "fee": str(f.fee),
                "fee_currency": f.fee_currency
                or (currencies.get(f.instrument, fallback) if f.fee_asset == "quote" else ""),
                "fee_asset": f.fee_asset,
                "liquidity": f.liquidity,
            }
            for f in result.fills
        ],
        "data_gaps": [
            {
                "instrument": g.instrument,
                "start_ns": g.start_ns,
                "end_ns": g.end_ns,
                "duration_ns": g.end_ns - g.start_ns,
                "policy": g.policy,
                "action": g.action,
            }
            for g in result.data_gaps
        ],
        "bad_rows": [str(r) for r in result.bad_rows],
    }


def write_report(
    result: RunResult, out_dir: Path, *, analysis: Analysis | None = None
) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return their paths.
    ``analysis``: ``analyse(result)`` when the caller has it (the CLI shares it with the
    printed summary), else computed here."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = metrics_of(result) if analysis is None else analysis.metrics
    # The analysis's round trips are round_trips of the same fills: not made twice.
    trips = None if analysis is None else (analysis.trades, analysis.open_positions)
    jpath = out_dir / "report.json"
    # The text of json.dumps(..., indent=2, default=str), written without its generators.
    text = dumps_indented(report_data(result, metrics, trips=trips))
    hpath = out_dir / "report.html"
    from tradewind.report.html import page_parts, write_page

    # Both files' texts before either is written: the page reads the journal, whose
    # end-of-run write may still be under way (report.journal_reader.shared) and fail.
    head, tail = page_parts(result, metrics, analysis)
    jpath.write_text(text, encoding="utf-8")
    write_page(hpath, head, tail)
    return jpath, hpath


# -- HTML ---------------------------------------------------------------------------------
def render_html(
    result: RunResult, metrics: Metrics | None = None, analysis: Analysis | None = None
) -> str:
    """The report page (see :mod:`tradewind.report.html`)."""
    from tradewind.report.html import render_html as render

    return render(result, metrics, analysis)
