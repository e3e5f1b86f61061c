"""The summary a trader reads: a golden test on the shipped sample, and each format rule on
hand-made figures."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from rich.console import Console
from tradewind.config import load_config
from tradewind.model import Fill, Side
from tradewind.report.analysis import analyse, quote_currency
from tradewind.report.summary import (
    fmt_duration,
    fmt_money,
    fmt_pct,
    fmt_profit_factor,
    fmt_time,
    fmt_times,
    headline_rows,
    print_summary,
)
from tradewind.trading.engine import Engine, RunResult

from tests.test_engine import demo_config_text
from tests.test_report import BASE, HAND, MIN

GOLDEN = Path(__file__).parent / "data" / "summary_golden.txt"


def render(result: RunResult, **kw: object) -> str:
    console = Console(width=110, record=True, color_system=None, file=open(os.devnull, "w"))
    print_summary(result, console, **kw)  # type: ignore[arg-type]
    return console.export_text()


def test_the_summary_of_the_shipped_sample_matches_the_golden_file(tmp_path):
    path = tmp_path / "demo.toml"
    path.write_text(demo_config_text(tmp_path), encoding="utf-8")
    result = anyio.run(Engine(load_config(path), run_id="golden").run)
    text = render(
        result,
        journal="reports/journal.duckdb",
        report=("reports/report.html", "reports/report.json"),
    )
    if os.environ.get("TRADEWIND_REGEN_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    # What the golden file shows, spelled out, so a regenerated file cannot hide a regression.
    for expected in (
        "Starting equity         │ 10,000.00 USDT",  # thousands separator, 2 decimals
        "Final equity            │ 9,999.97 USDT",  # rounded to the quote currency
        "2020-02-22 00:00:00 UTC → 2020-02-22 02:05:47 UTC",  # UTC times
        "Duration                │ 02:05:47",
        "P&L                     │ -0.03 USDT (-0.00%)",  # a loss under 0.005 % still shows -
        "Exposure                │ 21.07%",  # percentages, not fractions
        "Buy and hold            │ -0.20%",
        "CAGR                    │ n/a (run shorter than 30 days)",
        "(124 1m returns, annualised ×√525,600)",  # the sampling period beside the ratio
        "Calmar                  │ n/a (run shorter than 30 days)",
        "Longest losing streak   │ 1 trade",
        "Avg trade duration      │ 00:26:30",
        "123 candidates → 1 signal → 1 order",
        "Data gaps               │ 0",  # the run's data quality
        "Bad data rows           │ 0",
        "Per exit reason",
        "adverse",
        "2020-W08 (from 2020-02-17)",
        "journal: reports/journal.duckdb",
        "report: reports/report.html and reports/report.json",
    ):
        assert expected in text, expected
    assert "golden" in text.splitlines()[0]
    assert max(len(line) for line in text.splitlines()) <= 110  # no 110-char id column


def fill(cid: str, inst: str, side: Side, qty: str, price: str, minutes: float, fee: str) -> Fill:
    return Fill(
        client_order_id=cid,
        instrument=inst,
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        ts_ns=BASE + int(minutes * MIN),
    )


def test_formats():
    assert fmt_money(Decimal("9991.801921968"), "USDT") == "9,991.80 USDT"
    assert fmt_money(Decimal("-0.004"), "USDT", sign=True) == "-0.00 USDT"  # still a loss
    assert fmt_money(Decimal("-0.004"), "USDT") == "-0.00 USDT"
    assert fmt_money(Decimal(0), "USDT", sign=True) == "0.00 USDT"
    assert fmt_pct(-0.0000001, sign=True) == "-0.00%" and fmt_pct(0.0) == "0.00%"
    assert fmt_money(Decimal("1234.123456789"), "BTC") == "1,234.12345679 BTC"
    assert fmt_pct(Decimal("0.1979")) == "19.79%" and fmt_pct(-0.5, sign=True) == "-50.00%"
    assert fmt_duration(86_400 * 10**9 + 9000 * 10**9) == "1d 02:30"
    assert fmt_duration(3 * 60 * 10**9 + 8 * 10**9) == "00:03:08"
    assert quote_currency(["sim:BTCUSDT"]) == "USDT"
    assert quote_currency(["ETH/BTC"]) == "BTC"


def test_profit_factor_is_infinite_without_a_losing_trade_and_ratios_need_enough_returns():
    won = RunResult(
        run_id="won",
        summary={"starting_equity": "1000", "final_equity": "1009.8", "timeframe": "1m"},
        equity_curve=[(BASE + m * MIN, 1000.0 + m) for m in range(1, 6)],
        closed_trades=[(BASE + 3 * MIN, "sim:ETHUSDT", Decimal(10))],
        fills=[
            fill("e1", "sim:ETHUSDT", Side.BUY, "1", "100", 1, "0.1"),
            fill("x1", "sim:ETHUSDT", Side.SELL, "1", "110", 3, "0.1"),
        ],
        order_tags={"e1": "entry", "x1": "trailing: 0.5% from the best price"},
    )
    a = analyse(won)
    assert fmt_profit_factor(a) == "∞"
    (t,) = a.trades
    assert (t.pnl, t.exit_kind, t.duration_ns) == (Decimal("9.8"), "trailing", 2 * MIN)
    rows = dict(headline_rows(a, dict(won.summary)))
    # 4 returns: Sharpe and Sortino say so instead of a number.
    assert rows["Sharpe"] == "n/a (fewer than 30 returns: 4)"
    assert rows["Sortino"] == "n/a (fewer than 30 returns: 4)"
    assert rows["Best trade"].startswith("+9.80 USDT (+9.80%) sim:ETHUSDT")
    assert rows["Avg trade duration"] == "00:02:00"


def test_the_hand_run_breaks_down_per_instrument_and_exit_reason():
    a = analyse(HAND)
    # Round trips: A long (+1 gross), A short 2 → flat (+3 gross), B long (+1 gross); C open.
    assert [(t.instrument, t.side, t.gross_pnl) for t in a.trades] == [
        ("sim:A", Side.BUY, Decimal(1)),
        ("sim:A", Side.SELL, Decimal(3)),
        ("sim:B", Side.BUY, Decimal(1)),
    ]
    assert [p.instrument for p in a.open_positions] == ["sim:C"]
    assert {b.key: b.trades for b in a.by_instrument} == {"sim:A": 2, "sim:B": 1}
    assert a.longest_losing_streak == 0
    assert [p.label for p in a.daily] == ["2020-02-22"]
    assert a.daily[0].equity_return == pytest.approx(0.1979)


def test_run_finished_carries_the_money_a_notifier_reports(tmp_path):
    import duckdb
    from tradewind.trading.engine import FINISHED_MONEY

    path = tmp_path / "demo.toml"
    path.write_text(demo_config_text(tmp_path), encoding="utf-8")
    result = anyio.run(Engine(load_config(path), run_id="money").run)
    s = result.summary
    # What a notifier received, as the journal recorded the event.
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    (payload,) = con.execute(
        "SELECT payload FROM events WHERE type = 'RunFinished' AND run_id = 'money'"
    ).fetchone()
    import json

    got = json.loads(payload)["summary"]
    for key in FINISHED_MONEY:
        assert Decimal(got[key]) == Decimal(str(s[key])), key
    assert got["currency"] == "USDT"
    assert Decimal(got["pnl"]) == Decimal(s["final_equity"]) - Decimal(s["starting_equity"])
    assert Decimal(got["pnl"]) < 0 and got["trades"] == 1


def test_a_notifier_message_of_the_finished_run_leads_with_its_pnl():
    from tradewind.model import RunFinished
    from tradewind.notify.templates import describe
    from tradewind.trading.engine import finished_summary

    summary = {
        "run_id": "r", "currency": "USDT", "starting_equity": "10000", "final_equity": "9999.97",
        "pnl": "-0.03", "fees_paid": "1.55", "trades": 1, "sharpe": -0.91, "instruments": ["x"],
    }  # fmt: skip
    event = RunFinished(ts_ns=0, run_id="r", summary=finished_summary(summary))
    assert event.summary["pnl"] == Decimal("-0.03") and event.summary["currency"] == "USDT"
    assert "instruments" not in event.summary  # lists stay in the journal's runs table
    kind, fields = describe(event)
    assert kind == "run" and fields["details"].startswith("P&L -0.03 USDT, ")
    assert "fees_paid 1.55" in fields["details"] and "trades 1" in fields["details"]


@pytest.mark.parametrize("colour", [None, "truecolor", "standard"])
def test_the_summary_is_highlighted_only_where_styles_reach_the_output(
    tmp_path, monkeypatch, colour
):
    """A console without a colour system writes no style: the summary's text lines are
    printed without rich's highlighter there (its regular expressions are never compiled)
    and the bytes are those of the highlighted print; a colour console is highlighted as
    before, to the byte."""
    import io

    from rich.highlighter import ReprHighlighter
    from tradewind.report import summary

    path = tmp_path / "demo.toml"
    path.write_text(demo_config_text(tmp_path), encoding="utf-8")
    result = anyio.run(Engine(load_config(path), run_id="colours").run)
    calls: list[int] = []
    highlight = ReprHighlighter.highlight

    def counted(self, text):  # type: ignore[no-untyped-def]
        calls.append(1)
        return highlight(self, text)

    monkeypatch.setattr(ReprHighlighter, "highlight", counted)

    def printed(rule: object) -> tuple[str, int]:
        monkeypatch.setattr(summary, "_highlight", rule)
        buf = io.StringIO()
        console = Console(
            width=110, color_system=colour, force_terminal=colour is not None, file=buf
        )
        calls.clear()
        summary.print_summary(
            result, console, journal="j [1] 0x1f 2.5 'q' /a/b", report=("h 1.html", "j 2.json")
        )
        return buf.getvalue(), len(calls)

    text, n = printed(summary._highlight)
    before, n_before = printed(lambda console: None)  # the console's own highlight, as before
    assert text == before
    assert n_before >= 3
    if colour is None:
        assert n == 0
        assert "\x1b[" not in text
    else:
        assert n == n_before
        assert "\x1b[" in text


def test_times_formatted_at_once_are_fmt_times_text():
    """fmt_times against fmt_time of each value: random times from 1970 to the last int64
    nanosecond (seconds, the last nanosecond of a second, a leap day), the epoch, times past
    int64 up to the year 9999 and negative times (one by one there), None, numpy and bool
    values, an empty list."""
    import random

    import numpy as np

    rng = random.Random(117)
    ns = 1_000_000_000
    end = 2**63
    edges = [0, 1, ns - 1, ns, end - 1, 951_782_400 * ns - 1, 951_782_400 * ns]
    for _ in range(60):
        values: list[object] = [rng.randrange(0, end) for _ in range(rng.randrange(1, 200))]
        values += [rng.randrange(0, 2**31) * ns for _ in range(20)]
        values += rng.sample(edges, 3)
        rng.shuffle(values)
        assert fmt_times(values) == [fmt_time(v) for v in values]  # type: ignore[arg-type]
        for odd in (end, 253_402_300_799 * ns, -1, -(10**18), None, np.int64(5 * ns), True):
            mixed = [*values, odd]
            assert fmt_times(mixed) == [fmt_time(v) for v in mixed]  # type: ignore[arg-type]
    assert fmt_times([]) == []
