"""Run metrics and the report files: JSON, and one HTML page that opens offline.

Every metric is computed from what a run produced (a :class:`~tradewind.engine.RunResult`, or
the engine itself at the end of a run) and is defined in docs/report.md. Money is exact:
P&L, fees, funding, expectancy, profit factor and total return are ``Decimal`` and appear in
JSON as strings. Ratios of the float equity curve (Sharpe, Sortino, drawdown) and of time
(exposure, trades per hour) are floats.

The HTML page is self-contained: inline CSS and inline SVG charts drawn here (price with the
fills marked, equity, drawdown, the gate funnel); it loads nothing and links nowhere.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tradewind.timeframes import format_timeframe, parse_timeframe

if TYPE_CHECKING:
    from tradewind.engine import Engine, RunResult
    from tradewind.model import Fill

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
    fees_paid: Decimal
    funding_paid: Decimal
    funnel: Funnel

    @property
    def duration_ns(self) -> int:
        """Length of the run: ``end_ts_ns - start_ts_ns``."""
        if self.start_ts_ns is None or self.end_ts_ns is None:
            return 0
        return self.end_ts_ns - self.start_ts_ns

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: Decimals as strings, None as null."""
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
        after = before + f.quantity * f.side.sign
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
) -> Metrics:
    """Every metric of a run from its raw results (see docs/report.md for the definitions).

    :param bar_ns: the strategy timeframe; inferred from the curve's smallest spacing if None.
    :param last_ts_ns: time of the last trade the run saw (extends the run's end).
    """
    points = equity_points(equity_curve)
    if bar_ns is None and len(points) >= 2:
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(points) if b[0] > a[0]]
        bar_ns = min(gaps) if gaps else None
    ppy = NS_PER_YEAR / bar_ns if bar_ns else None
    rets = bar_returns(points)
    sharpe = sharpe_ratio(rets, ppy) if ppy else None
    sortino = sortino_ratio(rets, ppy) if ppy else None

    pnls = [Decimal(p) for _, _, p in closed_trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_profit = sum(wins, ZERO)
    gross_loss = -sum(losses, ZERO)
    net = sum(pnls, ZERO)

    starts = [points[0][0] - (bar_ns or 0)] if points else []
    ends = [points[-1][0]] if points else []
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
        drawdown=max_drawdown(points),
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
        fees_paid=sum((Decimal(f.fee) for f in fills), ZERO),
        funding_paid=funding_paid,
        funnel=Funnel.from_flat(funnel or {}),
    )


def metrics_of(result: RunResult) -> Metrics:
    """The metrics of a finished run.

    Reads from ``result.summary``: ``starting_equity``, ``final_equity`` (default: the first and
    last equity points), ``funding_paid`` (default 0), ``funnel``, ``timeframe`` (the strategy
    timeframe; inferred from the curve if absent) and ``last_ts_ns``.
    """
    s = result.summary
    points = equity_points(result.equity_curve)
    start = s.get("starting_equity")
    final = s.get("final_equity")
    tf = s.get("timeframe")
    return compute_metrics(
        equity_curve=points,
        closed_trades=result.closed_trades,
        fills=result.fills,
        starting_equity=Decimal(str(start))
        if start is not None
        else Decimal(repr(points[0][1]) if points else 0),
        final_equity=Decimal(str(final))
        if final is not None
        else Decimal(repr(points[-1][1]) if points else 0),
        funding_paid=Decimal(str(s.get("funding_paid", 0))),
        funnel=s.get("funnel") or {},
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


def funnel(engine: Engine) -> dict[str, int]:
    """Candidates at each level: evaluated, rejected per gate, signals, vetoed, sent."""
    out = {"candidates": engine.strategy.evaluated}
    out.update({f"rejected:{k}": v for k, v in engine.strategy.rejected.items()})
    out["signals"] = engine.signals
    out.update({f"vetoed:{k}": v for k, v in engine.vetoes.items()})
    out["orders"] = engine.entries_sent
    return out


def summarize(engine: Engine) -> dict[str, Any]:
    """Headline figures of a run: counts, equity, P&L, costs, the metrics and the funnel."""
    pf = engine.portfolio
    start = pf.starting_equity()
    equity = pf.equity()
    flat_funnel = funnel(engine)
    last_ts = pf.ts_ns or None
    m = compute_metrics(
        equity_curve=engine.equity_curve,
        closed_trades=engine.orders.closed_trades,
        fills=engine.orders.fills,
        starting_equity=start,
        final_equity=equity,
        funding_paid=pf.funding_paid,
        funnel=flat_funnel,
        bar_ns=engine.strategy_tf,
        last_ts_ns=last_ts,
    ).to_json()
    summary: dict[str, Any] = {
        "run_id": engine.run_id,
        "mode": engine.config.mode.value,
        "instruments": list(engine.instruments),
        "timeframe": format_timeframe(engine.strategy_tf),
        "ticks": engine.ticks,
        "candles": engine.candles,
        "decisions": engine.decision_points,
        "signals": engine.signals,
        "currency": _currency(engine),
        "starting_equity": str(start),
        "final_equity": str(equity),
        "pnl": str(equity - start),
        "realized_pnl": str(
            sum((p.realized_pnl for p in (pf.position(k) for k in engine.instruments)), ZERO)
        ),
        "fees_paid": str(pf.fees_paid),
        "funding_paid": str(pf.funding_paid),
        "fills": len(engine.orders.fills),
        "trades": len(engine.orders.closed_trades),
    }
    summary.update({k: m[k] for k in SUMMARY_METRICS})
    summary.update(
        {
            "open_positions": len(pf.positions()),
            "funnel": flat_funnel,
            "vetoes": dict(engine.vetoes),
            "last_ts_ns": last_ts,
        }
    )
    return summary


def _currency(engine: Engine) -> str:
    """The quote currency equity is counted in: the execution venue's, else the symbols'."""
    from tradewind.analysis import quote_currency

    for st in engine.state.values():
        cur = getattr(getattr(st.exec_venue, "config", None), "quote_currency", None)
        if isinstance(cur, str) and cur:
            return cur
    return quote_currency(i.symbol for i in engine.instruments.values())


# -- files --------------------------------------------------------------------------------
def report_data(result: RunResult, metrics: Metrics | None = None) -> dict[str, Any]:
    """The JSON report: summary, metrics, equity curve, closed trades and fills."""
    m = metrics or metrics_of(result)
    return {
        "summary": dict(result.summary),
        "metrics": m.to_json(),
        "equity_curve": [[ts, eq] for ts, eq in result.equity_curve],
        "trades": [
            {"closed_ts_ns": ts, "instrument": i, "pnl": str(p)}
            for ts, i, p in result.closed_trades
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
                "liquidity": f.liquidity,
            }
            for f in result.fills
        ],
    }


def write_report(result: RunResult, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = metrics_of(result)
    jpath = out_dir / "report.json"
    jpath.write_text(
        json.dumps(report_data(result, metrics), indent=2, default=str), encoding="utf-8"
    )
    hpath = out_dir / "report.html"
    hpath.write_text(render_html(result, metrics), encoding="utf-8")
    return jpath, hpath


# -- HTML ---------------------------------------------------------------------------------
_W, _H = 960, 280
_ML, _MR, _MT, _MB = 78, 16, 14, 34
_MAX_POINTS = 1600
_MAX_MARKERS = 4000
_TIME_STEPS_S = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400,
)  # fmt: skip

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px}
.sub{color:#57606a;margin:0 0 16px;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;margin-bottom:16px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 12px}
.card .k{font-size:12px;color:#57606a}.card .v{font-size:20px;font-weight:600}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:14px;
margin-bottom:16px}
svg{max-width:100%;height:auto;display:block}
svg text{font-size:11px;fill:#57606a}
.grid{stroke:#eaeef2;stroke-width:1}.axis{stroke:#8c959f;stroke-width:1}
.line{fill:none;stroke-width:1.4}
.mk.buy{fill:#1a7f37;stroke:#1a7f37}.mk.sell{fill:#cf222e;stroke:#cf222e}
.mk.exit{fill:#fff;stroke-width:1.6}
.bar.pass{fill:#0969da}.bar.reject{fill:#bc4c00}.bar.veto{fill:#cf222e}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.def{color:#57606a}.legend{font-size:12px;color:#57606a;margin:4px 0 0}
.neg{color:#cf222e}.pos{color:#1a7f37}
"""


def render_html(result: RunResult, metrics: Metrics | None = None) -> str:
    """The report page: headline cards, the four charts, the metrics table, closed trades."""
    m = metrics or metrics_of(result)
    s = result.summary
    esc = html.escape
    title = f"tradewind report {s.get('run_id', '')}".strip()
    period = (
        f"{_fmt_ts(m.start_ts_ns)} – {_fmt_ts(m.end_ts_ns)} UTC ({_fmt_duration(m.duration_ns)})"
        if m.start_ts_ns is not None and m.end_ts_ns is not None
        else "no data"
    )
    sub = " · ".join(
        x
        for x in (
            f"run {s.get('run_id', '?')}",
            f"mode {s.get('mode', '?')}",
            ", ".join(s.get("instruments", []) or sorted(result.price_curve)),
            f"timeframe {format_timeframe(m.bar_ns)}" if m.bar_ns else "",
            period,
        )
        if x
    )
    cards = [
        ("Total return", _fmt_pct(m.total_return)),
        ("Sharpe", _fmt_float(m.sharpe)),
        ("Sortino", _fmt_float(m.sortino)),
        ("Max drawdown", _fmt_pct(m.drawdown.depth)),
        ("Win rate", _fmt_pct(m.win_rate)),
        ("Profit factor", _fmt_float(m.profit_factor)),
        ("Closed trades", str(m.trades)),
        ("Exposure", _fmt_pct(m.exposure)),
    ]
    card_html = "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>'
        for k, v in cards
    )
    points = equity_points(result.equity_curve)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>tradewind run report</h1><p class='sub'>{esc(sub)}</p>",
        f"<div class='cards'>{card_html}</div>",
        "<section class='chart' id='chart-price'><h2>Price and fills</h2>",
        _price_charts(result),
        "<p class='legend'>Line: strategy-timeframe closes. ▲ buy, ▼ sell; filled marker = entry "
        "(opens or adds), hollow = exit (reduces or closes). One marker per order, at its "
        "volume-weighted fill price; hover for details.</p></section>",
        "<section class='chart' id='chart-equity'><h2>Equity</h2>",
        _line_chart(
            [(points, "#0969da", "equity")],
            y_fmt=_axis_money,
            baseline=float(m.starting_equity),
        ),
        "<p class='legend'>Equity (cash + unrealised P&amp;L) at each strategy-timeframe close; "
        "dashed: starting equity.</p></section>",
        "<section class='chart' id='chart-drawdown'><h2>Drawdown</h2>",
        _line_chart(
            [([(t, -d * 100) for t, d in drawdown_series(points)], "#cf222e", "drawdown %")],
            y_fmt=lambda v, step: f"{v:.{_decimals(step)}f}%",
            area=True,
        ),
        f"<p class='legend'>Fall from the running peak, in percent. Deepest: "
        f"{esc(_fmt_pct(m.drawdown.depth))}, lasting {esc(_fmt_duration(m.drawdown.duration_ns))}"
        f"{'' if m.drawdown.recovered else ' (not recovered by the end)'}.</p></section>",
        "<section class='chart' id='chart-funnel'><h2>Gate funnel</h2>",
        _funnel_chart(m.funnel),
        "<p class='legend'>Candidates evaluated at strategy-timeframe closes, rejections per gate, "
        "signals, vetoes per filter, entry orders sent.</p></section>",
        "<section id='metrics'><h2>Metrics</h2>",
        _metrics_table(m),
        "<p class='legend'>Definitions: docs/report.md.</p></section>",
        _trades_table(result),
        "</main></body></html>",
    ]
    return "".join(parts)


def _metrics_table(m: Metrics) -> str:
    dd = m.drawdown
    rows: list[tuple[str, str, str]] = [
        ("starting equity", _dstr(m.starting_equity) or "", "account equity when the run began"),
        ("final equity", _dstr(m.final_equity) or "", "cash + unrealised P&L at the last mark"),
        ("total return", _fmt_pct(m.total_return), "(final − starting) / starting"),
        (
            "Sharpe",
            _fmt_float(m.sharpe),
            f"mean / sample stdev of {m.returns} bar returns of the equity curve "
            f"× √{_fmt_float(m.periods_per_year, 0)} (bars per 365-day year); risk-free 0",
        ),
        (
            "Sortino",
            _fmt_float(m.sortino),
            "mean bar return / √mean(min(r, 0)²) × √bars per year; target 0",
        ),
        ("max drawdown", _fmt_pct(dd.depth), "largest (peak − trough) / peak of the equity curve"),
        (
            "max drawdown duration",
            _fmt_duration(dd.duration_ns) + ("" if dd.recovered else " (not recovered)"),
            f"peak {_fmt_ts(dd.peak_ts_ns)} → trough {_fmt_ts(dd.trough_ts_ns)} → "
            f"{'recovery' if dd.recovered else 'end'} {_fmt_ts(dd.end_ts_ns)}",
        ),
        ("closed trades", str(m.trades), f"{m.wins} won, {m.losses} lost"),
        ("win rate", _fmt_pct(m.win_rate), "trades with P&L > 0 / closed trades"),
        ("gross profit", _dstr(m.gross_profit) or "", "sum of winning trades' P&L"),
        ("gross loss", _dstr(m.gross_loss) or "", "minus the sum of losing trades' P&L"),
        ("profit factor", _dstr(m.profit_factor) or "–", "gross profit / gross loss"),
        ("expectancy", _dstr(m.expectancy) or "–", "mean realised P&L per closed trade"),
        ("exposure", _fmt_pct(m.exposure), "fraction of the run with a position open"),
        ("trades per hour", _fmt_float(m.trades_per_hour), "closed trades / run length in hours"),
        ("fees paid", _dstr(m.fees_paid) or "", "sum of fill fees (quote currency)"),
        ("funding paid", _dstr(m.funding_paid) or "", "funding payments (positive = paid)"),
    ]
    body = "".join(
        f"<tr><th>{html.escape(k)}</th><td class='n'>{html.escape(v)}</td>"
        f"<td class='def'>{html.escape(d)}</td></tr>"
        for k, v, d in rows
    )
    return f"<table>{body}</table>"


def _trades_table(result: RunResult, limit: int = 500) -> str:
    trades = list(result.closed_trades)
    if not trades:
        return "<section id='trades'><h2>Closed trades</h2><p>No closed trades.</p></section>"
    shown = trades[-limit:]
    rows = "".join(
        f"<tr><td>{_fmt_ts(ts)}</td><td>{html.escape(inst)}</td>"
        f"<td class='n {'pos' if p > 0 else 'neg' if p < 0 else ''}'>{html.escape(str(p))}</td>"
        "</tr>"
        for ts, inst, p in shown
    )
    note = (
        f"<p class='legend'>The last {limit} of {len(trades)} trades; report.json has all.</p>"
        if len(trades) > limit
        else ""
    )
    return (
        "<section id='trades'><h2>Closed trades</h2><table><tr><th>closed (UTC)</th>"
        f"<th>instrument</th><th>realised P&amp;L</th></tr>{rows}</table>{note}</section>"
    )


# -- SVG charts ---------------------------------------------------------------------------
@attrs.frozen
class _Frame:
    """Maps data coordinates to the plot area of one chart."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int = _W
    height: int = _H

    def x(self, v: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return _ML + (v - self.x0) / span * (self.width - _ML - _MR)

    def y(self, v: float) -> float:
        span = self.y1 - self.y0 or 1.0
        return self.height - _MB - (v - self.y0) / span * (self.height - _MT - _MB)


def _svg(body: str, label: str, width: int = _W, height: int = _H) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(label)}">{body}</svg>'
    )


def _empty(label: str) -> str:
    body = f'<text x="{_W / 2}" y="44" text-anchor="middle">no data to chart</text>'
    return _svg(body, label, height=80)


def _decimate(points: Sequence[tuple[int, float]], buckets: int) -> list[tuple[int, float]]:
    """At most about ``2 * buckets`` points keeping each time bucket's minimum and maximum,
    so spikes survive downsampling."""
    if len(points) <= 2 * buckets:
        return list(points)
    t0, t1 = points[0][0], points[-1][0]
    width = (t1 - t0) / buckets or 1
    out: list[tuple[int, float]] = []
    group: list[tuple[int, float]] = []
    current = 0
    for p in points:
        b = min(int((p[0] - t0) / width), buckets - 1)
        if b != current and group:
            out.extend(_extremes(group))
            group = []
        current = b
        group.append(p)
    out.extend(_extremes(group))
    return out


def _extremes(group: list[tuple[int, float]]) -> list[tuple[int, float]]:
    lo = min(group, key=lambda p: p[1])
    hi = max(group, key=lambda p: p[1])
    return [lo] if lo is hi else sorted((lo, hi), key=lambda p: p[0])


def _decimals(step: float) -> int:
    """Decimals that show every multiple of ``step`` (1, 2, 2.5 or 5 times a power of 10)."""
    if step <= 0:
        return 0
    d = max(0, -math.floor(math.log10(step)))
    scaled = step * 10**d
    return d + (0 if abs(scaled - round(scaled)) < 1e-9 else 1)


def _nice_ticks(lo: float, hi: float, target: int = 5) -> tuple[list[float], float]:
    if hi <= lo:
        pad = abs(lo) * 0.01 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(k * mag for k in (1, 2, 2.5, 5, 10) if k * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return ticks, step


def _axis_money(v: float, step: float) -> str:
    return f"{v:,.{_decimals(step)}f}"


def _time_ticks(t0: int, t1: int, target: int = 7) -> list[tuple[int, str]]:
    span_s = max((t1 - t0) / NS_PER_SECOND, 1)
    step = next((s for s in _TIME_STEPS_S if span_s / s <= target), _TIME_STEPS_S[-1])
    step_ns = step * NS_PER_SECOND
    out = []
    t = -(-t0 // step_ns) * step_ns
    while t <= t1:
        d = dt.datetime.fromtimestamp(t / NS_PER_SECOND, dt.UTC)
        if step >= 86400:
            label = d.strftime("%Y-%m-%d")
        elif d.hour == d.minute == d.second == 0:
            label = d.strftime("%m-%d")
        else:
            label = d.strftime("%H:%M:%S" if step < 60 else "%H:%M")
        out.append((t, label))
        t += step_ns
    return out


def _axes(frame: _Frame, y_fmt: Any) -> str:
    yticks, ystep = _nice_ticks(frame.y0, frame.y1)
    out = []
    for v in yticks:
        y = frame.y(v)
        out.append(
            f'<line class="grid" x1="{_ML}" x2="{frame.width - _MR}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{_ML - 6}" y="{y + 4:.1f}" text-anchor="end">{html.escape(y_fmt(v, ystep))}'
            "</text>"
        )
    base = frame.height - _MB
    for t, label in _time_ticks(int(frame.x0), int(frame.x1)):
        x = frame.x(t)
        out.append(
            f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}"/>'
            f'<text x="{x:.1f}" y="{base + 17}" text-anchor="middle">{label}</text>'
        )
    out.append(f'<line class="axis" x1="{_ML}" x2="{frame.width - _MR}" y1="{base}" y2="{base}"/>')
    return "".join(out)


def _path(frame: _Frame, points: Sequence[tuple[int, float]]) -> str:
    return "M" + "L".join(f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in points)


def _frame(
    series: Sequence[Sequence[tuple[int, float]]], extra_y: Sequence[float] = ()
) -> _Frame | None:
    ts = [t for s in series for t, _ in s]
    ys = [v for s in series for _, v in s] + list(extra_y)
    if not ts:
        return None
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or (abs(y1) * 0.01 or 1.0)
    x0, x1 = min(ts), max(ts)
    if x1 == x0:
        x0, x1 = x0 - NS_PER_SECOND * 30, x1 + NS_PER_SECOND * 30
    return _Frame(x0, x1, y0 - pad, y1 + pad)


def _line_chart(
    series: Sequence[tuple[Sequence[tuple[int, float]], str, str]],
    *,
    y_fmt: Any,
    baseline: float | None = None,
    area: bool = False,
) -> str:
    data = [_decimate(pts, _MAX_POINTS // 2) for pts, _, _ in series]
    extra = [baseline] if baseline is not None else []
    if area:
        extra.append(0.0)
    frame = _frame(data, extra)
    label = ", ".join(name for _, _, name in series)
    if frame is None:
        return _empty(label)
    body = [_axes(frame, y_fmt)]
    if baseline is not None:
        y = frame.y(baseline)
        body.append(
            f'<line x1="{_ML}" x2="{_W - _MR}" y1="{y:.1f}" y2="{y:.1f}" stroke="#8c959f" '
            'stroke-dasharray="4 3"/>'
        )
    for pts, (_, color, _name) in zip(data, series, strict=True):
        if not pts:
            continue
        if area:
            y0 = frame.y(0.0)
            poly = " ".join(f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in pts)
            body.append(
                f'<polygon points="{frame.x(pts[0][0]):.1f},{y0:.1f} {poly} '
                f'{frame.x(pts[-1][0]):.1f},{y0:.1f}" fill="{color}" fill-opacity="0.18"/>'
            )
        body.append(f'<path class="line" stroke="{color}" d="{_path(frame, pts)}"/>')
    return _svg("".join(body), label)


def _order_markers(fills: Sequence[Fill]) -> dict[str, list[tuple[int, float, str, bool, str]]]:
    """Per instrument, one marker per order: ``(ts, vwap, side, is_entry, tooltip)``.

    An order is an entry when its first fill opens or adds to the position, an exit when it
    reduces, closes or flips it.
    """
    qty: dict[str, Decimal] = {}
    groups: dict[tuple[str, str], list[Fill]] = {}
    entry: dict[tuple[str, str], bool] = {}
    for f in sorted(fills, key=lambda f: f.ts_ns):
        key = (f.instrument, f.client_order_id or f"fill@{f.ts_ns}")
        before = qty.get(f.instrument, ZERO)
        if key not in groups:
            groups[key] = []
            entry[key] = before == 0 or (before > 0) == (f.side.sign > 0)
        groups[key].append(f)
        qty[f.instrument] = before + f.quantity * f.side.sign
    out: dict[str, list[tuple[int, float, str, bool, str]]] = {}
    for key, fs in groups.items():
        q = sum((f.quantity for f in fs), ZERO)
        vwap = sum((f.quantity * f.price for f in fs), ZERO) / q if q else fs[0].price
        side = fs[0].side.value
        kind = "entry" if entry[key] else "exit"
        tip = (
            f"{side} {q} @ {vwap:.8g} ({kind}, {len(fs)} fill{'s' if len(fs) > 1 else ''}, "
            f"fees {sum((f.fee for f in fs), ZERO)}) {_fmt_ts(fs[0].ts_ns)} UTC"
        )
        out.setdefault(key[0], []).append((fs[0].ts_ns, float(vwap), side, entry[key], tip))
    return out


def _price_charts(result: RunResult) -> str:
    markers = _order_markers(result.fills)
    names = list(result.price_curve) + sorted(set(markers) - set(result.price_curve))
    if not names:
        return _empty("price")
    out = []
    for name in names:
        pts = _decimate(list(result.price_curve.get(name, [])), _MAX_POINTS // 2)
        mks = markers.get(name, [])
        note = ""
        if len(mks) > _MAX_MARKERS:
            note = f"<p class='legend'>Showing {_MAX_MARKERS} of {len(mks)} orders.</p>"
            mks = mks[:: math.ceil(len(mks) / _MAX_MARKERS)]
        frame = _frame([pts, [(t, p) for t, p, *_ in mks]])
        if frame is None:
            out.append(_empty(name))
            continue
        body = [_axes(frame, _axis_money)]
        if pts:
            body.append(f'<path class="line" stroke="#57606a" d="{_path(frame, pts)}"/>')
        for t, p, side, is_entry, tip in mks:
            x, y = frame.x(t), frame.y(p)
            d = (
                f"M{x:.1f},{y - 6:.1f}L{x + 5:.1f},{y + 3:.1f}L{x - 5:.1f},{y + 3:.1f}Z"
                if side == "buy"
                else f"M{x:.1f},{y + 6:.1f}L{x + 5:.1f},{y - 3:.1f}L{x - 5:.1f},{y - 3:.1f}Z"
            )
            cls = f"mk {side} {'entry' if is_entry else 'exit'}"
            body.append(f'<path class="{cls}" d="{d}"><title>{html.escape(tip)}</title></path>')
        out.append(f"<h3 style='font-size:14px;margin:6px 0'>{html.escape(name)}</h3>")
        out.append(_svg("".join(body), f"{name} price") + note)
    return "".join(out)


def _funnel_chart(f: Funnel) -> str:
    bars = f.bars()
    row, left, right = 26, 190, 70
    height = _MT + row * len(bars) + 8
    top = max((v for _, v, _ in bars), default=0) or 1
    body = []
    for i, (label, value, stage) in enumerate(bars):
        y = _MT + i * row
        w = (_W - left - right) * value / top
        body.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect class="bar {stage}" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}">'
            f"<title>{html.escape(label)}: {value}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + 15}">{value}</text>'
        )
    return _svg("".join(body), "gate funnel", height=height)


# -- formatting ---------------------------------------------------------------------------
def _fmt_ts(ts: int | None) -> str:
    if ts is None:
        return "–"
    return dt.datetime.fromtimestamp(ts / NS_PER_SECOND, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _fmt_duration(ns: int) -> str:
    s = ns // NS_PER_SECOND
    if s <= 0:
        return "0s"
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    mnt, sec = divmod(rem, 60)
    parts = [f"{d}d" if d else "", f"{h}h" if h else "", f"{mnt}m" if mnt else ""]
    parts.append(f"{sec}s" if sec and not d else "")
    return " ".join(p for p in parts if p) or "0s"


def _fmt_pct(v: float | Decimal | None) -> str:
    return "–" if v is None else f"{float(v) * 100:,.2f}%"


def _fmt_float(v: float | Decimal | None, digits: int = 2) -> str:
    return "–" if v is None else f"{float(v):,.{digits}f}"
