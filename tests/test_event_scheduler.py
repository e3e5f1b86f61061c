"""The backtest's event scheduler (tradewind.trading.scheduler) against stepping every close:
the same journal (signals, vetoes, orders, fills, positions, events), the same funnel and
decision counts, the same equity curve and charted values, on the shipped sample and on
synthetic ticks at ~80 and ~1,600 trades a minute; and it really skips the quiet closes."""

from __future__ import annotations

from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.trading.engine import Engine

from tests.test_block_identity import _synthetic
from tests.test_engine import SAMPLE, demo_config_text

#: At ~1,600 trades a minute the preset's 1m imbalance (2.0 / 0.5) never holds: its busier
#: minutes average out. A milder primary gives signals, orders and fills to compare.
BUSY_PRIMARY = """
[[strategy.primary]]
name = "imbalance"
long = [{ value = "orderflow.imbalance_1m", op = ">", threshold = 1.15 }]
short = [{ value = "orderflow.imbalance_1m", op = "<", threshold = 0.87 }]

[[strategy.primary]]
name = "rejection"
long = [{ value = "micro.rejection", op = ">=", threshold = 1 }]
short = [{ value = "micro.rejection", op = "<=", threshold = -1 }]
"""


def _run(
    tmp_path: Path, data: Path, *, scheduler: bool, block: int, extra: str = "", venue: str = ""
) -> tuple[dict, object, Engine]:
    text = demo_config_text(tmp_path).replace(SAMPLE.as_posix(), data.as_posix())
    text = text.replace("[venues.sim]\n", f"[venues.sim]\n{venue}", 1)
    flag = "true" if scheduler else "false"
    text = text.replace("[run]\n", f"[run]\nblock_ticks = {block}\nevent_scheduler = {flag}\n", 1)
    cfg = tmp_path / "run.toml"  # one path: the runs table names it
    cfg.write_text(text + extra)
    journal = tmp_path / f"sched_{flag}_{block}.duckdb"
    engine = Engine(load_config(cfg), run_id="sched", journal_path=str(journal))
    result = anyio.run(engine.run)
    con = duckdb.connect(str(journal), read_only=True)
    try:
        rows = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()
    return rows, result, engine


def _assert_same(
    tmp_path: Path,
    data: Path,
    *,
    signals_at_least: int,
    extra: str = "",
    blocks=(1_000_000, 0, 1),
    venue: str = "",
) -> tuple[object, object]:
    for block in blocks:
        base_rows, base, stepped = _run(
            tmp_path, data, scheduler=False, block=block, extra=extra, venue=venue
        )
        rows, result, engine = _run(
            tmp_path, data, scheduler=True, block=block, extra=extra, venue=venue
        )
        assert stepped._scheduler is None
        sched = engine._scheduler
        assert sched is not None
        if block == 1_000_000:
            # It went through most closes without stepping the engine, in several stretches.
            # (Blocks of one tick or one interval end before the close they hold: nothing to
            # skip, and the engine steps as before.)
            assert sched.closes > result.summary["decisions"] // 2, (block, sched.closes)
            assert sched.stretches >= 1
            # The order-flow and microstructure analyzers hand their blocks over as tables:
            # the preset's two primary gates (1m imbalance, candle rejection) are judged over
            # whole blocks by array predicates.
            assert sched.rejected_by_arrays > 0
            assert set(sched.rejected_by_gate) == {"imbalance", "rejection"}
            assert sum(sched.rejected_by_gate.values()) == sched.rejected_by_arrays
            for gate, count in sched.rejected_by_gate.items():
                assert 0 < count <= stepped.strategy.rejected[gate], gate
        assert base.summary["funnel"]["signals"] >= signals_at_least
        assert base_rows["fills"] and base_rows["orders"]  # there is something to compare
        for table in TABLES:
            assert rows[table] == base_rows[table], (block, table)
        assert result.summary == base.summary, block  # funnel, decisions, P&L
        assert engine.strategy.rejected == stepped.strategy.rejected
        assert engine.strategy.evaluated == stepped.strategy.evaluated
        assert (engine.candles, engine.decision_points, engine.ticks) == (
            stepped.candles,
            stepped.decision_points,
            stepped.ticks,
        )
        assert result.equity_curve == base.equity_curve, block
        assert result.series == base.series, block
        assert result.candles == base.candles, block
        assert result.price_curve == base.price_curve, block
        fills = [(f.ts_ns, f.side, f.quantity, f.price, f.fee) for f in result.fills]
        assert fills == [(f.ts_ns, f.side, f.quantity, f.price, f.fee) for f in base.fills]
        assert result.funding == base.funding, block
    return base, result


def test_the_scheduler_gives_the_stepped_journal_on_the_shipped_sample(tmp_path):
    _assert_same(tmp_path, SAMPLE, signals_at_least=1)


@pytest.mark.parametrize(
    ("n", "speedup", "extra", "signals"), [(30_000, 1.0, "", 1), (400_000, 20.0, BUSY_PRIMARY, 3)]
)
def test_the_scheduler_gives_the_stepped_journal_on_synthetic_ticks(
    tmp_path, n, speedup, extra, signals
):
    data = _synthetic(tmp_path / f"synth_{speedup:g}x.parquet", n, speedup)
    # Blocks of one tick over 400,000 trades take long; 0 is the per-candle path already.
    blocks = (1_000_000, 0, 1) if n < 100_000 else (1_000_000, 0)
    _assert_same(tmp_path, data, signals_at_least=signals, extra=extra, blocks=blocks)


def test_funding_is_booked_the_same_while_the_walk_feeds_the_venue_in_one_piece(tmp_path):
    """The walk feeds the simulated venue its trades in one piece (before an event, at the
    walk's end); funding every hour, paid while a position is open, comes out the same."""
    data = _synthetic(tmp_path / "synth_1x.parquet", 30_000, 1.0)
    base, _ = _assert_same(
        tmp_path,
        data,
        signals_at_least=1,
        blocks=(1_000_000,),
        venue="funding_rate = 0.0001\nfunding_interval_h = 1\n",
    )
    assert base.funding  # there was funding to compare


def test_paper_runs_step_every_close(tmp_path):
    text = demo_config_text(tmp_path)
    paper = tmp_path / "paper.toml"
    paper.write_text(text.replace('mode = "backtest"', 'mode = "paper"'))
    assert Engine(load_config(paper), run_id="p")._scheduler is None


def test_several_instruments_step_every_close(tmp_path):
    text = demo_config_text(tmp_path)
    start = text.index("[[instruments]]")
    block = text[start : text.index("\n\n", start) + 2]
    assert 'symbol = "BTCUSDT"' in block
    two = text.replace(block, block + block.replace('"BTCUSDT"', '"ETHUSDT"'))
    cfg = tmp_path / "two.toml"
    cfg.write_text(two)
    engine = Engine(load_config(cfg), run_id="two")
    assert len(engine.state) == 2 and engine._scheduler is None
    one = tmp_path / "one.toml"
    one.write_text(text)
    assert Engine(load_config(one), run_id="one")._scheduler is not None


def _run_stopped_at(tmp_path: Path, scheduler: bool, decision: int) -> tuple[dict, object]:
    """The demo backtest with a stop requested at its ``decision``-th decision close (as a
    signal would, while the engine walks a flat stretch)."""
    text = demo_config_text(tmp_path)
    flag = "true" if scheduler else "false"
    cfg = tmp_path / "run.toml"
    cfg.write_text(text.replace("[run]\n", f"[run]\nevent_scheduler = {flag}\n", 1))
    journal = tmp_path / f"stopped_{flag}.duckdb"
    engine = Engine(load_config(cfg), run_id="stopped", journal_path=str(journal))
    record = engine._equity.record
    seen = [0]

    def counting(ts_ns: int) -> None:
        seen[0] += 1
        if seen[0] == decision:
            engine.stopper.request("stop asked for by the test")
        record(ts_ns)

    engine._equity.record = counting  # type: ignore[method-assign]
    result = anyio.run(engine.run)
    con = duckdb.connect(str(journal), read_only=True)
    try:
        rows = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()
    assert engine._scheduler is None or engine._scheduler.closes > 0
    return rows, result


def test_a_stop_asked_for_while_walking_ends_the_run_as_stepping_does(tmp_path):
    stepped_rows, stepped = _run_stopped_at(tmp_path, False, 40)
    rows, result = _run_stopped_at(tmp_path, True, 40)
    # No entry after the stop: the sample's one signal (later than the 40th close) is not
    # taken; the rest of the tape is still decided on and counted.
    assert stepped.summary["signals"] == 0 and stepped.summary["decisions"] == 125
    for table in TABLES:
        assert rows[table] == stepped_rows[table], table
    assert result.summary == stepped.summary
    assert result.equity_curve == stepped.equity_curve
