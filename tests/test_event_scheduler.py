"""The backtest's event scheduler (tradewind.trading.scheduler) against stepping every close:
the same journal (signals, vetoes, orders, fills, positions, events), the same funnel and
decision counts, the same equity curve and charted values, on the shipped sample and on
synthetic ticks at ~80 and ~1,600 trades a minute; and it really skips the quiet closes."""

from __future__ import annotations

from pathlib import Path

import anyio
import duckdb
import numpy as np
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.market.importers import load, ticks_parquet
from tradewind.model import TickBatch
from tradewind.trading import scheduler as scheduler_module
from tradewind.trading.engine import Engine
from tradewind.trading.scheduler import Scheduler
from tradewind.trading.strategy import Strategy

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


#: Exits that hold positions across many closes: a wide trailing stop, a long max hold and
#: the cascade reversal (its verdicts read from the order-flow analyzer's block table).
LONG_HOLDS = """
[exits.reversal]
analyzer = "orderflow"

[exits.trailing]
trail_pct = 0.02

[exits.maxhold]
max_hold_minutes = 240.0
"""


#: The preset's rules that do not read the profile analyzer, for a config without it: the
#: regime gate, and scorers over the microstructure and regime analyzers.
NO_PROFILE_RULES = """
[[strategy.gates]]
name = "regime"
long = [{ value = "regime.regime", op = ">=", threshold = 1 }]
short = [{ value = "regime.regime", op = "<=", threshold = -1 }]

[[strategy.scorers]]
name = "mean_reversion"
long = [
    { points = 1.5, when = [{ value = "micro.zscore", op = "<", threshold = -2.0 }] },
    { points = 0.75, when = [{ value = "micro.zscore", op = "<", threshold = -1.0 }] },
]
short = [
    { points = 1.5, when = [{ value = "micro.zscore", op = ">", threshold = 2.0 }] },
    { points = 0.75, when = [{ value = "micro.zscore", op = ">", threshold = 1.0 }] },
]

[[strategy.scorers]]
name = "autocorrelation"
long = [
    { points = 1.0, when = [{ value = "micro.autocorr", op = "abs>", threshold = 0.6 }] },
    { points = 0.5, when = [{ value = "micro.autocorr", op = "abs<", threshold = 1.01 }] },
]
short = [
    { points = 1.0, when = [{ value = "micro.autocorr", op = "abs>", threshold = 0.6 }] },
    { points = 0.5, when = [{ value = "micro.autocorr", op = "abs<", threshold = 1.01 }] },
]
"""


def _without_profile(text: str) -> str:
    """``text`` (the default config) without the profile analyzer (its block is a row
    generator, not a table), its charted POC and the preset's rules that read it."""
    a, b = text.index("[analyzers.profile]"), text.index("[analyzers.orderflow]")
    text = text[:a] + text[b:]
    assert ', "profile.poc"]' in text
    text = text.replace(', "profile.poc"]', "]")
    head = "risk_pct = 0.01\n"
    at = text.index(head, text.index("[strategy]")) + len(head)
    return text[:at] + NO_PROFILE_RULES + text[at:]


def _with_exits(text: str, exits: str) -> str:
    """``text`` (the default config) with its ``[exits.*]`` tables replaced by ``exits``."""
    start = text.index("# The seed's exits")
    end = text.index("[notifiers.log]")
    return text[:start] + exits.strip() + "\n\n" + text[end:]


def _run(
    tmp_path: Path,
    data: Path,
    *,
    scheduler: bool,
    block: int,
    extra: str = "",
    venue: str = "",
    exits: str | None = None,
    sink: list | None = None,
    profile: bool = True,
) -> tuple[dict, object, Engine]:
    text = demo_config_text(tmp_path).replace(SAMPLE.as_posix(), data.as_posix())
    if not profile:
        text = _without_profile(text)
    if exits is not None:
        text = _with_exits(text, exits)
    text = text.replace("[venues.sim]\n", f"[venues.sim]\n{venue}", 1)
    flag = "true" if scheduler else "false"
    text = text.replace("[run]\n", f"[run]\nblock_ticks = {block}\nevent_scheduler = {flag}\n", 1)
    cfg = tmp_path / "run.toml"  # one path: the runs table names it
    cfg.write_text(text + extra)
    journal = tmp_path / f"sched_{flag}_{block}.duckdb"
    engine = Engine(load_config(cfg), run_id="sched", journal_path=str(journal))
    if sink is not None:
        engine.candle_sinks.append(sink.extend)
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
    exits: str | None = None,
    held_at_least: int = 0,
    sinks: bool = False,
) -> tuple[object, object]:
    for block in blocks:
        stepped_sink: list | None = [] if sinks else None
        walked_sink: list | None = [] if sinks else None
        base_rows, base, stepped = _run(
            tmp_path,
            data,
            scheduler=False,
            block=block,
            extra=extra,
            venue=venue,
            exits=exits,
            sink=stepped_sink,
        )
        rows, result, engine = _run(
            tmp_path,
            data,
            scheduler=True,
            block=block,
            extra=extra,
            venue=venue,
            exits=exits,
            sink=walked_sink,
        )
        assert walked_sink == stepped_sink, block
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
            # Closes walked while a position was open, up to its exit monitors' first trigger.
            assert sched.held_closes >= held_at_least, (sched.held_closes, held_at_least)
            # With a candle sink the walk hands every row over (the sink may read the
            # analyzers); without one it hands rows over only where read.
            assert (sched.lean_walks == 0) if sinks else (sched.lean_walks > 0)
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


def test_a_candle_sink_sees_every_candle_as_stepping_gives_them(tmp_path):
    """A candle sink (the HTTP API's, a watchlist's) makes the walk hand each row to the
    analyzer values before the next: it gets every candle in the stepped order and the run
    is the stepped run, bit for bit."""
    data = _synthetic(tmp_path / "synth_1x.parquet", 30_000, 1.0)
    _assert_same(tmp_path, data, signals_at_least=1, blocks=(1_000_000, 0), sinks=True)


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


#: Each shipped exit alone, and the closes its runs must at least walk while holding.
ONE_EXIT = {
    "trailing": ("[exits.trailing]\ntrail_pct = 0.005\n", 100),
    "maxhold": ("[exits.maxhold]\nmax_hold_minutes = 30.0\n", 100),
    "reversal": ('[exits.reversal]\nanalyzer = "orderflow"\n', 50),
    "adverse": ("[exits.adverse]\n", 50),
    # The breaker tight enough to trip; no leader (one instrument).
    "guard": ('[exits.guard]\nleader = ""\ndaily_drawdown_pct = 0.002\n', 5),
    # Its scan answers the first close with a known value: while the regime's ADX is known
    # the engine steps; the run still has to come out the same.
    "liquidity": ('[exits.liquidity]\nliquidity_value = "regime.adx"\n', 0),
}


@pytest.mark.slow
def test_positions_held_across_many_closes_give_the_stepped_journal(tmp_path):
    """A wide trailing stop, a long max hold and the cascade reversal together: positions stay
    open over many closes, which the scheduler walks up to the first trigger."""
    data = _synthetic(tmp_path / "synth_1x.parquet", 30_000, 1.0)
    _assert_same(tmp_path, data, signals_at_least=3, exits=LONG_HOLDS, held_at_least=100)


def test_positions_held_across_many_closes_on_busy_ticks(tmp_path):
    data = _synthetic(tmp_path / "synth_20x.parquet", 400_000, 20.0)
    _assert_same(
        tmp_path,
        data,
        signals_at_least=3,
        extra=BUSY_PRIMARY,
        blocks=(1_000_000, 0),
        exits=LONG_HOLDS,
        held_at_least=50,
    )


@pytest.mark.parametrize("name", sorted(ONE_EXIT))
def test_each_exit_plugin_alone_gives_the_stepped_journal(tmp_path, name):
    exits, held = ONE_EXIT[name]
    data = _synthetic(tmp_path / "synth_1x.parquet", 30_000, 1.0)
    _assert_same(
        tmp_path,
        data,
        signals_at_least=3,
        blocks=(1_000_000, 0),
        exits=exits,
        held_at_least=held,
    )


@pytest.mark.parametrize(
    ("n", "speedup", "extra"), [(30_000, 1.0, ""), (400_000, 20.0, BUSY_PRIMARY)]
)
def test_the_adverse_and_guard_exits_together_give_the_stepped_journal(tmp_path, n, speedup, extra):
    """The adverse exit with the guard's kept day limit beside it: every journal row, count
    and curve is stepping's (which never scans), at both intensities."""
    data = _synthetic(tmp_path / f"synth_{speedup:g}x.parquet", n, speedup)
    exits = ONE_EXIT["adverse"][0] + ONE_EXIT["guard"][0]
    _assert_same(tmp_path, data, signals_at_least=3, extra=extra, blocks=(1_000_000,), exits=exits)


@pytest.mark.parametrize("first", [1, 3, scheduler_module.HOLD_FIRST_SCAN, 64])
@pytest.mark.parametrize("exits", ["default", "long-holds"])
def test_the_first_exit_scans_length_leaves_the_stepped_journal(
    tmp_path, monkeypatch, first, exits
):
    """However far a position's first exit scan looks (one close, a few, the shipped length,
    far past most exits), the walk while holding stops at the same first trigger: every
    journal row, count and curve is stepping's. The scans made do depend on it."""
    made: list[int] = []
    scan = scheduler_module.first_trigger

    def counted(*a, **k):
        made.append(1)
        return scan(*a, **k)

    monkeypatch.setattr(scheduler_module, "first_trigger", counted)
    monkeypatch.setattr(scheduler_module, "HOLD_FIRST_SCAN", first)
    data = _synthetic(tmp_path / "synth_1x.parquet", 30_000, 1.0)
    _assert_same(
        tmp_path,
        data,
        signals_at_least=3,
        blocks=(1_000_000,),
        exits=None if exits == "default" else LONG_HOLDS,
        held_at_least=20,
    )
    assert made  # the holding walk scanned


def test_funding_while_a_position_is_held_is_an_event(tmp_path):
    """Funding every hour over positions held for hours: the walk stops before the trades
    that reach each funding time, and the payments and equity come out the same."""
    data = _synthetic(tmp_path / "synth_1x.parquet", 30_000, 1.0)
    base, _ = _assert_same(
        tmp_path,
        data,
        signals_at_least=3,
        blocks=(1_000_000,),
        venue="funding_rate = 0.0001\nfunding_interval_h = 1\n",
        # The breaker reads equity: a payment moves its bound (the scan is made again).
        exits=LONG_HOLDS + '\n[exits.guard]\nleader = ""\ndaily_drawdown_pct = 0.004\n',
        held_at_least=50,
    )
    assert len(base.funding) >= 2


NOSCAN_SRC = '''
import attrs
from tradewind import hookimpl

CALLS = []

@attrs.frozen(kw_only=True)
class Cfg:
    pass

class Watch:
    """A third-party exit without the capability "scan": it records every trade batch and
    close it is shown, and never exits."""
    name = "watch"
    config_class = Cfg
    capabilities = frozenset({"ticks", "candles"})

    def __init__(self, config):
        pass

    def on_ticks(self, position, batch, ctx):
        CALLS.append(("ticks", int(batch.ts_ns[0]), len(batch)))
        return None

    def on_candle(self, position, candle, values, ctx):
        CALLS.append(("candle", candle.close_ts_ns, candle.timeframe_ns))
        return None

    def forget(self, instrument):
        pass

@hookimpl
def tradewind_register_exits(registry):
    registry.add(Watch)
'''


def test_a_third_party_exit_without_scan_keeps_the_engine_stepping_while_holding(
    tmp_path, fake_dists
):
    """Mixed with the shipped exits, an exit without ``scan`` sees every batch and close of
    an open position, as when stepping; the run is the stepped run."""
    import importlib

    fake_dists.add(
        "tradewind-exit-watch",
        "1.0",
        {"tradewind.exits": {"watch": "tw_watch"}},
        {"tw_watch": NOSCAN_SRC},
    )
    watch = importlib.import_module("tw_watch")
    data = _synthetic(tmp_path / "synth_1x.parquet", 30_000, 1.0)
    exits = LONG_HOLDS + '\n[exits.watch]\nplugin = "watch"\n'
    runs = []
    for scheduler in (False, True):
        watch.CALLS.clear()
        rows, result, engine = _run(
            tmp_path, data, scheduler=scheduler, block=1_000_000, exits=exits
        )
        runs.append((rows, result, engine, list(watch.CALLS)))
    (base_rows, base, _, base_calls), (rows, result, engine, calls) = runs
    assert base.summary["funnel"]["signals"] >= 3 and base_rows["fills"]
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert result.equity_curve == base.equity_curve
    # It saw every batch and close of every open position, as stepping shows them.
    assert any(kind == "candle" for kind, *_ in base_calls)
    assert calls == base_calls
    sched = engine._scheduler
    assert sched is not None and sched.closes > 0 and sched.held_closes == 0


def test_positions_held_across_utc_midnight_with_the_breaker(tmp_path):
    """Thin ticks over more than a day, the breaker among the exits: the day's start equity
    rolls at the first mark of the new day, which the walk reaches with the same marks."""
    data = _synthetic(tmp_path / "synth_thin.parquet", 30_000, 0.2)
    guard = '\n[exits.guard]\nleader = ""\n'
    base, _ = _assert_same(
        tmp_path,
        data,
        signals_at_least=3,
        blocks=(1_000_000, 0),
        exits=LONG_HOLDS + guard,
        held_at_least=100,
    )
    days = {ts // 86_400_000_000_000 for ts, _ in base.equity_curve}
    assert len(days) >= 2


def test_the_simulated_venue_tells_the_next_funding_time_a_walk_stops_before(tmp_path):
    from tradewind.venues.sim import SimulatedVenue, SimVenueConfig

    from tests.test_sim_venue import INST, tape

    hour = 3_600_000  # ms
    plain = SimulatedVenue(SimVenueConfig(), instruments=[INST])
    plain.on_trades(tape([(1, 100.0, 1.0)]))
    assert plain.next_funding_ts(INST.key) is None  # no funding configured
    v = SimulatedVenue(
        SimVenueConfig(funding_rate=0.0001, funding_interval_h=1), instruments=[INST]
    )
    assert v.next_funding_ts(INST.key) == 0  # no trade seen: cannot tell, so at once
    v.on_trades(tape([(5 * hour + 10, 100.0, 1.0)]))
    assert v.next_funding_ts(INST.key) == 6 * hour * 1_000_000
    v.on_trades(tape([(6 * hour, 100.0, 1.0)]))  # the batch reaching it pays it
    assert v.next_funding_ts(INST.key) == 7 * hour * 1_000_000
    funding = tmp_path / "funding.csv"
    funding.write_text("ts_ms,rate\n" + f"{9 * hour},0.0001\n{12 * hour},-0.0002\n")
    f = SimulatedVenue(SimVenueConfig(funding_file=str(funding)), instruments=[INST])
    f.on_trades(tape([(6 * hour, 100.0, 1.0)]))
    assert f.next_funding_ts(INST.key) == 9 * hour * 1_000_000
    f.on_trades(tape([(10 * hour, 100.0, 1.0)]))
    assert f.next_funding_ts(INST.key) == 12 * hour * 1_000_000
    f.on_trades(tape([(13 * hour, 100.0, 1.0)]))
    assert f.next_funding_ts(INST.key) is None  # the file's times are over


def test_an_exit_declaring_scan_without_the_method_fails_fast(tmp_path, fake_dists):
    from tradewind.errors import ConfigError

    src = NOSCAN_SRC.replace('frozenset({"ticks", "candles"})', 'frozenset({"ticks", "scan"})')
    fake_dists.add(
        "tradewind-exit-watch",
        "1.0",
        {"tradewind.exits": {"watch": "tw_watch_scan"}},
        {"tw_watch_scan": src},
    )
    text = _with_exits(demo_config_text(tmp_path), '[exits.watch]\nplugin = "watch"\n')
    cfg = tmp_path / "run.toml"
    cfg.write_text(text.replace("[run]\n", "[run]\nblock_ticks = 1000000\n", 1))
    with pytest.raises(ConfigError, match=r"exit monitor 'watch' .* declares the capability"):
        Engine(load_config(cfg), run_id="bad")


def _decide_snapshots(
    tmp_path: Path, data: Path, scheduler: bool, exits: str, venue: str
) -> tuple[dict[int, tuple], Engine, object]:
    """Per close where ``Strategy.decide`` is called: what it and the run's readers could see
    then (the funnel, the counters, the last equity point, every charted series' length and
    last point, the curves' lengths)."""
    text = _with_exits(
        demo_config_text(tmp_path).replace(SAMPLE.as_posix(), data.as_posix()), exits
    )
    text = text.replace("[venues.sim]\n", f"[venues.sim]\n{venue}", 1)
    flag = "true" if scheduler else "false"
    text = text.replace("[run]\n", f"[run]\nblock_ticks = 1000000\nevent_scheduler = {flag}\n", 1)
    cfg = tmp_path / "run.toml"
    cfg.write_text(text)
    engine = Engine(
        load_config(cfg), run_id="snap", journal_path=str(tmp_path / f"snap_{flag}.duckdb")
    )
    strategy = engine.strategy
    decide = strategy.decide
    seen: dict[int, tuple] = {}

    def snapshot(inst, close, t_close, values):  # type: ignore[no-untyped-def]
        key = inst.key
        series = engine.series.get(key, {})
        seen[t_close] = (
            strategy.evaluated,
            dict(strategy.rejected),
            engine.candles,
            engine.decision_points,
            engine._equity.points[-1],
            {name: (len(points), points[-1]) for name, points in series.items() if points},
            len(engine.price_curve.get(key, ())),
            len(engine.candle_curve.get(key, ())),
        )
        return decide(inst, close, t_close, values)

    strategy.decide = snapshot  # type: ignore[method-assign]
    result = anyio.run(engine.run)
    return seen, engine, result


@pytest.mark.parametrize("exits", [LONG_HOLDS, None], ids=["long-holds", "default-exits"])
def test_the_walks_bookkeeping_in_bulk_is_flushed_before_each_decide(tmp_path, exits):
    """The lean walk keeps the counters, funnel counts and tabled charted values of the
    closes the array predicates reject in bulk: at every close where the strategy decides
    (and at the end) they are what stepping every close gives there — with positions held
    over many closes (trailing, max hold, reversal), the default exits (adverse, guard),
    orders in flight after each signal, and hourly funding."""
    data = _synthetic(tmp_path / "synth_1x.parquet", 30_000, 1.0)
    text = demo_config_text(tmp_path)
    default_exits = text[text.index("# The seed's exits") : text.index("[notifiers.log]")]
    exits_text = exits if exits is not None else default_exits
    venue = "funding_rate = 0.0001\nfunding_interval_h = 1\n"
    stepped, base_engine, base = _decide_snapshots(tmp_path, data, False, exits_text, venue)
    walked, engine, result = _decide_snapshots(tmp_path, data, True, exits_text, venue)
    sched = engine._scheduler
    assert sched is not None and sched.lean_walks > 0 and sched.rejected_by_arrays > 0
    # The scheduler decided only where the arrays let a row through; stepping at every close.
    assert 0 < len(walked) < len(stepped)
    for t_close, seen in walked.items():
        assert seen == stepped[t_close], t_close
    assert base.summary["funnel"]["signals"] >= 1 and base.fills and base.funding
    assert result.summary == base.summary
    assert engine.strategy.rejected == base_engine.strategy.rejected
    assert result.series == base.series and result.equity_curve == base.equity_curve
    assert result.funding == base.funding


def _with_holes(path: Path, out: Path, holes: list[tuple[float, float]]) -> Path:
    """The ticks of ``path`` without those in each ``(start, end)`` fraction of the tape:
    data gaps longer than the default ``max_gap``."""
    ticks = next(iter(load(path).batches.values()))
    ts = ticks.ts_ns
    keep = np.ones(len(ts), dtype=bool)
    span = int(ts[-1] - ts[0])
    for a, b in holes:
        keep &= (ts < ts[0] + int(span * a)) | (ts >= ts[0] + int(span * b))
    cut = TickBatch.from_arrays(
        ticks.instrument,
        ts[keep],
        ticks.price[keep],
        ticks.size[keep],
        ticks.side[keep],
        ticks.trade_id[keep],
    )
    ticks_parquet.write(out, {ticks.instrument: cut}, exchange="synth", market="perp")
    return out


#: The walk over stretches against the close-by-close walk and stepping: (ticks, trades a
#: minute, exits, venue lines, holes in the tape).
STRETCH_CASES = {
    "default-exits": (30_000, 1.0, None, "", []),
    "long-holds-funding": (
        30_000,
        1.0,
        LONG_HOLDS,
        "funding_rate = 0.0001\nfunding_interval_h = 1\n",
        [],
    ),
    "data-gaps": (40_000, 1.0, None, "", [(0.2, 0.32), (0.55, 0.65)]),
    "busy-ticks": (200_000, 20.0, None, "", []),
}


@pytest.mark.parametrize("case", list(STRETCH_CASES))
def test_the_walk_over_stretches_gives_the_close_by_close_walks_bits(tmp_path, case):
    """With every analyzer a table (the profile analyzer left out: its block is a row
    generator), the flat walk goes over stretches of rejected closes in bulk: counters,
    funnel counts (in the funnel's order), curves, charted series, equity points, the last
    mark and the count of portfolio changes, the clock. Everything equals the close-by-close
    walk (the bulk walk switched off) and stepping every close — with positions, funding,
    long flat stretches, data gaps, and busy ticks."""
    ticks, speedup, exits, venue, holes = STRETCH_CASES[case]
    data = _synthetic(tmp_path / "synth.parquet", ticks, speedup)
    if holes:
        data = _with_holes(data, tmp_path / "holes.parquet", holes)
    extra = BUSY_PRIMARY if speedup > 1 else ""
    runs = {}
    for name, scheduler, bulk in (
        ("stepped", False, False),
        ("per-close", True, False),
        ("bulk", True, True),
    ):
        with pytest.MonkeyPatch.context() as m:
            if not bulk:
                m.setattr(Scheduler, "_plan", lambda self, *a: None)
            runs[name] = _run(
                tmp_path,  # one config path for all three: the runs table names it
                data,
                scheduler=scheduler,
                block=1_000_000,
                exits=exits,
                venue=venue,
                extra=extra,
                profile=False,
            )
        for journal in tmp_path.glob("sched_*.duckdb*"):
            journal.unlink()  # read already; the next run writes its own
    rows, result, engine = runs["bulk"]
    sched = engine._scheduler
    assert sched is not None and sched.lean_walks > 0
    # The bulk walk ran, over most of the walked closes, in many stretches.
    assert sched.bulk_stretches > 1 and sched.bulk_closes > sched.closes // 2, (
        sched.bulk_stretches,
        sched.bulk_closes,
        sched.closes,
    )
    per_close = runs["per-close"][2]._scheduler
    assert per_close is not None and per_close.bulk_closes == 0
    assert per_close.closes == sched.closes
    assert per_close.rejected_by_gate == sched.rejected_by_gate
    assert list(per_close.rejected_by_gate) == list(sched.rejected_by_gate)
    if holes:
        assert len(engine.gaps) == len(holes)  # each hole a data gap
    for name in ("per-close", "stepped"):
        base_rows, base, other = runs[name]
        assert base_rows["fills"] and base_rows["orders"], name  # something to compare
        for table in TABLES:
            assert rows[table] == base_rows[table], (name, table)
        assert result.summary == base.summary, name
        # The funnel's counts, in the order stepping first met each gate.
        assert list(engine.strategy.rejected.items()) == list(other.strategy.rejected.items())
        assert engine.strategy.evaluated == other.strategy.evaluated
        assert (engine.candles, engine.decision_points, engine.ticks) == (
            other.candles,
            other.decision_points,
            other.ticks,
        )
        assert result.equity_curve == base.equity_curve, name
        assert result.series == base.series, name
        assert result.candles == base.candles, name
        assert result.price_curve == base.price_curve, name
        assert result.funding == base.funding, name
        assert result.fills == base.fills, name
        # The portfolio and the clock as every mark and step leave them.
        p, q = engine.portfolio, other.portfolio
        assert (p.changes, p.ts_ns, p._last, p._day, p._day_start) == (
            q.changes,
            q.ts_ns,
            q._last,
            q._day,
            q._day_start,
        ), name
        assert engine.clock.now_ns() == other.clock.now_ns(), name
    if venue:
        assert result.funding  # funding was paid (and the same) in every run


def test_a_stop_asked_for_at_a_decide_between_stretches_ends_the_run_as_stepping_does(tmp_path):
    """In the bulk walk nothing but the scheduler runs inside a stretch, so a stop (or a
    command) can only be asked for between stretches: at a decide, at an event, between
    batches. Asked for at a decide of the walk, the run ends as stepping's does when asked
    for at the same close (no entry after it; the rest of the tape decided and counted)."""
    data = _synthetic(tmp_path / "synth.parquet", 30_000, 1.0)

    def run(name: str, scheduler: bool, stop_at: int | None) -> tuple[dict, object, Engine, list]:
        d = tmp_path  # one config path: the runs table names it
        decided: list[int] = []
        decide = Strategy.decide

        def hooked(self, inst, close, t_close, values):  # type: ignore[no-untyped-def]
            decided.append(t_close)
            if stop_at is not None and t_close == stop_at:
                engine.stopper.request("stop asked for by the test")
            return decide(self, inst, close, t_close, values)

        text = _without_profile(demo_config_text(d)).replace(SAMPLE.as_posix(), data.as_posix())
        flag = "true" if scheduler else "false"
        text = text.replace("[run]\n", f"[run]\nevent_scheduler = {flag}\n", 1)
        cfg = d / "run.toml"
        cfg.write_text(text)
        journal = d / f"stopped_{name}.duckdb"
        engine = Engine(load_config(cfg), run_id="stopped", journal_path=str(journal))
        with pytest.MonkeyPatch.context() as m:
            m.setattr(Strategy, "decide", hooked)
            result = anyio.run(engine.run)
        con = duckdb.connect(str(journal), read_only=True)
        try:
            rows = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
        finally:
            con.close()
        return rows, result, engine, decided

    _, free, free_engine, walked_decides = run("free", True, None)
    sched = free_engine._scheduler
    assert sched is not None and sched.bulk_closes > 0
    # A close the walk decides at (after a stretch walked in bulk) between the first signal
    # and the last.
    signals = free.summary["signals"]
    assert signals >= 2
    first_fill, last_fill = free.fills[0].ts_ns, free.fills[-1].ts_ns
    stop_at = next(t for t in walked_decides if t > first_fill)
    assert stop_at < last_fill
    stepped_rows, stepped, _, _ = run("stepped", False, stop_at)
    rows, result, engine, _ = run("walked", True, stop_at)
    assert engine._scheduler is not None and engine._scheduler.bulk_closes > 0
    assert 0 < stepped.summary["signals"] < signals
    for table in TABLES:
        assert rows[table] == stepped_rows[table], table
    assert result.summary == stepped.summary
    assert result.equity_curve == stepped.equity_curve
    assert result.series == stepped.series


def _bits(curve) -> list[tuple]:
    """A curve's points with every float as its IEEE bits (NaN compares by its bits too)."""
    return [
        tuple(np.float64(v).view(np.int64).item() if isinstance(v, float) else v for v in point)
        for point in curve
    ]


#: Exits wide and long enough to hold positions over a UTC midnight on thin ticks.
OVER_MIDNIGHT = """
[exits.trailing]
trail_pct = 0.05

[exits.maxhold]
max_hold_minutes = 2880.0
"""

#: The held stretches: each exit plugin alone at ~80 and ~1,600 trades a minute, and long
#: holds over thin ticks crossing a UTC midnight (the day's start equity rolls inside one).
HELD_CASES = {
    **{
        f"{name}-{label}": (ONE_EXIT[name][0], ONE_EXIT[name][1], n, speedup, extra)
        for name in sorted(ONE_EXIT)
        for label, n, speedup, extra in (
            ("80-a-minute", 30_000, 1.0, ""),
            ("1600-a-minute", 200_000, 20.0, BUSY_PRIMARY),
        )
    },
    "long-holds-over-midnight": (OVER_MIDNIGHT, 100, 30_000, 0.05, ""),
}


@pytest.mark.parametrize("case", list(HELD_CASES))
def test_the_held_stretches_in_bulk_give_the_close_by_close_walks_bits(tmp_path, case):
    """While a position is held the walk goes over stretches of rejected closes in bulk too,
    the equity points valued at each close's mark (Scheduler._held_stretch). Against the
    close-by-close walk while holding (the bulk walk while holding switched off) and stepping
    every close: every journal row, the summary, the funnel in its order, every counter, every
    curve's floats by their bits, the equity curve's valued and reused points, the portfolio's
    marks, day start and count of changes, and the clock."""
    exits, held, ticks, speedup, extra = HELD_CASES[case]
    data = _synthetic(tmp_path / "synth.parquet", ticks, speedup)
    rolled = [0]
    held_stretch = Scheduler._held_stretch

    def watched(self, *a):
        day = self.engine.portfolio._day
        held_stretch(self, *a)
        rolled[0] += self.engine.portfolio._day != day

    runs = {}
    for name, scheduler, bulk in (
        ("stepped", False, None),
        ("per-close", True, None),
        ("bulk", True, 1),
        ("mixed", True, scheduler_module.HELD_BULK_MIN),
    ):
        with pytest.MonkeyPatch.context() as m:
            if bulk is None:
                # The walk while holding as it was: close by close, EquityCurve.record's points.
                m.setattr(Scheduler, "_marks_alone", lambda self, key: False)
            else:
                # "bulk": every held stretch in bulk, however short; "mixed": the shipped
                # threshold (the short ones close by close, their points by _held_record).
                m.setattr(scheduler_module, "HELD_BULK_MIN", bulk)
            m.setattr(Scheduler, "_held_stretch", watched)
            runs[name] = _run(
                tmp_path, data, scheduler=scheduler, block=1_000_000, exits=exits, extra=extra
            )
        for journal in tmp_path.glob("sched_*.duckdb*"):
            journal.unlink()
    rows, result, engine = runs["bulk"]
    sched = engine._scheduler
    per_close = runs["per-close"][2]._scheduler
    assert sched is not None and per_close is not None
    assert per_close.held_bulk_closes == 0 and per_close.held_closes == sched.held_closes
    assert per_close.closes == sched.closes
    if held:
        # Closes walked while holding went in bulk.
        assert sched.held_stretches >= 1 and sched.held_bulk_closes > 0
    if speedup < 1:
        assert rolled[0] > 0  # a held stretch crossed a UTC midnight
    assert engine._equity.marked == runs["per-close"][2]._equity.marked
    assert engine._equity.reused == runs["per-close"][2]._equity.reused
    mixed = runs["mixed"][2]
    assert (mixed._equity.marked, mixed._equity.reused) == (
        engine._equity.marked,
        engine._equity.reused,
    )
    for name in ("per-close", "stepped", "mixed"):
        base_rows, base, other = runs[name]
        assert base_rows["fills"] and base_rows["orders"], name  # something to compare
        for table in TABLES:
            assert rows[table] == base_rows[table], (name, table)
        assert result.summary == base.summary, name
        assert list(engine.strategy.rejected.items()) == list(other.strategy.rejected.items())
        assert engine.strategy.evaluated == other.strategy.evaluated
        assert (engine.candles, engine.decision_points, engine.ticks) == (
            other.candles,
            other.decision_points,
            other.ticks,
        ), name
        assert _bits(result.equity_curve) == _bits(base.equity_curve), name
        assert _bits(result.price_curve) == _bits(base.price_curve), name
        assert _bits(result.candles) == _bits(base.candles), name
        assert result.series.keys() == base.series.keys(), name
        for key, series in result.series.items():
            for output, points in series.items():
                assert _bits(points) == _bits(base.series[key][output]), (name, output)
        assert result.funding == base.funding, name
        assert result.fills == base.fills, name
        p, q = engine.portfolio, other.portfolio
        assert (p.changes, p.ts_ns, p._last, p._day, p._day_start, p.cash) == (
            q.changes,
            q.ts_ns,
            q._last,
            q._day,
            q._day_start,
            q.cash,
        ), name
        assert engine.clock.now_ns() == other.clock.now_ns(), name


SCAN_NOFOLD_SRC = NOSCAN_SRC.replace(
    'frozenset({"ticks", "candles"})', 'frozenset({"ticks", "candles", "scan"})'
).replace(
    "    def forget(self, instrument):",
    "    def scan(self, position, window, ctx):\n"
    "        return None\n\n"
    "    def forget(self, instrument):",
)


def test_a_scanning_exit_without_fold_gets_on_ticks_over_the_walked_trades(tmp_path, fake_dists):
    """Beside the shipped exits (which fold, capability ``"fold"``), a third-party scanning
    exit without ``fold`` is brought over each walk by ``on_ticks``: it sees every trade of
    every open position that stepping shows it, and the run is the stepped run."""
    import importlib

    fake_dists.add(
        "tradewind-exit-watch",
        "1.0",
        {"tradewind.exits": {"watch": "tw_watch_nofold"}},
        {"tw_watch_nofold": SCAN_NOFOLD_SRC},
    )
    watch = importlib.import_module("tw_watch_nofold")
    data = _synthetic(tmp_path / "synth_1x.parquet", 30_000, 1.0)
    exits = LONG_HOLDS + '\n[exits.watch]\nplugin = "watch"\n'
    runs = []
    for scheduler in (False, True):
        watch.CALLS.clear()
        rows, result, engine = _run(
            tmp_path, data, scheduler=scheduler, block=1_000_000, exits=exits
        )
        runs.append((rows, result, engine, list(watch.CALLS)))
    (base_rows, base, _, base_calls), (rows, result, engine, calls) = runs
    assert base.summary["funnel"]["signals"] >= 3 and base_rows["fills"]
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert result.equity_curve == base.equity_curve
    sched = engine._scheduler
    assert sched is not None and sched.held_closes > 0
    assert any("fold" in m.capabilities for m in engine.exits)  # the shipped trailing, ...
    # The same trades, in fewer calls (a walk's in one).
    seen = sum(n for kind, _, n in calls if kind == "ticks")
    assert seen == sum(n for kind, _, n in base_calls if kind == "ticks") > 0
    assert sum(kind == "ticks" for kind, *_ in calls) < sum(
        kind == "ticks" for kind, *_ in base_calls
    )


def test_an_exit_declaring_fold_without_the_method_fails_fast(tmp_path, fake_dists):
    from tradewind.errors import ConfigError

    src = SCAN_NOFOLD_SRC.replace('"candles", "scan"})', '"candles", "scan", "fold"})')
    fake_dists.add(
        "tradewind-exit-watch",
        "1.0",
        {"tradewind.exits": {"watch": "tw_watch_fold"}},
        {"tw_watch_fold": src},
    )
    text = _with_exits(demo_config_text(tmp_path), '[exits.watch]\nplugin = "watch"\n')
    cfg = tmp_path / "run.toml"
    cfg.write_text(text.replace("[run]\n", "[run]\nblock_ticks = 1000000\n", 1))
    with pytest.raises(ConfigError, match=r"exit monitor 'watch' .* capability \"fold\""):
        Engine(load_config(cfg), run_id="bad")
