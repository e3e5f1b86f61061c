"""Data gaps: a hole in the tape across a stop, journaled, and each ``gap_policy``.

The tape (BTCUSDT perp, 1m candles, trailing stop 0.5 %, ``max_gap = "10m"``):

    07:58:10  100.0    the 07:58 candle
    07:58:50  100.2    its close: the long rule (99 < close < 100.25) fires at 07:59:00
    07:59:20  100.3    the entry fills here (buyer-initiated): 49.9 @ 100.3
    07:59:40  100.5    the last trade before the hole: best 100.5, stop 99.9975
    --- three hours without data ---
    11:00:00   98.0    first trade after the hole (seller-initiated): the stop was crossed
    11:01:40   97.5    the next seller-initiated print (where a normal exit order would fill)
    11:03:10  101.0    later: no new entry (no close in the rule's band)
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.errors import ConfigError
from tradewind.market.gaps import gap_starts, parse_duration
from tradewind.report.metrics import render_html, report_data
from tradewind.trading.engine import Engine

T0 = 1_577_865_600_000_000  # 2020-01-01 08:00:00 UTC in µs
S = 1_000_000_000
GAP_START = (T0 - 20_000_000) * 1000  # 07:59:40
GAP_END = (T0 + 3 * 3600_000_000) * 1000  # 11:00:00
ROWS = [  # (seconds from 08:00, price, size, side)
    (-110, "100.0", "10", "buy"),
    (-70, "100.2", "10", "buy"),
    (-40, "100.3", "100", "buy"),
    (-20, "100.5", "100", "buy"),
    (10800, "98.0", "100", "sell"),
    (10900, "97.5", "100", "sell"),
    (10990, "101.0", "1", "buy"),
]

CONFIG = """
mode = "backtest"
timeframes = ["1m"]
[run]
journal = "{dir}/j.duckdb"
max_gap = "10m"
{policy}
[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "5"
taker_fee = "0.0004"
[venues.sim]
starting_balance = "10000"
latency_ms = 25
[venues.replay]
path = "{dir}/tape.csv"
chunk_ticks = {chunk}
[strategy]
timeframe = "1m"
long = [
    {{ value = "close", op = "<", threshold = 100.25 }},
    {{ value = "close", op = ">", threshold = 99.0 }},
]
max_notional = "5000"
risk_pct = 0.5
[filters.existing]
[exits.trailing]
trail_pct = 0.005
"""


def run(tmp_path: Path, policy: str | None, chunk: int = 1_000_000):
    lines = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    for i, (sec, price, size, side) in enumerate(ROWS):
        ts = T0 + sec * 1_000_000
        lines.append(f"binance-futures,BTCUSDT,{ts},{ts},{1000 + i},{side},{price},{size}")
    (tmp_path / "tape.csv").write_text("\n".join(lines) + "\n")
    setting = "" if policy is None else f'gap_policy = "{policy}"'
    text = CONFIG.format(dir=tmp_path.as_posix(), policy=setting, chunk=chunk)
    (tmp_path / "c.toml").write_text(text)
    engine = Engine(load_config(tmp_path / "c.toml"), run_id="gap")
    result = anyio.run(engine.run)
    con = duckdb.connect(str(tmp_path / "j.duckdb"))
    gaps = [
        json.loads(p)
        for (p,) in con.execute(
            "SELECT payload FROM events WHERE type = 'DataGap' ORDER BY seq"
        ).fetchall()
    ]
    exits = [
        json.loads(p)["order"]["tag"]
        for (p,) in con.execute(
            "SELECT payload FROM events WHERE type = 'OrderSubmitted' ORDER BY seq"
        ).fetchall()
    ][1:]
    con.close()
    return engine, result, gaps, exits


def fills(result) -> list[tuple[str, Decimal, Decimal, int]]:
    return [(f.side.value, f.quantity, f.price, f.ts_ns) for f in result.fills]


ENTRY = ("buy", Decimal("49.900"), Decimal("100.3"), (T0 - 40_000_000) * 1000)


@pytest.mark.parametrize("chunk", [1_000_000, 1], ids=["gap-inside-a-batch", "gap-between"])
def test_hold_evaluates_the_stop_on_the_first_trade_after_the_gap_and_fills_there(tmp_path, chunk):
    engine, result, gaps, exits = run(tmp_path, None, chunk)  # hold is the default
    # Not at the stop (99.9975), not at the next seller print (97.5): at the gap's first trade.
    assert fills(result) == [ENTRY, ("sell", Decimal("49.900"), Decimal("98.0"), GAP_END)]
    assert exits and exits[0].startswith("trailing:")
    got = [(g["instrument"], g["start_ns"], g["end_ns"], g["policy"], g["action"]) for g in gaps]
    assert got == [("sim:BTCUSDT", GAP_START, GAP_END, "hold", "held")]
    assert result.summary["data_gaps"] == 1
    assert engine.portfolio.position("sim:BTCUSDT").is_flat


@pytest.mark.parametrize("chunk", [1_000_000, 1], ids=["gap-inside-a-batch", "gap-between"])
def test_flatten_closes_before_the_gap_at_the_last_price(tmp_path, chunk):
    engine, result, gaps, exits = run(tmp_path, "flatten", chunk)
    assert fills(result) == [ENTRY, ("sell", Decimal("49.900"), Decimal("100.5"), GAP_START)]
    assert exits and exits[0].startswith("gap: data gap of 03:00:20")
    assert [(g["policy"], g["action"]) for g in gaps] == [("flatten", "flattened")]
    assert engine.portfolio.position("sim:BTCUSDT").is_flat
    # (100.5 - 100.3) x 49.9 realised, the gap's loss avoided.
    assert engine.portfolio.position("sim:BTCUSDT").realized_pnl == Decimal("9.98")


def test_halt_stops_the_run_at_the_gap_with_the_position_open(tmp_path):
    engine, result, gaps, _ = run(tmp_path, "halt")
    assert fills(result) == [ENTRY]
    assert [(g["policy"], g["action"]) for g in gaps] == [("halt", "halted")]
    assert result.summary["halted_at_ns"] == GAP_START
    assert result.summary["open_positions"] == 1
    assert engine.portfolio.last_price("sim:BTCUSDT") == 100.5  # nothing after the gap seen


def test_the_report_lists_the_gaps_and_marks_them_on_the_price_chart(tmp_path):
    _, result, _, _ = run(tmp_path, None)
    data = report_data(result)
    assert data["data_gaps"] == [
        {
            "instrument": "sim:BTCUSDT",
            "start_ns": GAP_START,
            "end_ns": GAP_END,
            "duration_ns": GAP_END - GAP_START,
            "policy": "hold",
            "action": "held",
        }
    ]
    page = render_html(result)
    assert "id='data-quality'" in page and ">03:00:20<" in page  # the gap's length
    from tests.test_report import figures

    (band,) = figures(page)["chart-price-0"]["layout"]["shapes"]  # one shaded span
    from tradewind.report.html import _t

    assert (band["type"], band["x0"], band["x1"]) == ("rect", _t(GAP_START), _t(GAP_END))


def test_gap_starts_finds_holes_inside_a_batch_and_after_the_previous_one():
    ts = [0, 10 * S, 11 * S, 100 * S, 101 * S]
    import numpy as np

    arr = np.array(ts, dtype=np.int64)
    assert gap_starts(arr, None, 60 * S) == [3]
    assert gap_starts(arr, -61 * S, 60 * S) == [0, 3]
    assert gap_starts(arr, -60 * S, 60 * S) == [3]  # exactly max_gap is not a gap


def test_max_gap_and_gap_policy_are_checked_in_the_config(tmp_path):
    assert parse_duration("45m") == 45 * 60 * S and parse_duration("2d") == 2 * 86400 * S
    (tmp_path / "tape.csv").write_text("")
    for bad, word in (('max_gap = "soon"', "max_gap"), ('gap_policy = "pray"', "gap_policy")):
        text = CONFIG.format(dir=tmp_path.as_posix(), policy=bad, chunk=1)
        text = text.replace('max_gap = "10m"\n', "")
        (tmp_path / "c.toml").write_text(text)
        with pytest.raises(ConfigError, match=word):
            load_config(tmp_path / "c.toml")


def test_a_backtest_from_a_file_with_bad_rows_counts_them_in_summary_journal_and_report(
    tmp_path,
):
    from tests.test_engine import SAMPLE, demo_config_text

    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    prev_ts = int(lines[49].split(",")[2])
    parts = lines[50].split(",")
    parts[2] = str(prev_ts - 5_000_000)  # line 51 goes back 5 s
    lines[50] = ",".join(parts)
    lines[100] = lines[100].rsplit(",", 2)[0] + ",NaN,0.1"  # line 101
    lines[150] = "garbage"  # line 151
    data = tmp_path / "bad.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = tmp_path / "bad.toml"
    cfg.write_text(demo_config_text(tmp_path).replace(SAMPLE.as_posix(), data.as_posix()))
    result = anyio.run(Engine(load_config(cfg), run_id="bad").run)
    assert result.summary["bad_rows"] == 3
    assert result.summary["ticks"] == 9_999 - 3
    con = duckdb.connect(str(tmp_path / "journal.duckdb"))
    (payload,) = con.execute("SELECT payload FROM events WHERE type = 'BadRows'").fetchone()
    con.close()
    event = json.loads(payload)
    f = str(data)
    assert event["count"] == 3 and event["rejected"] == {"bad.csv": 3}
    assert [r.split(": ", 1)[0] for r in event["rows"]] == [f"{f}:51", f"{f}:101", f"{f}:151"]
    assert "goes backwards" in event["rows"][0]
    assert report_data(result)["bad_rows"] == event["rows"]
    assert f"{f}:101: price is NaN" in render_html(result)


def test_gap_starts_is_the_trade_by_trade_definition():
    # Against the definition on Python ints, trade by trade: random int64 times (one-trade
    # batches, holes of exactly max_gap, times near the int64 range, no previous trade).
    import numpy as np

    rng = np.random.default_rng(17)
    for _ in range(2000):
        n = int(rng.integers(1, 6))
        base = int(rng.choice([0, -(2**62), 2**62]))
        steps = rng.choice([0, 1, 59, 60, 61, 200], size=n) * S
        arr = (base + np.cumsum(steps)).astype(np.int64)
        prev = None if rng.random() < 0.2 else int(arr[0]) - int(rng.choice([0, 60, 61])) * S
        times = [int(t) for t in arr]
        before = [prev, *times]
        want = [i for i in range(n) if before[i] is not None and times[i] - before[i] > 60 * S]
        got = gap_starts(arr, prev, 60 * S)
        assert got == want and all(type(i) is int for i in got)
