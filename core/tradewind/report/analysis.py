"""A trader's figures of a finished run, beside the report metrics: CAGR, Calmar, buy and
hold, trade statistics, per-instrument and per-exit-reason breakdowns, period tables.

Everything here reads a :class:`~tradewind.trading.engine.RunResult` (and the metrics computed from
it); nothing reads the engine. Definitions are in docs/report.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tradewind.report import _arrays
from tradewind.report.metrics import NS_PER_YEAR, Metrics, metrics_of
from tradewind.report.trades import OpenTrade, Trade, round_trips
from tradewind.trading.curves import columns_of

if TYPE_CHECKING:
    from tradewind.trading.engine import RunResult

ZERO = Decimal(0)
NS_PER_DAY = 86_400 * 1_000_000_000
#: Sharpe and Sortino are shown only from this many returns on: fewer say nothing.
MIN_RETURNS = 30
#: CAGR and Calmar are shown only for runs at least this long: compounding a shorter run's
#: return to a year says nothing.
MIN_CAGR_DAYS = 30

#: Currencies whose amounts are shown with 2 decimals (fiat and the dollar stablecoins).
_TWO_PLACES = frozenset(
    {"USD", "USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI", "EUR", "GBP", "JPY", "USDE"}
)
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "BTC", "ETH", "BNB")


def quote_currency(symbols: Iterable[str]) -> str:
    """The quote currency of instrument symbols (``BTCUSDT``, ``BTC/USDT``, ``ETH-USD``), or
    ``"USDT"`` when none is recognised."""
    for sym in symbols:
        s = sym.split(":")[-1].upper().replace("/", "").replace("-", "").replace("_", "")
        for q in _QUOTES:
            if s.endswith(q) and len(s) > len(q):
                return q
    return "USDT"


def money_places(currency: str) -> int:
    """Decimals an amount of ``currency`` is shown with: 2 for fiat and stablecoins, else 8."""
    return 2 if currency.upper() in _TWO_PLACES else 8


@attrs.frozen(kw_only=True)
class Breakdown:
    """Trade figures of one group (an instrument, an exit reason, a day...)."""

    key: str
    trades: int
    wins: int
    losses: int
    #: None (and ``fees`` None) when a trade of the group has a third-currency fee that had
    #: no price at its fill (its net P&L is unknown).
    net_pnl: Decimal | None
    fees: Decimal | None
    avg_duration_ns: int

    @property
    def win_rate(self) -> float | None:
        """Winners / trades (None when a trade's net P&L is unknown)."""
        return self.wins / self.trades if self.trades and self.net_pnl is not None else None

    @property
    def avg_pnl(self) -> Decimal | None:
        """Mean net P&L per trade."""
        return self.net_pnl / self.trades if self.trades and self.net_pnl is not None else None


@attrs.frozen(kw_only=True)
class Period:
    """One row of a daily, weekly or monthly table."""

    label: str
    start_ts_ns: int
    trades: int
    wins: int
    losses: int
    net_pnl: Decimal
    #: Equity at the period's last point over equity at the previous period's last point
    #: (the starting equity for the first), minus 1.
    equity_return: float | None


@attrs.frozen(kw_only=True)
class Analysis:
    """What the summary and the report show beyond :class:`~tradewind.report.metrics.Metrics`."""

    metrics: Metrics
    currency: str
    #: The closed trades, each in its instrument's P&L currency (:meth:`currency_of`).
    trades: Sequence[Trade]
    open_positions: Sequence[OpenTrade]
    #: Equal-weight buy and hold of the run's instruments from the first candle's open to the
    #: last candle's close; None without candles.
    buy_and_hold: float | None
    buy_and_hold_curve: Sequence[tuple[int, float]]
    cagr: float | None
    calmar: float | None
    avg_duration_ns: int | None
    best: Trade | None
    worst: Trade | None
    longest_losing_streak: int
    by_instrument: Sequence[Breakdown]
    by_exit: Sequence[Breakdown]
    daily: Sequence[Period]
    weekly: Sequence[Period]
    monthly: Sequence[Period]
    #: The closed trades valued in ``currency`` (the same objects when every instrument's P&L
    #: is in it): the trade statistics, best, worst, the exit-reason and period tables read
    #: these. ``unvalued``: P&L currencies without a price in ``currency`` (then ``valued``
    #: holds the trades unconverted and no sum over them is shown).
    valued: Sequence[Trade] = ()
    unvalued: tuple[str, ...] = ()
    #: Why some trades have no net P&L (a third-currency fee without a price at its fill),
    #: or "": then ``valued`` holds the others and no sum over trades is shown.
    unpriced_fees: str = ""
    #: Each instrument's P&L currency (the run's summary's ``pnl_currencies``).
    pnl_currencies: Mapping[str, str] = attrs.Factory(dict)

    @property
    def unsummable(self) -> bool:
        """Whether sums over the trades cannot be stated (a P&L currency without a price, or
        a trade without a net P&L)."""
        return bool(self.unvalued or self.unpriced_fees)

    def currency_of(self, instrument: str) -> str:
        """The currency ``instrument``'s trades are in."""
        return self.pnl_currencies.get(instrument) or self.currency

    @property
    def wins(self) -> int:
        """Closed trades with net P&L > 0."""
        return sum(1 for t in self.valued if _pnl(t) > 0)

    @property
    def losses(self) -> int:
        """Closed trades with net P&L < 0."""
        return sum(1 for t in self.valued if _pnl(t) < 0)

    @property
    def gross_profit(self) -> Decimal:
        """The sum of winning trades' net P&L."""
        return sum((_pnl(t) for t in self.valued if _pnl(t) > 0), ZERO)

    @property
    def gross_loss(self) -> Decimal:
        """Minus the sum of losing trades' net P&L (a positive number)."""
        return -sum((_pnl(t) for t in self.valued if _pnl(t) < 0), ZERO)

    @property
    def expectancy(self) -> Decimal | None:
        """Mean net P&L per closed trade."""
        return sum((_pnl(t) for t in self.valued), ZERO) / len(self.valued) if self.valued else None

    @property
    def net_pnl(self) -> Decimal:
        """Final minus starting equity: everything the run made or lost, costs included."""
        return self.metrics.final_equity - self.metrics.starting_equity

    @property
    def ratios_shown(self) -> bool:
        """Whether there are enough returns for Sharpe and Sortino to mean anything."""
        return self.metrics.returns >= MIN_RETURNS

    @property
    def cagr_shown(self) -> bool:
        """Whether the run is long enough for CAGR and Calmar."""
        return self.metrics.duration_ns >= MIN_CAGR_DAYS * NS_PER_DAY


def analyse(result: RunResult, metrics: Metrics | None = None) -> Analysis:
    """Everything a trader reads about ``result``."""
    m = metrics or metrics_of(result)
    s = result.summary
    currency = str(s.get("currency") or quote_currency(s.get("instruments") or []))
    trades, still_open = round_trips(result.fills, result.order_tags, result.funding)
    pnl_currencies = {str(k): str(v) for k, v in (s.get("pnl_currencies") or {}).items()}
    rates = {str(c): Decimal(str(v)) for c, v in (s.get("pnl_rates") or {}).items()}
    unpriced = "; ".join(t.fees_not_converted for t in trades if t.fees_not_converted)
    priced = [t for t in trades if not t.fees_not_converted]
    valued, unvalued = value_trades(priced, pnl_currencies, rates, currency)
    bh, bh_curve = buy_and_hold(result.candles, float(m.starting_equity))
    cagr = None
    if m.duration_ns >= MIN_CAGR_DAYS * NS_PER_DAY and m.starting_equity > 0:
        growth = float(m.final_equity / m.starting_equity)
        cagr = growth ** (NS_PER_YEAR / m.duration_ns) - 1 if growth > 0 else -1.0
    calmar = cagr / m.drawdown.depth if cagr is not None and m.drawdown.depth > 0 else None
    durations = [t.duration_ns for t in valued]
    ts, eq = _arrays.curve_arrays(result.equity_curve)
    return Analysis(
        metrics=m,
        currency=currency,
        trades=trades,
        open_positions=still_open,
        buy_and_hold=bh,
        buy_and_hold_curve=bh_curve,
        cagr=cagr,
        calmar=calmar,
        avg_duration_ns=sum(durations) // len(durations) if durations else None,
        best=max(valued, key=_pnl) if valued and not unvalued else None,
        worst=min(valued, key=_pnl) if valued and not unvalued else None,
        longest_losing_streak=losing_streak(valued),
        # Per instrument: one currency per row, its own.
        by_instrument=breakdown(trades, lambda t: t.instrument),
        by_exit=breakdown(valued, lambda t: t.exit_kind),
        daily=curve_periods(valued, ts, eq, m.starting_equity, "day"),
        weekly=curve_periods(valued, ts, eq, m.starting_equity, "week"),
        monthly=curve_periods(valued, ts, eq, m.starting_equity, "month"),
        valued=valued,
        unvalued=unvalued,
        unpriced_fees=unpriced,
        pnl_currencies=pnl_currencies,
    )


def value_trades(
    trades: Sequence[Trade],
    currencies: Mapping[str, str],
    rates: Mapping[str, Decimal],
    currency: str,
) -> tuple[list[Trade], tuple[str, ...]]:
    """``trades`` valued in ``currency``: each trade's money and prices times its P&L
    currency's rate (a trade already in ``currency`` is kept as it is), and the currencies
    without a rate (then every trade is returned unconverted: a sum of them means nothing)."""
    missing = sorted({currencies.get(t.instrument, currency) for t in trades} - set(rates))
    missing = [c for c in missing if c != currency]
    if missing:
        return list(trades), tuple(missing)
    out = []
    for t in trades:
        cur = currencies.get(t.instrument, currency)
        if cur == currency:
            out.append(t)
            continue
        r = rates[cur]
        out.append(
            attrs.evolve(
                t,
                entry_price=t.entry_price * r,
                exit_price=t.exit_price * r,
                gross_pnl=t.gross_pnl * r,
                fees=t.fees * r,
                funding=t.funding * r,
            )
        )
    return out, ()


def buy_and_hold(
    candles: Mapping[str, Sequence[Sequence[float]]], starting_equity: float
) -> tuple[float | None, list[tuple[int, float]]]:
    """Equal-weight buy and hold of every instrument with candles: its return from the first
    open to the last close, and its equity curve at each candle close (starting equity split
    evenly, no costs)."""
    series = {k: v for k, v in candles.items() if v and v[0][1] > 0}
    if not series:
        return None, []
    first = {k: float(v[0][1]) for k, v in series.items()}
    last_close = {k: float(v[-1][4]) for k, v in series.items()}
    total = sum(last_close[k] / first[k] - 1 for k in series) / len(series)
    if len(series) == 1:
        (only,) = series.values()
        curve = _one_curve(only, first[next(iter(series))], starting_equity)
        if curve is not None:
            return total, curve
    return total, _curve(series, first, starting_equity)


def _curve(
    series: Mapping[str, Sequence[Sequence[float]]],
    first: Mapping[str, float],
    starting_equity: float,
) -> list[tuple[int, float]]:
    """:func:`buy_and_hold`'s curve, close by close: at each close time, the mean of each
    instrument's close / first open."""
    bars = {k: _bar(v) for k, v in series.items()}
    events = sorted((int(c[0]) + bars[k], k, float(c[4])) for k, v in series.items() for c in v)
    rel = dict.fromkeys(series, 1.0)  # each instrument's close / first open
    total_rel = float(len(series))
    curve: list[tuple[int, float]] = []
    for ts, k, close in events:
        r = close / first[k]
        total_rel += r - rel[k]
        rel[k] = r
        value = starting_equity * total_rel / len(series)
        if curve and curve[-1][0] == ts:
            curve[-1] = (ts, value)
        else:
            curve.append((ts, value))
    return curve


def _one_curve(
    candles: Sequence[Sequence[float]], first: float, starting_equity: float
) -> list[tuple[int, float]] | None:
    """:func:`buy_and_hold`'s curve of one instrument whose candles open at strictly
    increasing integer times: its running sum ``1 + Σ (r_i - r_{i-1})`` in the same order
    (``numpy.cumsum`` adds in order), or None for other candles (the loop draws them)."""
    got = columns_of(candles, _open_close, lambda cols: (cols[0], cols[4]))
    if got is None:
        return None
    ts, close = got
    if len(ts) > 1 and not bool((ts[1:] > ts[:-1]).all()):
        return None
    rel = close / first
    steps = np.empty(len(rel) + 1)
    steps[0] = 1.0
    steps[1] = rel[0] - 1.0
    steps[2:] = rel[1:] - rel[:-1]
    total_rel = np.cumsum(steps)[1:]
    value = starting_equity * total_rel / 1
    bar = int(np.diff(ts).min()) if len(ts) > 1 else 0
    return list(zip((ts + bar).tolist(), value.tolist(), strict=True))


def _open_close(candles: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray] | None:
    """The open times (None unless each is an int) and ``float`` of the closes of candles
    held as tuples."""
    t = [c[0] for c in candles]
    if not all(type(x) is int for x in t):
        return None
    close = np.array([float(c[4]) for c in candles], dtype=np.float64)
    return np.array(t, dtype=np.int64), close


def _bar(candles: Sequence[Sequence[float]]) -> int:
    if len(candles) < 2:
        return 0
    return int(min(int(b[0]) - int(a[0]) for a, b in itertools.pairwise(candles)))


def _pnl(t: Trade) -> Decimal:
    """The net P&L of a trade known to have one (the valued trades)."""
    pnl = t.pnl
    if pnl is None:
        raise ValueError(f"trade of {t.instrument}: no net P&L ({t.fees_not_converted})")
    return pnl


def losing_streak(trades: Sequence[Trade]) -> int:
    """The most consecutive losing trades (net P&L < 0), in exit order."""
    best = run = 0
    for t in sorted(trades, key=lambda t: t.exit_ts_ns):
        run = run + 1 if _pnl(t) < 0 else 0
        best = max(best, run)
    return best


def breakdown(trades: Sequence[Trade], key: Any) -> list[Breakdown]:
    """Trade figures per group, largest net P&L first."""
    groups: dict[str, list[Trade]] = {}
    for t in trades:
        groups.setdefault(str(key(t)), []).append(t)
    out = []
    for k, ts in groups.items():
        known = all(t.pnl is not None for t in ts)
        out.append(
            Breakdown(
                key=k,
                trades=len(ts),
                wins=sum(1 for t in ts if (t.pnl or ZERO) > 0),
                losses=sum(1 for t in ts if (t.pnl or ZERO) < 0),
                net_pnl=sum((_pnl(t) for t in ts), ZERO) if known else None,
                fees=sum((t.fees for t in ts), ZERO) if known else None,
                avg_duration_ns=sum(t.duration_ns for t in ts) // len(ts),
            )
        )
    # Groups without a net P&L (a fee without a price) last.
    return sorted(out, key=lambda b: (b.net_pnl is None, -(b.net_pnl or ZERO), b.key))


def _period_start(ts_ns: int, unit: str) -> tuple[int, str]:
    return _period_of_day(ts_ns // NS_PER_DAY, unit)


@functools.lru_cache(maxsize=4096)
def _period_of_day(day_no: int, unit: str) -> tuple[int, str]:
    d = dt.datetime.fromtimestamp(day_no * 86_400, dt.UTC)
    if unit == "day":
        start = d.replace(hour=0, minute=0, second=0, microsecond=0)
        label = start.strftime("%Y-%m-%d")
    elif unit == "week":
        day = d.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - dt.timedelta(days=day.weekday())
        iso = start.isocalendar()
        label = f"{iso.year}-W{iso.week:02d} (from {start:%Y-%m-%d})"
    else:
        start = d.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        label = start.strftime("%Y-%m")
    return int(start.timestamp()) * 1_000_000_000, label


def curve_periods(
    trades: Sequence[Trade],
    ts: np.ndarray,
    eq: np.ndarray,
    starting_equity: Decimal,
    unit: str,
) -> list[Period]:
    """:func:`periods` of the equity points ``(ts[i], eq[i])`` in time order: each period's
    last equity found per day of the curve instead of per point."""
    if not len(ts):
        return periods(trades, [], starting_equity, unit)
    days = ts // NS_PER_DAY
    last = np.ones(len(days), dtype=bool)
    last[:-1] = days[1:] != days[:-1]  # the last point of each day (the times increase)
    day_list = days[last].tolist()
    eq_list = eq[last].tolist()
    # A period's last equity is its last day's: one point per day, in time order.
    return periods(
        trades,
        [(day * NS_PER_DAY, e) for day, e in zip(day_list, eq_list, strict=True)],
        starting_equity,
        unit,
    )


def periods(
    trades: Sequence[Trade],
    points: Sequence[tuple[int, float]],
    starting_equity: Decimal,
    unit: str,
) -> list[Period]:
    """Trades closed and the equity return per calendar ``unit`` (day, ISO week, month), UTC;
    periods with neither a trade nor an equity point are left out."""
    rows: dict[int, dict[str, Any]] = {}

    def row(ts: int) -> dict[str, Any]:
        start, label = _period_start(ts, unit)
        return rows.setdefault(start, {"label": label, "trades": [], "last_equity": None})

    for t in trades:
        row(t.exit_ts_ns)["trades"].append(t)
    for ts, eq in points:
        row(ts)["last_equity"] = eq
    out: list[Period] = []
    prev = float(starting_equity)
    for start in sorted(rows):
        r = rows[start]
        last = r["last_equity"]
        ret = None
        if last is not None and prev > 0:
            ret = last / prev - 1
        if last is not None:
            prev = last
        ts_list: list[Trade] = r["trades"]
        out.append(
            Period(
                label=r["label"],
                start_ts_ns=start,
                trades=len(ts_list),
                wins=sum(1 for t in ts_list if _pnl(t) > 0),
                losses=sum(1 for t in ts_list if _pnl(t) < 0),
                net_pnl=sum((_pnl(t) for t in ts_list), ZERO),
                equity_return=ret,
            )
        )
    return out
