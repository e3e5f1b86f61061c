"""The end-of-run summary the CLI prints, formatted for a trader to read.

Money is rounded to the quote currency (2 decimals for fiat and stablecoins, 8 otherwise) with
thousands separators; ratios are percentages; durations read ``1d 02:30`` (``HH:MM:SS`` under a
day); times are UTC. Figures that say nothing on the run at hand are "n/a" with the reason:
Sharpe and Sortino with fewer than :data:`~tradewind.report.analysis.MIN_RETURNS` returns, CAGR and
Calmar on runs shorter than :data:`~tradewind.report.analysis.MIN_CAGR_DAYS` days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from tradewind.report.analysis import (
    MIN_CAGR_DAYS,
    MIN_RETURNS,
    Analysis,
    Breakdown,
    Period,
    analyse,
    money_places,
)
from tradewind.report.execution import quality_of, quality_table
from tradewind.timeframes import format_timeframe

if TYPE_CHECKING:
    from tradewind.report.metrics import Metrics
    from tradewind.report.trades import Trade
    from tradewind.trading.engine import RunResult

NS = 1_000_000_000


# -- formatting ---------------------------------------------------------------------------
def fmt_money(value: Decimal | float | None, currency: str, *, sign: bool = False) -> str:
    """``12,345.68 USDT``: rounded half-even to the currency's decimals."""
    if value is None:
        return "n/a"
    places = money_places(currency)
    d = Decimal(str(value))
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if d == 0:
        q = abs(q)  # exactly nothing: no sign
    # A loss too small to show still reads as a loss: "-0.00", never "+0.00".
    text = f"{q:+,.{places}f}" if sign and d != 0 else f"{q:,.{places}f}"
    if q == 0 and d < 0 and not text.startswith("-"):
        text = "-" + text.lstrip("+")
    return f"{text} {currency}"


def fmt_pct(value: Decimal | float | None, *, sign: bool = False) -> str:
    """A fraction as a percentage with 2 decimals: ``0.0123`` → ``1.23%``."""
    if value is None:
        return "n/a"
    v = float(value) * 100
    if v == 0:
        return "0.00%"
    text = f"{v:+,.2f}%" if sign else f"{v:,.2f}%"
    if v < 0 and not text.startswith("-"):  # a loss too small to show still reads as one
        text = "-" + text.lstrip("+")
    return text


def fmt_duration(ns: int | None) -> str:
    """``1d 02:30`` from one day on, ``02:30:15`` below (hours, minutes, seconds)."""
    if ns is None:
        return "n/a"
    s = max(0, int(ns) // NS)
    d, rem = divmod(s, 86_400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    return f"{d}d {h:02d}:{m:02d}" if d else f"{h:02d}:{m:02d}:{sec:02d}"


def fmt_time(ts_ns: int | None, *, seconds: bool = True) -> str:
    """``2020-02-22 00:05:00 UTC``."""
    if ts_ns is None:
        return "n/a"
    d = dt.datetime.fromtimestamp(int(ts_ns) // NS, dt.UTC)
    return d.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def fmt_times(values: Sequence[Any]) -> list[str]:
    """:func:`fmt_time` of each of ``values``: at once (the digits written by numpy,
    :func:`tradewind.report._arrays.plotly_dates` to the second) when every value is an
    ``int`` from 1970 on that fits an int64 (to 2262), else one by one."""
    if values and all(type(v) is int for v in values):
        if 0 <= min(values) and max(values) < 2**63:
            from tradewind.report._arrays import plotly_dates

            return [d[:19] + " UTC" for d in plotly_dates(values)]
    return [fmt_time(v) for v in values]


def fmt_ratio(value: float | None, shown: bool, why_not: str) -> str:
    """A ratio with 2 decimals, or ``n/a (<why>)``."""
    if not shown:
        return f"n/a ({why_not})"
    return "n/a (undefined)" if value is None else f"{value:,.2f}"


def unvalued_note(a: Analysis) -> str:
    """Why sums over trades are not shown (P&L in a currency without a price, or a fee in a
    third currency without a price at its fill), or ""."""
    if a.unpriced_fees:
        return f"n/a (a trade's fees could not be valued: {a.unpriced_fees})"
    if not a.unvalued:
        return ""
    return f"n/a (P&L in {', '.join(a.unvalued)}, which has no price in {a.currency})"


def fmt_profit_factor(a: Analysis) -> str:
    """Winners' net P&L / losers' (as a positive number); ∞ with profit and no loss."""
    if a.unsummable:
        return unvalued_note(a)
    if not a.trades:
        return "n/a (no closed trade)"
    if a.gross_loss == 0:
        return "∞" if a.gross_profit > 0 else "n/a (no win, no loss)"
    return f"{a.gross_profit / a.gross_loss:,.2f}"


def plural(n: int, word: str) -> str:
    """``1 trade``, ``2 trades``, with thousands separators."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


# -- the tables ---------------------------------------------------------------------------
def realized_line(summary: Mapping[str, Any], currency: str) -> str:
    """Realised P&L in the reporting currency, with each P&L currency's own amount when the
    instruments settle in others; without a total when one could not be converted."""
    by = {c: Decimal(str(v)) for c, v in (summary.get("realized_pnl_by_currency") or {}).items()}
    total = summary.get("realized_pnl")
    return total_line(None if total is None else Decimal(str(total)), by, currency, sign=True)


def fees_line(m: Metrics, currency: str) -> str:
    """Fees paid in the reporting currency, with each fee currency's own amount when they
    are paid in others (a third currency such as BNB, or another quote); without a total,
    and with the reason, when one could not be converted."""
    return total_line(m.fees_paid, m.fees_by_currency, currency, why=m.fees_error)


def total_line(
    total: Decimal | None,
    by: Mapping[str, Decimal],
    currency: str,
    *,
    sign: bool = False,
    why: str = "",
) -> str:
    """A sum of money in several currencies: the total in ``currency``, followed by each
    currency's amount when any is not ``currency``; ``n/a`` with the amounts when it has
    no total (never a raw sum of currencies)."""
    parts = ", ".join(fmt_money(v, c, sign=sign) for c, v in sorted(by.items()))
    if total is None:
        reason = why or f"not convertible to {currency}"
        return f"n/a ({reason}): {parts}" if parts else "n/a"
    text = fmt_money(total, currency, sign=sign)
    if any(c != currency for c in by):
        text += f" ({parts})"
    return text


def _trade_line(t: Trade | None, currency: str) -> str:
    if t is None:
        return "n/a (no closed trade)"
    pnl = t.pnl
    if pnl is None:
        return f"n/a ({t.fees_not_converted})"
    notional = t.entry_price * t.quantity
    pct = f" ({fmt_pct(pnl / notional, sign=True)})" if notional else ""
    return f"{fmt_money(pnl, currency, sign=True)}{pct} {t.instrument} {fmt_time(t.exit_ts_ns)}"


def headline_rows(a: Analysis, summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The two-column table: what the run was, what it made, how it made it."""
    m = a.metrics
    cur = a.currency
    tf = format_timeframe(m.bar_ns) if m.bar_ns else "n/a"
    ppy = f"{m.periods_per_year:,.0f}" if m.periods_per_year else "n/a"
    basis = f"{m.returns:,} {tf} returns, annualised ×√{ppy}"
    few = f"fewer than {MIN_RETURNS} returns: {m.returns:,}"
    short = f"run shorter than {MIN_CAGR_DAYS} days"
    dd = m.drawdown
    funnel = m.funnel
    n = len(a.trades)
    wins_losses = f"{a.wins:,} / {n - a.wins - a.losses:,} / {a.losses:,}"
    win_rate = a.wins / n if n else None
    if a.unpriced_fees:  # some trades have no net P&L: neither a win nor a loss is known
        wins_losses = unvalued_note(a)
    rows = [
        ("Period", f"{fmt_time(m.start_ts_ns)} → {fmt_time(m.end_ts_ns)}"),
        ("Duration", fmt_duration(m.duration_ns)),
        ("Instruments", ", ".join(map(str, summary.get("instruments") or [])) or "n/a"),
        ("Timeframe", tf),
        ("Ticks / candles", f"{summary.get('ticks', 0):,} / {summary.get('candles', 0):,}"),
        ("Starting equity", fmt_money(m.starting_equity, cur)),
        ("Final equity", fmt_money(m.final_equity, cur)),
        ("P&L", f"{fmt_money(a.net_pnl, cur, sign=True)} ({fmt_pct(m.total_return, sign=True)})"),
        # Instruments settling in another currency than equity's: what each realised, and
        # its total converted (equity and the P&L above are in the reporting currency).
        *(
            [("Realised P&L", realized_line(summary, cur))]
            if any(c != cur for c in summary.get("realized_pnl_by_currency") or {})
            else []
        ),
        ("Buy and hold", fmt_pct(a.buy_and_hold, sign=True)),
        ("CAGR", fmt_pct(a.cagr, sign=True) if a.cagr_shown else f"n/a ({short})"),
        (
            "Sharpe",
            fmt_ratio(m.sharpe, a.ratios_shown, few) + (f" ({basis})" if a.ratios_shown else ""),
        ),
        (
            "Sortino",
            fmt_ratio(m.sortino, a.ratios_shown, few) + (f" ({basis})" if a.ratios_shown else ""),
        ),
        ("Calmar", fmt_ratio(a.calmar, a.cagr_shown, short)),
        ("Max drawdown", fmt_pct(dd.depth)),
        (
            "Max drawdown duration",
            (fmt_duration(dd.duration_ns) + ("" if dd.recovered else " (not recovered)"))
            if dd.peak_ts_ns is not None
            else "n/a (equity never fell)",
        ),
        ("Closed trades", f"{n:,}"),
        (
            "Wins / draws / losses",
            wins_losses if a.unpriced_fees else f"{wins_losses} ({fmt_pct(win_rate)} won)",
        ),
        ("Profit factor", fmt_profit_factor(a)),
        ("Expectancy", unvalued_note(a) or fmt_money(a.expectancy, cur, sign=True)),
        ("Avg trade duration", fmt_duration(a.avg_duration_ns)),
        # Best and worst of the trades valued in the reporting currency.
        ("Best trade", unvalued_note(a) or _trade_line(a.best, cur)),
        ("Worst trade", unvalued_note(a) or _trade_line(a.worst, cur)),
        (
            "Longest losing streak",
            unvalued_note(a) if a.unpriced_fees else plural(a.longest_losing_streak, "trade"),
        ),
        ("Fees paid", fees_line(m, cur)),
        ("Funding paid", fmt_money(m.funding_paid, cur)),
        ("Exposure", fmt_pct(m.exposure)),
        ("Trades per hour", "n/a" if m.trades_per_hour is None else f"{m.trades_per_hour:,.2f}"),
        ("Open at the end", plural(len(a.open_positions), "position")),
        (
            "Funnel",
            f"{plural(funnel.candidates, 'candidate')} → {plural(funnel.signals, 'signal')} → "
            f"{plural(funnel.orders, 'order')}",
        ),
    ]
    rows += [(f"  rejected by {k}", f"{v:,}") for k, v in funnel.rejected.items()]
    rows += [(f"  vetoed by {k}", f"{v:,}") for k, v in funnel.vetoed.items()]
    # Data quality, when the run counted it (holes in the tape, rows the data files lost).
    if "data_gaps" in summary:
        rows.append(("Data gaps", f"{int(summary['data_gaps']):,}"))
    if "bad_rows" in summary:
        rows.append(("Bad data rows", f"{int(summary['bad_rows']):,}"))
    # Events the bus dropped for a subscriber that could not keep up (a notifier, say).
    for name, count in sorted((summary.get("events_dropped") or {}).items()):
        rows.append((f"Events dropped for {name}", f"{int(count):,}"))
    return rows


def _breakdown_table(
    title: str,
    first: str,
    rows: Sequence[Breakdown],
    cur: str,
    currencies: Mapping[str, str] | None = None,
) -> Table:
    """A breakdown; with ``currencies`` (key to P&L currency, per instrument) each row's money
    is in its own currency."""
    t = Table(title=title, title_justify="left")
    t.add_column(first)
    for col in ("Trades", "Win %", "Net P&L", "Avg P&L", "Avg duration", "Fees"):
        t.add_column(col, justify="right")
    for b in rows:
        row_cur = (currencies or {}).get(b.key) or cur
        t.add_row(
            b.key,
            f"{b.trades:,}",
            fmt_pct(b.win_rate),
            fmt_money(b.net_pnl, row_cur, sign=True),
            fmt_money(b.avg_pnl, row_cur, sign=True),
            fmt_duration(b.avg_duration_ns),
            fmt_money(b.fees, row_cur),
        )
    return t


def _period_table(title: str, rows: Sequence[Period], cur: str) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("Period")
    for col in ("Trades", "Wins", "Losses", "Net P&L", "Equity return"):
        t.add_column(col, justify="right")
    for p in rows:
        t.add_row(
            p.label,
            f"{p.trades:,}",
            f"{p.wins:,}",
            f"{p.losses:,}",
            fmt_money(p.net_pnl, cur, sign=True),
            fmt_pct(p.equity_return, sign=True),
        )
    return t


def _highlight(console: Console) -> bool | None:
    """The ``highlight`` of the summary's text lines on ``console``: its own (None) where
    styles reach the output (a colour system, a recording console, Jupyter), else False.
    Rich's highlighter only adds styles, and a console without a colour system writes no
    style: the text is the same, without compiling the highlighter's ~16 regular
    expressions (~3-6 ms of every process that prints a summary to a pipe or a file)."""
    if console.color_system is not None or console.record or console.is_jupyter:
        return None
    return False


def print_summary(
    result: RunResult,
    console: Console | None = None,
    *,
    journal: Path | str | None = None,
    report: Sequence[Path | str] = (),
    analysis: Analysis | None = None,
) -> None:
    """Print the run's summary: the headline table, per-instrument and per-exit-reason
    breakdowns, daily, weekly and monthly tables, and where the journal and report are."""
    out = console or Console(width=110)
    a = analysis or analyse(result)
    s = dict(result.summary)
    hl = _highlight(out)
    out.print(
        f"[bold]run {s.get('run_id', result.run_id)}[/bold] ({s.get('mode', '?')})", highlight=hl
    )
    head = Table(title="Summary", title_justify="left", show_header=False)
    head.add_column("metric")
    head.add_column("value")
    for k, v in headline_rows(a, s):
        head.add_row(k, v)
    out.print(head)
    cur = a.currency
    if a.trades:
        out.print(
            _breakdown_table(
                "Per instrument",
                "Instrument",
                a.by_instrument,
                cur,
                a.pnl_currencies,
            )
        )
        if not a.unsummable:
            out.print(_breakdown_table("Per exit reason", "Exit reason", a.by_exit, cur))
    if a.unsummable:
        out.print(f"Per exit reason and per period: {unvalued_note(a)}", highlight=hl)
    else:
        out.print(_period_table("Daily", a.daily, cur))
        out.print(_period_table("Weekly", a.weekly, cur))
        out.print(_period_table("Monthly", a.monthly, cur))
    if a.open_positions:
        t = Table(title="Open at the end", title_justify="left")
        for col in ("Instrument", "Side", "Quantity", "Entry price", "Since"):
            t.add_column(col)
        for p in a.open_positions:
            t.add_row(
                p.instrument, p.side.value, f"{p.quantity:,}", f"{p.entry_price:,.8g}",
                fmt_time(p.entry_ts_ns),
            )  # fmt: skip
        out.print(t)
    routed = quality_of(result.journal_path, result.run_id)
    if routed:
        out.print(quality_table(routed))
    out.print(
        "Trade figures (wins, profit factor, expectancy, best, worst, breakdowns) are net of "
        "fees and funding. Definitions: docs/report.md.",
        highlight=hl,
    )
    if journal is not None:
        out.print(f"journal: {journal}", soft_wrap=True, highlight=hl)
    if report:
        out.print(f"report: {' and '.join(str(p) for p in report)}", soft_wrap=True, highlight=hl)
