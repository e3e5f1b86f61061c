"""Sweeps: a grid of config values, in-sample and out-of-sample, ranked; and [run] start/end."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import anyio
import numpy as np
import pytest
from tradewind.config import load_config
from tradewind.errors import ConfigError
from tradewind.market.importers import load
from tradewind.sweep import (
    apply_overrides,
    check_path,
    dumps_toml,
    format_time_bound,
    metric_value,
    read_sweep,
    run_sweep,
)
from tradewind.trading.engine import Engine
from tradewind.venues.replay import apply_run_bounds, parse_time_bound

from tests.conftest import run_cli
from tests.test_engine import SAMPLE, demo_config_text

# The strategy timeframe shows in every summary (decisions), whatever the demo trades.
GRID = """
[grid]
"strategy.timeframe" = ["1m", "5m"]
"exits.trailing.trail_pct" = [0.001, 0.002]
"""


def sample_ts() -> np.ndarray:
    (batch,) = load(SAMPLE).batches.values()
    return np.asarray(batch.ts_ns)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """The 2×2 grid on the demo config, through the CLI with two worker processes."""
    tmp = tmp_path_factory.mktemp("sweep")
    cfg = tmp / "demo.toml"
    cfg.write_text(demo_config_text(tmp), encoding="utf-8")
    sweep = tmp / "grid.toml"
    sweep.write_text(GRID, encoding="utf-8")
    proc = run_cli(
        "backtest", str(cfg), "--sweep", str(sweep), "--jobs", "2", "--report-dir", str(tmp / "out")
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp / "out" / "sweep.json").read_text())
    return tmp, doc, proc.stdout


def test_a_2x2_grid_gives_four_rows_ranked_by_the_in_sample_metric(swept):
    _, doc, stdout = swept
    rows = doc["variants"]
    assert doc["metric"] == "sharpe" and doc["higher_is_better"] is True
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    combos = {
        (r["overrides"]["strategy.timeframe"], r["overrides"]["exits.trailing.trail_pct"])
        for r in rows
    }
    assert combos == {("1m", 0.001), ("1m", 0.002), ("5m", 0.001), ("5m", 0.002)}
    sharpes = [metric_value(r["in_sample"], "sharpe") for r in rows]
    defined = [s for s in sharpes if s is not None]
    assert defined == sorted(defined, reverse=True)
    assert sharpes[: len(defined)] == defined  # undefined values rank last
    decisions = {r["overrides"]["strategy.timeframe"]: r["in_sample"]["decisions"] for r in rows}
    assert decisions["1m"] > 4 * decisions["5m"] > 0  # each worker ran its own variant
    assert "sweep ranked by in-sample sharpe" in stdout
    assert "OOS sharpe" in stdout and "exits.trailing.trail_pct" in stdout


def test_in_sample_and_out_of_sample_runs_see_disjoint_time_ranges(swept):
    _, doc, _ = swept
    ts = sample_ts()
    split = doc["split"]
    cut = split["split_ts_ns"]
    assert split["data_start_ts_ns"] == ts[0] and split["data_end_ts_ns"] == ts[-1]
    assert cut == ts[0] + int(0.7 * (ts[-1] - ts[0]))
    assert parse_time_bound(split["in_sample"]["end"]) == cut
    assert parse_time_bound(split["out_of_sample"]["start"]) == cut
    before, after = int((ts < cut).sum()), int((ts >= cut).sum())
    assert before > 0 and after > 0 and before + after == 9_999
    for row in doc["variants"]:
        assert row["in_sample"]["ticks"] == before
        assert row["out_of_sample"]["ticks"] == after
        assert row["in_sample"]["last_ts_ns"] == ts[ts < cut][-1] < cut
        assert row["out_of_sample"]["last_ts_ns"] == ts[-1]


def single_run(tmp: Path, tf: str, trail: float, start: str | None, end: str | None) -> dict:
    """The variant's config edited by hand, run once in this process."""
    raw = tomllib.loads(demo_config_text(tmp))
    raw.setdefault("strategy", {})["timeframe"] = tf
    raw["exits"]["trailing"]["trail_pct"] = trail
    raw["run"].update({k: v for k, v in (("start", start), ("end", end)) if v})
    name = f"single-{tf}-{trail}-{start is None}"
    path = tmp / f"{name}.toml"
    path.write_text(dumps_toml(raw), encoding="utf-8")
    cfg = apply_run_bounds(load_config(path))
    engine = Engine(cfg, run_id=name, journal_path=str(tmp / f"{name}.duckdb"))
    return dict(anyio.run(engine.run).summary)


def test_sweep_results_equal_single_runs_of_the_same_variants(swept):
    tmp, doc, _ = swept
    is_window, oos_window = doc["split"]["in_sample"], doc["split"]["out_of_sample"]
    for row in doc["variants"]:
        ov = row["overrides"]
        tf, trail = ov["strategy.timeframe"], ov["exits.trailing.trail_pct"]
        for key, window in (("in_sample", is_window), ("out_of_sample", oos_window)):
            single = single_run(tmp, tf, trail, window["start"], window["end"])
            swept_summary = dict(row[key])
            single.pop("run_id")
            swept_summary.pop("run_id")
            assert json.loads(json.dumps(single)) == swept_summary, (ov, key)


def test_a_bad_grid_path_fails_with_one_error_naming_it(tmp_path):
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path), encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text('[grid]\n"exits.trailng.trail_pct" = [0.004, 0.006]\n', encoding="utf-8")
    proc = run_cli("backtest", str(cfg), "--sweep", str(bad), "--jobs", "2")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert '"exits.trailng.trail_pct"' in lines[0] and "[exits.trailng]" in lines[0]
    assert "trailing" in lines[0]  # what the config does have
    assert not (tmp_path / "reports" / "sweep.json").exists()


@pytest.mark.parametrize(
    ("grid", "expected"),
    [
        ('"strategy.stop_pcx" = [0.1]', '"strategy.stop_pcx" = 0.1 does not load'),
        ('"exits.trailing.trail_pct" = [0.004, 2.0]', '"exits.trailing.trail_pct" = 2.0'),
        (
            '"exits.trailing.trail_pct.x" = [1]',
            '"exits.trailing.trail_pct.x": exits.trailing.trail_pct is a value',
        ),
        ('"instruments.3.taker_fee" = ["0.001"]', "'3' is not an index"),
        ('"notifiers.log.min_severity" = ["info"]', "notifiers do not run in sweeps"),
        ('"run.end" = ["2020-02-22"]', "the sweep sets [run] start/end"),
        ('"strategy.stop_pct" = []', '"strategy.stop_pct" has no values'),
        ('"strategy.stop_pct" = 0.1', "needs a list of values"),
    ],
)
def test_grid_errors_name_the_path(tmp_path, grid, expected):
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path), encoding="utf-8")
    sweep = tmp_path / "s.toml"
    sweep.write_text(f"[grid]\n{grid}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        run_sweep(cfg, sweep, jobs=1, out_dir=tmp_path / "out")
    assert expected in str(err.value)


def test_sweep_options_are_checked(tmp_path):
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path), encoding="utf-8")
    sweep = tmp_path / "s.toml"
    sweep.write_text('[grid]\n"strategy.risk_pct" = [0.01]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown sweep metric 'sharp'; choose one of sharpe"):
        run_sweep(cfg, sweep, metric="sharp")
    with pytest.raises(ConfigError, match="split must be between 0 and 1"):
        run_sweep(cfg, sweep, split=1.0)
    proc = run_cli("backtest", str(cfg), "--metric", "sortino")
    assert proc.returncode == 64 and "apply only with --sweep" in proc.stderr


def test_one_job_runs_inline_ranks_lower_drawdown_first_and_reads_file_defaults(tmp_path):
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path), encoding="utf-8")
    sweep = tmp_path / "s.toml"
    sweep.write_text(
        '[grid]\n"exits.trailing.trail_pct" = [0.001, 0.005]\n'
        '[sweep]\nmetric = "max_drawdown"\nsplit = 0.5\njobs = 1\n',
        encoding="utf-8",
    )
    result = run_sweep(cfg, sweep, out_dir=tmp_path / "out")
    assert result.metric == "max_drawdown" and result.higher_is_better is False
    assert result.split["fraction"] == 0.5
    dds = [r.in_sample["max_drawdown"] for r in result.rows]
    assert dds == sorted(dds) and len(result.rows) == 2
    assert json.loads(result.path.read_text())["metric"] == "max_drawdown"


# -- the pieces -----------------------------------------------------------------------------
def test_grid_paths_may_be_quoted_dotted_or_nested_tables(tmp_path):
    a = tmp_path / "a.toml"
    a.write_text('[grid]\n"exits.trailing.trail_pct" = [0.1]\n"strategy.stop_pct" = [0.2]\n')
    b = tmp_path / "b.toml"
    b.write_text("[grid.exits.trailing]\ntrail_pct = [0.1]\n[grid]\nstrategy.stop_pct = [0.2]\n")
    assert read_sweep(a).grid == read_sweep(b).grid
    assert read_sweep(a).variants() == [{"exits.trailing.trail_pct": 0.1, "strategy.stop_pct": 0.2}]


def test_overrides_set_values_create_missing_tables_and_index_lists(tmp_path):
    raw = tomllib.loads(demo_config_text(tmp_path))
    for path in ("strategy.stop_pct", "instruments.0.taker_fee", "venues.sim.latency_ms"):
        check_path(raw, path)
    out = apply_overrides(
        raw,
        {
            "instruments.0.taker_fee": "0.0005",
            "analyzers.orderflow.cascade_long_min": 1.5,
            "venues.sim.latency_ms": 50,
        },
    )
    assert out["instruments"][0]["taker_fee"] == "0.0005"
    assert out["analyzers"]["orderflow"] == {"plugin": "orderflow", "cascade_long_min": 1.5}
    assert raw["instruments"][0]["taker_fee"] == "0.0004"  # the original is untouched


def test_toml_writer_round_trips_the_demo_config_and_awkward_values(tmp_path):
    import datetime as dt

    raw = tomllib.loads(demo_config_text(tmp_path))
    assert tomllib.loads(dumps_toml(raw)) == raw
    odd = {
        'quote"s\\': {"nested": {"x": [1, 2.5, -1e-09, True, "a\nb\t\x7f\x01é😀"]}},
        "when": dt.datetime(2020, 2, 22, 1, 2, 3, tzinfo=dt.UTC),
        "day": dt.date(2020, 2, 22),
        "inf": float("inf"),
        "empty": {},
        "rules": [{"value": "orderflow.cascade", "op": ">=", "threshold": 1}],
    }
    assert tomllib.loads(dumps_toml(odd)) == odd


def test_time_bounds_parse_dates_offsets_and_nanoseconds():
    assert parse_time_bound("2020-02-22") == 1_582_329_600 * 10**9
    assert parse_time_bound("2020-02-22T01:00:00") == (1_582_329_600 + 3600) * 10**9
    assert parse_time_bound("2020-02-22T02:00:00+01:00") == (1_582_329_600 + 3600) * 10**9
    assert parse_time_bound("2020-02-22T00:00:00.000000001Z") == 1_582_329_600 * 10**9 + 1
    for ns in (1_582_329_600 * 10**9, 1_582_337_147_728_123_456):
        assert parse_time_bound(format_time_bound(ns)) == ns
    with pytest.raises(ValueError, match="not an ISO date"):
        parse_time_bound("yesterday")


def test_run_start_and_end_bound_the_replay(tmp_path):
    ts = sample_ts()
    text = demo_config_text(tmp_path).replace(
        'report_dir = "reports"\n',
        'report_dir = "reports"\nstart = "2020-02-22T00:30:00"\nend = "2020-02-22T01:00:00Z"\n',
    )
    path = tmp_path / "bounded.toml"
    path.write_text(text, encoding="utf-8")
    lo, hi = parse_time_bound("2020-02-22T00:30:00"), parse_time_bound("2020-02-22T01:00:00")
    expected = int(((ts >= lo) & (ts < hi)).sum())
    assert 0 < expected < 9_999
    proc = run_cli("backtest", str(path), "--report-dir", str(tmp_path / "rep"))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "rep" / "report.json").read_text())["summary"]
    assert summary["ticks"] == expected and summary["last_ts_ns"] < hi


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ('start = "2020-02-23"\nend = "2020-02-22"\n', "must be before end"),
        ('start = "soon"\n', "'soon' is not an ISO date or datetime (e.g. 2024-01-31"),
    ],
)
def test_bad_run_bounds_are_config_errors(tmp_path, run, message):
    text = demo_config_text(tmp_path).replace(
        'report_dir = "reports"\n', f'report_dir = "reports"\n{run}'
    )
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        apply_run_bounds(load_config(path))
    assert message in str(err.value) and str(err.value).endswith("@ $.run.start")
