"""Report metrics on a hand-built run, checked against numbers worked out by hand; the HTML."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from tradewind.config import load_config
from tradewind.model import Fill, Side
from tradewind.report.metrics import equity_points, max_drawdown, metrics_of, write_report
from tradewind.trading.engine import Engine, RunResult

from tests.test_engine import demo_config_text

BASE = 1_582_329_600_000_000_000  # 2020-02-22 00:00 UTC
MIN = 60_000_000_000
BARS_PER_YEAR = 365 * 24 * 60  # 1m bars


def fill(cid: str, inst: str, side: Side, qty: str, price: str, minutes: float) -> Fill:
    return Fill(
        client_order_id=cid,
        instrument=inst,
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal("0.1"),
        ts_ns=BASE + int(minutes * MIN),
    )


B, S = Side.BUY, Side.SELL

#: Six minutes of a 1m strategy on three instruments.
HAND = RunResult(
    run_id="hand",
    summary={
        "run_id": "hand",
        "mode": "backtest",
        "instruments": ["sim:A", "sim:B", "sim:C"],
        "timeframe": "1m",
        "starting_equity": "1000",
        "final_equity": "1197.9",
        "funding_paid": "1.25",
        "last_ts_ns": BASE + 6 * MIN,
        "funnel": {
            "candidates": 100,
            "rejected:regime": 60,
            "rejected:zones": 25,
            "signals": 15,
            "vetoed:killswitch": 3,
            "vetoed:sizing": 2,
            "orders": 10,
        },
    },
    # Bar returns: +10 %, -10 %, +10 %, +10 %.
    equity_curve=[
        (BASE + 1 * MIN, 1000.0),
        (BASE + 2 * MIN, 1100.0),
        (BASE + 3 * MIN, 990.0),
        (BASE + 4 * MIN, 1089.0),
        (BASE + 5 * MIN, 1197.9),
    ],
    closed_trades=[
        (BASE + 2 * MIN, "sim:A", Decimal("150")),
        (BASE + 3 * MIN, "sim:A", Decimal("-50")),
        (BASE + 4 * MIN, "sim:A", Decimal("30")),
        (BASE + 5 * MIN, "sim:B", Decimal("-20")),
        (BASE + 5 * MIN, "sim:B", Decimal("0")),
    ],
    fills=[
        fill("a1", "sim:A", B, "1", "100", 1),  # A long 1 → 2 min
        fill("a2", "sim:A", S, "1", "101", 2),
        fill("a3", "sim:A", S, "2", "102", 3),  # A short 3 → 4 min
        fill("a4", "sim:A", B, "1", "101", 3.5),
        fill("b1", "sim:B", B, "1", "50", 3.5),  # B long 3.5 → 5 min
        fill("a5", "sim:A", B, "1", "100", 4),
        fill("b2", "sim:B", S, "1", "51", 5),
        fill("c1", "sim:C", B, "1", "10", 5.5),  # C long 5.5 min → the end (6 min)
    ],
    price_curve={
        "sim:A": [(BASE + m * MIN, 100.0 + m) for m in range(1, 6)],
        "sim:B": [(BASE + m * MIN, 50.0 + m / 2) for m in range(1, 6)],
    },
)


def test_each_metric_equals_the_hand_computed_value():
    m = metrics_of(HAND)
    # Total return: (1197.9 - 1000) / 1000, exact.
    assert m.total_return == Decimal("0.1979")
    # Returns r = [0.1, -0.1, 0.1, 0.1]: mean 0.05; sample variance
    # (3 × 0.05² + 0.15²) / 3 = 0.01, stdev 0.1; one year = 525,600 one-minute bars.
    assert m.returns == 4 and m.periods_per_year == BARS_PER_YEAR
    assert m.sharpe == pytest.approx(0.05 / 0.1 * math.sqrt(BARS_PER_YEAR), rel=1e-9)
    # Downside deviation: sqrt((0 + 0.1² + 0 + 0) / 4) = 0.05.
    assert m.sortino == pytest.approx(0.05 / 0.05 * math.sqrt(BARS_PER_YEAR), rel=1e-9)
    # Deepest fall 1100 → 990 = 10 %, from the peak at 2 min to the recovery at 5 min.
    dd = m.drawdown
    assert dd.depth == pytest.approx(0.1, rel=1e-12)
    assert (dd.peak_ts_ns, dd.trough_ts_ns, dd.end_ts_ns) == (
        BASE + 2 * MIN,
        BASE + 3 * MIN,
        BASE + 5 * MIN,
    )
    assert dd.recovered and dd.duration_ns == 3 * MIN
    # Trades: +150, -50, +30, -20, 0 → 2 winners of 5 (a flat trade is not a win).
    assert (m.trades, m.wins, m.losses) == (5, 2, 2)
    assert m.win_rate == 0.4
    assert (m.gross_profit, m.gross_loss, m.net_pnl) == (Decimal(180), Decimal(70), Decimal(110))
    assert m.profit_factor == Decimal(180) / Decimal(70)
    assert m.expectancy == Decimal(22)
    # The run: from the open of the first 1m bar (0 min) to the last trade (6 min).
    assert (m.start_ts_ns, m.end_ts_ns) == (BASE, BASE + 6 * MIN)
    # Positions open over [1, 2] ∪ [3, 5] ∪ [5.5, 6] = 3.5 of 6 minutes.
    assert m.exposure == pytest.approx(3.5 / 6, rel=1e-12)
    # 5 closed trades in 0.1 h.
    assert m.trades_per_hour == pytest.approx(50.0, rel=1e-12)
    assert m.fees_paid == Decimal("0.8") and m.funding_paid == Decimal("1.25")
    f = m.funnel
    assert (f.candidates, f.signals, f.orders) == (100, 15, 10)
    assert f.rejected == {"regime": 60, "zones": 25}
    assert f.vetoed == {"killswitch": 3, "sizing": 2}


def test_money_is_written_as_exact_decimal_strings(tmp_path):
    jpath, _ = write_report(HAND, tmp_path)
    data = json.loads(jpath.read_text())
    m = data["metrics"]
    assert m["total_return"] == "0.1979"
    assert m["expectancy"] == "22"
    assert m["profit_factor"] == str(Decimal(180) / Decimal(70))
    assert (m["gross_profit"], m["gross_loss"], m["net_pnl"]) == ("180", "70", "110")
    assert (m["fees_paid"], m["funding_paid"]) == ("0.8", "1.25")
    assert m["max_drawdown_duration_ns"] == 3 * MIN and m["max_drawdown_recovered"] is True
    assert m["funnel"] == {
        "candidates": 100,
        "rejected": {"regime": 60, "zones": 25},
        "signals": 15,
        "vetoed": {"killswitch": 3, "sizing": 2},
        "orders": 10,
    }
    assert data["summary"]["run_id"] == "hand"
    assert data["trades"][0] == {
        "closed_ts_ns": BASE + 2 * MIN,
        "instrument": "sim:A",
        "pnl": "150",
        "pnl_currency": "USDT",  # the summary names none: the report's currency
    }
    assert data["fills"][0]["price"] == "100" and data["fills"][0]["fee"] == "0.1"


def test_a_drawdown_never_recovered_lasts_to_the_end():
    dd = max_drawdown([(BASE + i * MIN, e) for i, e in enumerate([100.0, 120.0, 90.0, 110.0])])
    assert dd.depth == pytest.approx(0.25)
    assert not dd.recovered
    assert (dd.peak_ts_ns, dd.trough_ts_ns, dd.end_ts_ns) == (
        BASE + MIN,
        BASE + 2 * MIN,
        BASE + 3 * MIN,
    )
    assert dd.duration_ns == 2 * MIN


def test_equity_points_keep_one_point_per_close_in_time_order():
    # Two instruments closing the same minute record equity twice; the later value stands.
    curve = [(BASE + 2 * MIN, 103.0), (BASE + MIN, 100.0), (BASE + MIN, 101.0)]
    assert equity_points(curve) == [(BASE + MIN, 101.0), (BASE + 2 * MIN, 103.0)]


def test_undefined_metrics_are_none_on_an_empty_run(tmp_path):
    empty = RunResult(
        run_id="empty",
        summary={"starting_equity": "1000", "final_equity": "1000", "timeframe": "1m"},
        equity_curve=[],
        closed_trades=[],
        fills=[],
    )
    m = metrics_of(empty)
    assert m.total_return == 0 and m.trades == 0
    assert m.sharpe is None and m.sortino is None and m.win_rate is None
    assert m.profit_factor is None and m.expectancy is None and m.exposure is None
    _, hpath = write_report(empty, tmp_path)
    assert all(f"id='chart-{c}'" in hpath.read_text() for c in CHARTS)


CHARTS = ("price", "equity", "funnel", "returns", "rolling")


def figures(page: str) -> dict[str, dict]:
    """Every plotly figure of the page, by the id of its div."""
    return {
        m.group(1): json.loads(m.group(2).replace("<\\/", "</"))
        for m in re.finditer(
            r"<script type='application/json' data-figure='([^']+)'[^>]*>(.*?)</script>",
            page,
            re.S,
        )
    }


def test_the_html_is_one_offline_file_with_interactive_charts(tmp_path):
    _, hpath = write_report(HAND, tmp_path)
    page = hpath.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json"]
    for bad in ("<script src", "<link", "<iframe", "@import"):
        assert bad not in page
    assert "Plotly.newPlot" in page and "plotly.js v" in page  # the library is inline
    for name in CHARTS:
        assert f"id='chart-{name}'" in page, name
    figs = figures(page)
    # One price chart per instrument; sim:C has fills but no candles and is still drawn.
    price = [figs[f"chart-price-{i}"] for i in range(3)]
    markers: dict[str, int] = {}
    for f in price:
        for t in f["data"]:
            if t["name"].startswith(("entries", "exits")):
                markers[t["name"]] = markers.get(t["name"], 0) + len(t["x"])
    # One marker per order: 8 orders, 4 entries (a1, a3, b1, c1) and 4 exits.
    assert markers == {
        "entries: buy": 3, "entries: sell": 1, "exits: buy": 2, "exits: sell": 2,
    }  # fmt: skip
    hover = [t for f in price for t in f["data"] if t["name"] == "exits: sell"]
    assert "reason: exit" in hover[0]["hovertext"][0]  # no order tags in this run
    funnel = figs["chart-funnel-plot"]["data"][0]
    assert funnel["y"] == [
        "candidates", "rejected: regime", "rejected: zones", "signals",
        "vetoed: killswitch", "vetoed: sizing", "orders",
    ]  # fmt: skip
    assert funnel["x"] == [100, 60, 25, 15, 3, 2, 10]
    equity = {t["name"]: t for t in figs["chart-equity-plot"]["data"]}
    assert equity["equity"]["y"] == [1000.0, 1100.0, 990.0, 1089.0, 1197.9]
    assert equity["drawdown %"]["y"][2] == pytest.approx(-10.0)
    assert "+19.79%" in page
    # Closed trades table: 3 round trips (A long, A short, B long), sortable; C is open.
    trades = re.search(r"<table class='sortable' id='trades-table'>(.*?)</table>", page, re.S)
    assert trades and trades.group(1).count("<tr>") == 1 + 3
    for col in ("side", "entry (UTC)", "exit price", "quantity", "duration", "fees", "funding",
                "P&amp;L (net)", "exit reason"):  # fmt: skip
        assert f">{col}</th>" in trades.group(1), col
    opened = re.search(r"<section id='open'>(.*?)</section>", page, re.S)
    assert opened and "sim:C" in opened.group(1)


def test_the_run_summary_carries_the_report_metrics(tmp_path):
    path = tmp_path / "demo.toml"
    path.write_text(demo_config_text(tmp_path), encoding="utf-8")
    result = anyio.run(Engine(load_config(path), run_id="m").run)
    s = result.summary
    for key in (
        "ticks", "decisions", "candles", "signals", "funnel", "final_equity",
        "starting_equity", "realized_pnl", "fees_paid", "trades", "mode",
    ):  # fmt: skip
        assert key in s, key
    m = metrics_of(result).to_json()
    for key in ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "exposure"):
        assert s[key] == m[key], key
    assert s["timeframe"] == m["timeframe"] and s["fees_paid"] == m["fees_paid"]
    json_path, html_path = write_report(result, Path(tmp_path / "rep"))
    funnel = json.loads(json_path.read_text())["metrics"]["funnel"]
    assert (
        funnel["candidates"] == s["funnel"]["candidates"]
        and funnel["orders"] == s["funnel"]["orders"]
    )
    body = html_path.read_text().split("<body>")[1]  # plotly.js itself sits in <head>
    assert "https://" not in body and "<script src" not in body


def test_the_price_chart_marks_gaps_signals_and_vetoes_from_the_journal(tmp_path):
    """The report reads what the run journaled: signals and vetoes become markers, and a
    data-gap event (as the engine journals one: a system event with start_ns/end_ns) a band."""
    import duckdb

    path = tmp_path / "demo.toml"
    path.write_text(demo_config_text(tmp_path), encoding="utf-8")
    result = anyio.run(Engine(load_config(path), run_id="g").run)
    assert result.journal_path is not None
    start, end = BASE + 30 * MIN, BASE + 34 * MIN
    con = duckdb.connect(result.journal_path)
    con.execute(
        "INSERT INTO system_events (run_id, seq, ts_ns, type, severity, source, message, "
        "payload) VALUES ('g', 999999, ?, 'DataGap', 30, 'engine', 'no trades for 4m', ?)",
        [
            end,
            json.dumps(
                {
                    "instrument": "sim:BTCUSDT",
                    "start_ns": start,
                    "end_ns": end,
                    "policy": "hold",
                    "action": "held",
                }
            ),
        ],
    )
    # A veto as the journal records one (the demo's chain vetoes nothing on this sample).
    con.execute(
        "INSERT INTO vetoes (run_id, seq, ts_ns, filter, reason, action, instrument, side) "
        "VALUES ('g', 999998, ?, 'exposure', 'notional 25,000 over max_usd 20,000', '', "
        "'sim:BTCUSDT', 'buy')",
        [BASE + 40 * MIN],
    )
    n_signals = con.execute("SELECT count(*) FROM signals WHERE run_id = 'g'").fetchone()[0]
    con.close()
    _, hpath = write_report(result, tmp_path / "rep")
    price = figures(hpath.read_text())["chart-price-0"]
    (band,) = price["layout"]["shapes"]
    assert (band["x0"], band["x1"]) == ("2020-02-22 00:30:00.000", "2020-02-22 00:34:00.000")
    traces = {t["name"]: t for t in price["data"]}
    assert n_signals >= 1 and len(traces["signals"]["x"]) == n_signals
    assert "score" in traces["signals"]["hovertext"][0]
    (veto,) = traces["vetoes"]["hovertext"]
    assert "veto by exposure" in veto and "over max_usd 20,000" in veto
    assert traces["vetoes"]["x"] == ["2020-02-22 00:40:00.000"]
    # The analyzer values picked in [run] overlays and panes are drawn.
    for name in ("regime.ema_fast", "regime.ema_slow", "profile.poc", "regime.adx"):
        assert len(traces[name]["y"]) == len(result.candles["sim:BTCUSDT"]), name
    assert traces["orderflow.imbalance_1m"]["yaxis"] == "y3"
    assert traces["regime.adx"]["yaxis"] == "y4"
    assert "yaxis" not in traces["regime.ema_fast"]  # over the price


def test_report_json_has_the_round_trips_and_the_positions_left_open(tmp_path):
    jpath, _ = write_report(HAND, tmp_path)
    data = json.loads(jpath.read_text())
    trips = [
        (t["instrument"], t["side"], t["entry_price"], t["exit_price"], t["quantity"],
         t["gross_pnl"], t["fees"], t["pnl"], t["exit_ts_ns"] - t["entry_ts_ns"])
        for t in data["round_trips"]
    ]  # fmt: skip
    assert trips == [
        ("sim:A", "buy", "100", "101", "1", "1", "0.2", "0.8", 1 * MIN),
        # Short 2 @ 102, covered 1 @ 101 and 1 @ 100: exit VWAP 100.5, gross 1 + 2.
        ("sim:A", "sell", "102", "100.5", "2", "3", "0.3", "2.7", 1 * MIN),
        ("sim:B", "buy", "50", "51", "1", "1", "0.2", "0.8", int(1.5 * MIN)),
    ]
    (left,) = data["open_positions"]
    assert (left["instrument"], left["side"], left["quantity"], left["entry_price"]) == (
        "sim:C", "buy", "1", "10",
    )  # fmt: skip
