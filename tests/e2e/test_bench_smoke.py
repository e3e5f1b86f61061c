"""Every benchmark this env can run still runs, at a size that takes seconds.

Each runs as its own process with the env's interpreter (tests/benchsmoke.py says why).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.benchsmoke import run_bench

_NEEDS = "the feed and venue benchmarks need the e2e env's {}"
pytest.importorskip("tradewind_venue_ccxt", reason=_NEEDS.format("tradewind-venue-ccxt"))
pytest.importorskip(
    "tradewind_venue_cryptofeed", reason=_NEEDS.format("tradewind-venue-cryptofeed")
)

# (script, arguments, a piece of text its output must contain); "{tmp}" is an empty directory.
BENCHES = [
    ("bench_bus.py", ["--events", "2000"], "events/s"),
    ("bench_plugin_call.py", [], "pluggy hook call"),
    ("bench_analyzers_orderflow.py", ["--minutes", "200"], "per read"),
    ("bench_analyzers_regime.py", ["--candles", "500"], "µs"),
    ("bench_analyzers_profile.py", ["--hours", "1"], "per batch"),
    ("bench_analyzers_microstructure.py", ["--minutes", "200"], "on_candle"),
    ("bench_decision.py", ["--decisions", "100", "--workdir", "{tmp}"], "paper path"),
    (
        "bench_decision.py",
        ["--decisions", "100", "--read-all", "--sections", "--workdir", "{tmp}"],
        "span (CPU)",
    ),
    (
        "bench_decision.py",
        ["--decisions", "100", "--path", "backtest", "--read-all", "--workdir", "{tmp}"],
        "backtest path",
    ),
    (
        "bench_decision.py",
        ["--decisions", "100", "--by-close", "--dump", "{tmp}/d.npy", "--workdir", "{tmp}"],
        "of the slowest 1 %",
    ),
    ("bench_candles.py", ["--ticks", "20000"], "ticks/s"),
    ("bench_synth.py", ["--ticks", "20000", "--repeat", "1"], "ticks/s"),
    ("bench_store.py", ["--symbols", "3", "--minutes", "2"], "symbols"),
    ("bench_cryptofeed.py", ["--messages", "2000", "--e2e-messages", "1000"], "messages/s"),
    (
        "bench_pipeline.py",
        [
            "--ticks", "20000", "--instruments", "3", "--per-instrument", "2000",
            "--tick-by-tick", "2000", "--workdir", "{tmp}",
        ],
        "ticks/s",
    ),
    (
        "bench_startup.py",
        ["--ticks", "2000", "--runs", "1", "--main-thread", "--workdir", "{tmp}"],
        "main thread",
    ),
    ("bench_notify.py", ["--messages", "50", "--decisions", "50"], "p99"),
    ("bench_read_ahead.py", ["--ticks", "20000", "--rounds", "1", "--workdir", "{tmp}"], "ahead"),
    ("bench_blocks.py", ["--ticks", "20000", "--repeat", "1", "--workdir", "{tmp}"], "decisions"),
    (
        "bench_block_setup.py",
        ["--ticks", "20000", "--pairs", "1", "--workdir", "{tmp}"],
        "set-up wall",
    ),
    ("bench_scheduler.py", ["--ticks", "20000", "--runs", "1", "--workdir", "{tmp}"], "ratio"),
    ("bench_scheduler_split.py", ["--ticks", "20000", "--workdir", "{tmp}"], "engine CPU"),
    ("bench_report.py", ["--ticks", "20000", "--rounds", "1", "--workdir", "{tmp}"], "median"),
    (
        "bench_journal_fixed.py",
        ["--ticks", "20000", "--rounds", "1", "--workdir", "{tmp}"],
        "sum of the medians",
    ),
    (
        "bench_journal_upsert.py",
        ["--rows", "1000", "--rounds", "1", "--workdir", "{tmp}"],
        "order rows",
    ),
    ("bench_paper_throughput.py", ["--ticks", "2000", "--before-ticks", "500"], "ticks/s"),
    ("bench_sim_fill.py", ["--orders", "200", "--runs", "1"], "per order"),
    ("bench_exit_pieces.py", ["--pieces", "200", "--runs", "1"], "decisions and states: True"),
    ("bench_order_path.py", ["--orders", "200", "--rounds", "1"], "per paper order"),
    ("bench_write_ahead.py", ["--orders", "20", "--dir", "{tmp}"], "fdatasync"),
    ("bench_hand_over.py", ["--orders", "10"], "turns"),
    (
        "bench_feed_to_order.py",
        ["--orders", "20", "--warmup", "2", "--gap-ms", "20"],
        "p99",
    ),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "args", "expect"),
    BENCHES,
    ids=[s.removesuffix(".py") + ("-read-all" if "--read-all" in a else "") for s, a, _ in BENCHES],
)
def test_the_benchmark_runs(script: str, args: list[str], expect: str, tmp_path: Path) -> None:
    run_bench(script, [a.replace("{tmp}", str(tmp_path)) for a in args], expect)


@pytest.mark.slow
def test_the_decision_benchmarks_percentiles_stay_within_what_it_measured(tmp_path: Path) -> None:
    """With few decisions the exclusive quantile method extrapolated a p99.9 above the max."""
    out = run_bench(
        "bench_decision.py", ["--decisions", "100", "--workdir", str(tmp_path)], "p99.9"
    )
    lines = [ln for ln in out.splitlines() if "p99.9" in ln and "max" in ln]
    assert len(lines) == 2, out[-4000:]  # wall and CPU
    for line in lines:
        figures = re.findall(r"(p50|p90|p99|p99\.9|max) ([\d,.]+) µs", line)
        values = [float(v.replace(",", "")) for _, v in figures]
        assert [k for k, _ in figures] == ["p50", "p90", "p99", "p99.9", "max"], line
        assert values == sorted(values), line
