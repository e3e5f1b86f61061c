"""The report reads a run's results, never the engine: the summary and the funnel come from a
:class:`RunFigures` built by hand, with no engine anywhere."""

from __future__ import annotations

from decimal import Decimal

from tradewind.model import Fill, Side
from tradewind.report.metrics import RunFigures, funnel, summarize

MIN = 60_000_000_000
BASE = 1_582_329_600_000_000_000  # 2020-02-22 00:00 UTC


def _fill(cid: str, side: Side, price: str, minute: int) -> Fill:
    return Fill(
        client_order_id=cid,
        instrument="sim:BTCUSDT",
        side=side,
        quantity=Decimal("0.1"),
        price=Decimal(price),
        fee=Decimal("0.5"),
        ts_ns=BASE + minute * MIN,
    )


FIGURES = RunFigures(
    run_id="hand",
    mode="backtest",
    instruments=["sim:BTCUSDT"],
    timeframe_ns=MIN,
    ticks=1_000,
    candles=4,
    decisions=4,
    signals=2,
    currency="USDT",
    starting_equity=Decimal("10000"),
    final_equity=Decimal("10099"),
    realized_pnl=Decimal("100"),
    fees_paid=Decimal("1"),
    funding_paid=Decimal("0"),
    equity_curve=[(BASE + m * MIN, v) for m, v in enumerate([10000.0, 9950.0, 10050.0, 10099.0])],
    closed_trades=[(BASE + 2 * MIN, "sim:BTCUSDT", Decimal("99"))],
    fills=[_fill("tw-1", Side.BUY, "50000", 1), _fill("tw-2", Side.SELL, "51000", 2)],
    evaluated=4,
    rejected={"score": 2},
    vetoes={"exposure": 1},
    entries_sent=1,
    open_positions=0,
    last_ts_ns=BASE + 3 * MIN,
    data_gaps=0,
    bad_rows=0,
    overlays=["orderflow.imbalance_1m"],
)


def test_the_funnel_is_read_from_the_runs_figures():
    assert funnel(FIGURES) == {
        "candidates": 4,
        "rejected:score": 2,
        "signals": 2,
        "vetoed:exposure": 1,
        "orders": 1,
    }


def test_the_summary_is_read_from_the_runs_figures():
    s = summarize(FIGURES)
    assert {k: s[k] for k in ("run_id", "mode", "timeframe", "currency", "ticks", "decisions")} == {
        "run_id": "hand",
        "mode": "backtest",
        "timeframe": "1m",
        "currency": "USDT",
        "ticks": 1_000,
        "decisions": 4,
    }
    assert (s["starting_equity"], s["final_equity"], s["pnl"]) == ("10000", "10099", "99")
    assert (s["realized_pnl"], s["fees_paid"], s["fills"], s["trades"]) == ("100", "1", 2, 1)
    assert s["total_return"] == "0.0099"
    assert s["win_rate"] == 1.0
    assert s["funnel"]["orders"] == 1 and s["vetoes"] == {"exposure": 1}
    assert s["overlays"] == ["orderflow.imbalance_1m"] and "halted_at_ns" not in s
