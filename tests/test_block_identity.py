"""Bit identity across block sizes: a backtest's journal (signals, orders, fills, exits, P&L)
is the same at blocks of one tick, one decision interval, 1,000,000 ticks and the whole tape,
on the shipped sample and on synthetic ticks at ~80 and ~1,600 trades a minute; an analyzer
without a block method (the per-candle path) reports the same values at every block size."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import duckdb
import numpy as np
import pytest
from tradewind.blocks import BlockRow, make_rows, per_candle_rows
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.market import synth
from tradewind.market.candles import CandleAggregator
from tradewind.market.importers import load, ticks_parquet
from tradewind.model import TickBatch
from tradewind.trading.engine import Engine

from tests.test_engine import SAMPLE, demo_config_text

#: Block sizes of the issue: one tick, one decision interval (0), 1,000,000 ticks, the tape.
BLOCKS = (1, 0, 1_000_000, 10**12)

WATCHER_SRC = '''
import math
import attrs
from tradewind import hookimpl

@attrs.frozen(kw_only=True)
class Cfg:
    pass

class TapeWatcher:
    """A third-party analyzer on the per-candle path: trades seen, their highest price, the
    last 1m close (split-invariant, as every analyzer must be)."""
    name = "tapewatch"
    config_class = Cfg
    capabilities = frozenset({"ticks"})

    @classmethod
    def outputs(cls, config):
        return frozenset({"ticks", "high", "close"})

    def __init__(self, config, instrument):
        self.n = 0
        self.high = math.nan
        self.close = math.nan

    def on_ticks(self, batch):
        self.n += len(batch)
        top = float(batch.price.max())
        self.high = top if math.isnan(self.high) else max(self.high, top)

    def on_candle(self, candle):
        if candle.timeframe_ns == 60_000_000_000:
            self.close = candle.close

    def values(self):
        return {"ticks": float(self.n), "high": self.high, "close": self.close}

@hookimpl
def tradewind_register_analyzers(registry):
    registry.add(TapeWatcher)
'''


def _synthetic(path: Path, n: int, speedup: float) -> Path:
    """``n`` synthetic BTCUSDT ticks calibrated on the shipped sample, fixed seed."""
    sample = next(iter(load(SAMPLE).batches.values()))
    params = synth.calibrate(sample)
    per_hour = len(sample) / ((sample.last_ts - sample.first_ts) / synth.NS_PER_HOUR)
    out = synth.generate(params, hours=1.2 * n / per_hour + 0.5, seed=17, instrument="BTCUSDT")
    out = out.slice(0, n)
    if speedup != 1.0:
        t0 = out.first_ts
        ts = t0 + ((out.ts_ns - t0) / speedup).astype(np.int64)
        out = TickBatch.from_arrays("BTCUSDT", ts, out.price, out.size, out.side, out.trade_id)
    ticks_parquet.write(path, {"BTCUSDT": out}, exchange="synth", market="perp")
    return path


def _run(
    tmp_path: Path,
    data: Path,
    block: int,
    extra: str = "",
    panes: list[str] | None = None,
    chunk: int | None = None,
) -> tuple[dict, object]:
    """One backtest at ``block`` ticks per block; the journal's rows per table and the result.

    The replay's batches are ``chunk`` trades (by default the whole tape for the whole-tape
    block, else 1,000,000). Every run uses the same config path and run id, so the rows
    compare as they are.
    """
    text = demo_config_text(tmp_path).replace(SAMPLE.as_posix(), data.as_posix())
    if chunk is None:
        chunk = 10**12 if block == 10**12 else 1_000_000
    text = text.replace('plugin = "replay"\n', f'plugin = "replay"\nchunk_ticks = {chunk}\n')
    text = text.replace("[run]\n", f"[run]\nblock_ticks = {block}\n", 1)
    if panes:
        old = 'panes = ["orderflow.imbalance_1m", "regime.adx"]'
        assert old in text
        text = text.replace(old, "panes = [" + ", ".join(f'"{p}"' for p in panes) + "]")
    cfg = tmp_path / "run.toml"
    cfg.write_text(text + extra)
    journal = tmp_path / f"block_{block}_chunk_{chunk}.duckdb"
    result = anyio.run(Engine(load_config(cfg), run_id="blocks", journal_path=str(journal)).run)
    con = duckdb.connect(str(journal), read_only=True)
    try:
        rows = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()
    return rows, result


def _assert_identical(tmp_path: Path, data: Path, *, decisions: int) -> None:
    runs = {block: _run(tmp_path, data, block) for block in BLOCKS}
    base_rows, base = runs[1]
    assert base.summary["decisions"] == decisions
    if base.summary["funnel"].get("signals"):
        assert base_rows["orders"] and base_rows["fills"]  # there is something to compare
    for block, (rows, result) in runs.items():
        for table in TABLES:
            assert rows[table] == base_rows[table], (block, table)
        assert result.summary == base.summary, block
        assert result.equity_curve == base.equity_curve, block
        # The analyzer values charted at every decision (imbalance, ADX, EMAs, POC): the rows.
        assert result.series == base.series, block
        fills = [(f.ts_ns, f.side, f.quantity, f.price, f.fee) for f in result.fills]
        assert fills == [(f.ts_ns, f.side, f.quantity, f.price, f.fee) for f in base.fills]


def test_the_journal_is_the_same_at_every_block_size_on_the_shipped_sample(tmp_path):
    _assert_identical(tmp_path, SAMPLE, decisions=125)


@pytest.mark.slow
@pytest.mark.parametrize(("n", "speedup", "decisions"), [(30_000, 1.0, 396), (100_000, 20.0, 61)])
def test_the_journal_is_the_same_at_every_block_size_on_synthetic_ticks(
    tmp_path, n, speedup, decisions
):
    data = _synthetic(tmp_path / f"synth_{speedup:g}x.parquet", n, speedup)
    sample_rate = 9_999 / 126  # the shipped sample: ~80 trades a minute
    ticks = next(iter(load(data).batches.values()))
    rate = len(ticks) / ((ticks.last_ts - ticks.first_ts) / 60e9)
    assert rate == pytest.approx(sample_rate * speedup, rel=0.35)
    _assert_identical(tmp_path, data, decisions=decisions)


@pytest.mark.slow
@pytest.mark.parametrize("speedup", [1.0, 20.0])
def test_a_block_of_1_000_000_ticks_that_splits_the_tape_gives_the_same_journal(tmp_path, speedup):
    """The tapes above are shorter than 1,000,000 trades, so there a block of 1,000,000 ticks
    is the whole tape. Here the tape is 1,500,000 trades at ~80 a minute (at ~1,600 a minute
    the same number of trades gives the default strategy no signal to compare): a block
    of 1,000,000 ends mid-tape, and the journal is the one of blocks of one decision interval
    and of the whole tape (the one-tick block equals the decision interval's on the tapes
    above; it is left out here for its time: ~20 s of CPU per 100,000 trades). Replayed in
    batches of 1,000,000 trades instead of one, the blocks agree as well.

    Every row is the same, its ``seq`` included: a bus row takes its number as its event is
    published, and a backtest publishes a step's events as the step ends, not as the replay's
    batch ends."""
    n = 1_500_000
    data = _synthetic(tmp_path / "long.parquet", n, 1.0)
    keys = (
        (0, 10**12),
        (1_000_000, 10**12),
        (10**12, 10**12),
        (0, 1_000_000),
        (1_000_000, 1_000_000),
    )
    runs = {(block, chunk): _run(tmp_path, data, block, chunk=chunk) for block, chunk in keys}
    base_rows, base = runs[(0, 10**12)]
    assert base.summary["funnel"].get("signals") and base_rows["fills"]
    assert sum(len(r) for r in base_rows.values()) > 1_000
    for key, (rows, result) in runs.items():
        for table in TABLES:
            assert rows[table] == base_rows[table], (key, table)
        assert result.summary == base.summary, key
        assert result.equity_curve == base.equity_curve, key
        assert result.series == base.series, key


def test_a_per_candle_analyzer_reports_the_same_values_at_every_block_size(tmp_path, fake_dists):
    fake_dists.add(
        "tradewind-analyzer-tapewatch",
        "1.0",
        {"tradewind.analyzers": {"tapewatch": "tw_tapewatch"}},
        {"tw_tapewatch": WATCHER_SRC},
    )
    # Its outputs are charted: read at every strategy-timeframe close of the run.
    extra = "\n[analyzers.tapewatch]\n"
    charted = ["tapewatch.ticks", "tapewatch.high", "tapewatch.close"]
    runs = {}
    try:
        for block in BLOCKS:
            runs[block] = _run(tmp_path, SAMPLE, block, extra, panes=charted)
    finally:
        sys.modules.pop("tw_tapewatch", None)
    base_rows, base = runs[0]  # one decision interval: the per-candle path of paper and live
    seen = base.series["sim:BTCUSDT"]
    assert seen["tapewatch.ticks"][-1][1] > 9_000  # it saw the trades before each close
    assert all(v == v for _, v in seen["tapewatch.close"][1:])
    for block, (rows, result) in runs.items():
        assert result.series == base.series, block
        for table in TABLES:
            assert rows[table] == base_rows[table], (block, table)


PLUGINS = [
    ("tradewind_analyzer_orderflow", "OrderFlowAnalyzer", "OrderFlowConfig"),
    ("tradewind_analyzer_regime", "RegimeAnalyzer", "RegimeConfig"),
    ("tradewind_analyzer_profile", "ProfileAnalyzer", "ProfileConfig"),
    ("tradewind_analyzer_microstructure", "MicrostructureAnalyzer", "MicrostructureConfig"),
]


@pytest.mark.parametrize(("package", "cls_name", "cfg_name"), PLUGINS)
def test_each_analyzer_block_equals_its_per_candle_calls(tmp_path, package, cls_name, cfg_name):
    """``on_block`` of each of the four analyzers, and the per-candle path over a block, yield
    at each row exactly what feeding the same trades and candles one close at a time gives."""
    import importlib

    plugin = importlib.import_module(f"{package}.plugin")
    config = importlib.import_module(f"{package}.config")
    cls, cfg_cls = getattr(plugin, cls_name), getattr(config, cfg_name)
    assert "block" in cls.capabilities
    ticks = next(iter(load(SAMPLE).batches.values()))
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    inst = load_config(cfg).instruments[0].to_instrument()
    tfs = (60_000_000_000, 300_000_000_000, 900_000_000_000)
    candles = CandleAggregator(ticks.instrument, tfs).update(ticks)
    rows = make_rows(ticks, candles)
    assert len(rows) == 125 and all(isinstance(r, BlockRow) for r in rows)

    class NoBlock(cls):  # the same analyzer as a third party without the method would be
        capabilities = cls.capabilities - {"block"}

    blocked = cls(cfg_cls(), inst)
    per_candle = NoBlock(cfg_cls(), inst)
    one = NoBlock(cfg_cls(), inst)
    takes_ticks = "ticks" in cls.capabilities
    by_block = [dict(v) for v in blocked.on_block(ticks, rows)]
    by_rows = [dict(v) for v in per_candle_rows(per_candle, ticks, rows)]
    start = 0
    defined = 0
    for row, a, b in zip(rows, by_block, by_rows, strict=True):
        if takes_ticks and row.tick_end > start:
            one.on_ticks(ticks.slice(start, row.tick_end))
            start = row.tick_end
        for c in row.candles:
            one.on_candle(c)
        expected = dict(one.values())
        assert _same(a, expected) and _same(b, expected), row.close_ns
        defined += sum(v == v for v in expected.values())
    assert defined > 0  # the rows carry real numbers, not only NaN


def _same(a: dict, b: dict) -> bool:
    """Equal bit for bit, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        np.float64(a[k]).tobytes() == np.float64(b[k]).tobytes() for k in a
    )


SPY_SRC = '''
import math
import attrs
from tradewind import hookimpl
from tradewind.blocks import per_candle_rows

BLOCKS = []

@attrs.frozen(kw_only=True)
class Cfg:
    pass

class BlockSpy:
    """A third-party analyzer with a block method: counts trades, notes each block."""
    name = "blockspy"
    config_class = Cfg
    capabilities = frozenset({"ticks", "block"})

    @classmethod
    def outputs(cls, config):
        return frozenset({"ticks"})

    def __init__(self, config, instrument):
        self.n = 0

    def on_ticks(self, batch):
        self.n += len(batch)

    def on_candle(self, candle):
        pass

    def values(self):
        return {"ticks": float(self.n)}

    def on_block(self, ticks, rows):
        BLOCKS.append((len(ticks), len(rows)))
        return per_candle_rows(self, ticks, rows)

@hookimpl
def tradewind_register_analyzers(registry):
    registry.add(BlockSpy)
'''


def test_backtests_call_the_block_method_and_paper_goes_candle_by_candle(tmp_path, fake_dists):
    fake_dists.add(
        "tradewind-analyzer-blockspy",
        "1.0",
        {"tradewind.analyzers": {"blockspy": "tw_blockspy"}},
        {"tw_blockspy": SPY_SRC},
    )
    text = demo_config_text(tmp_path) + "\n[analyzers.blockspy]\n"
    text = text.replace(
        'panes = ["orderflow.imbalance_1m", "regime.adx"]', 'panes = ["blockspy.ticks"]'
    )
    backtest = tmp_path / "backtest.toml"
    backtest.write_text(text)
    paper = tmp_path / "paper.toml"
    paper.write_text(
        text.replace('mode = "backtest"', 'mode = "paper"').replace(
            'plugin = "replay"\n', 'plugin = "replay"\nspeed = 3000.0\nchunk_ticks = 200\n'
        )
    )
    try:
        result = anyio.run(Engine(load_config(backtest), run_id="spy").run)
        spy = sys.modules["tw_blockspy"]
        # The whole sample is one replay batch and one block: all its trades, and a row at
        # each of its 125 decision closes (the partial last minute is flushed, not decided).
        assert spy.BLOCKS == [(9_999, 125)] and result.summary["decisions"] == 125
        assert result.series["sim:BTCUSDT"]["blockspy.ticks"][-1][1] < 9_999
        spy.BLOCKS.clear()
        paper_result = anyio.run(
            Engine(load_config(paper), run_id="spy-paper", journal_path=str(tmp_path / "p.db")).run
        )
        assert spy.BLOCKS == []  # paper: the per-candle path only
        assert (
            paper_result.series["sim:BTCUSDT"]["blockspy.ticks"]
            == result.series["sim:BTCUSDT"]["blockspy.ticks"]
        )
    finally:
        sys.modules.pop("tw_blockspy", None)


def test_a_block_method_that_yields_too_few_rows_is_named():
    from tradewind.blocks import TapeBlock

    ticks = next(iter(load(SAMPLE).batches.values()))
    candles = CandleAggregator(ticks.instrument, (60_000_000_000,)).update(ticks)

    class Short:
        capabilities = frozenset({"block"})

        def on_block(self, ticks, rows):
            return iter([{"x": 1.0}])  # one row, whatever it is given

    block = TapeBlock.open(ticks, len(ticks), candles, [("short", Short())])
    first = block.rows[0].close_ns
    assert block.take(first)[1] == {"short": {"x": 1.0}}
    with pytest.raises(RuntimeError, match="analyzer 'short': its block ended before the row"):
        block.take(block.rows[0].close_ns)


def test_a_negative_block_size_is_refused_by_name(tmp_path):
    from tradewind.errors import ConfigError

    cfg = tmp_path / "bad.toml"
    cfg.write_text(demo_config_text(tmp_path).replace("[run]\n", "[run]\nblock_ticks = -1\n", 1))
    with pytest.raises(ConfigError, match="block_ticks must be >= 0"):
        load_config(cfg)


def test_a_blocks_closes_before_t_are_its_rows_before_t_in_order():
    """TapeBlock.closes_before reads the rows from the front up to ``t`` only (the rows are
    in close-time order): the close times of every row not yet reached before ``t``, as a
    scan of all of them gives, at every ``t`` around each close, as rows are taken."""
    from tradewind.blocks import TapeBlock

    sample = next(iter(load(SAMPLE).batches.values())).slice(0, 20_000)
    agg = CandleAggregator(sample.instrument, (60_000_000_000, 300_000_000_000, 900_000_000_000))
    block = TapeBlock.open(sample, len(sample), agg.update(sample), [])
    closes = [r.close_ns for r in block.rows]
    assert closes == sorted(set(closes)) and len(closes) > 20
    probes = sorted({t + d for t in closes for d in (-1, 0, 1)} | {0, closes[-1] * 2})
    while block.rows:
        for t in probes:
            assert block.closes_before(t) == [r.close_ns for r in block.rows if r.close_ns < t]
        block.take(block.rows[0].close_ns)
    assert block.closes_before(closes[-1] + 1) == []


@pytest.mark.parametrize(
    ("n", "chunk"), [(None, 1), (None, 97), (None, 2_000), (30_000, 1_000), (30_000, 7)]
)
def test_the_journal_s_seq_does_not_depend_on_the_replay_s_batches(tmp_path, n, chunk):
    """Every row of every table, ``seq`` included, is the same whether the replay hands the
    engine the tape (the shipped sample, or 30,000 synthetic trades at ~80 a minute) in one
    batch or in batches of ``chunk`` trades: a bus row takes its ``seq`` as its event is
    published (the journal is an inline subscriber), and a backtest publishes a step's events
    as the step ends, not when a task next runs or the replay's batch ends."""
    data = SAMPLE if n is None else _synthetic(tmp_path / "synth.parquet", n, 1.0)
    whole, _ = _run(tmp_path, data, 0, chunk=10**12)
    split, _ = _run(tmp_path, data, 0, chunk=chunk)
    assert whole["orders"] and whole["fills"] and whole["events"]
    for table in TABLES:
        assert split[table] == whole[table], table
