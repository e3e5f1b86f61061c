"""Peer benchmark: tradewind and NautilusTrader on the same synthetic ticks.

    tox -e bench-peers                       # 2,000,000 ticks, ~80 and ~1,600 trades/min, 3 runs
    tox -e bench-peers -- --ticks 200000 --runs 1          # a quick check

The ticks: ``tradewind.market.synth`` calibrated on the Tardis BTCUSDT sample shipped with
tradewind (fixed seed), ``--ticks`` of them, once at the sample's ~80 trades a minute and once
compressed 20× in time (~1,600 a minute), written to tradewind ticks parquet files that both
sides read (bench/bench_pipeline.py writes them; the same files as its ``one`` scenario).

Four measurements per intensity, each in a fresh process, medians of ``--runs``:

* tradewind engine only: ``Engine.run`` of the embedded default backtest pointed at the file
  (bench_pipeline's ``one`` run), process CPU without the replay venue's file load;
* NautilusTrader engine only: ``BacktestEngine.run`` of bench/peers/nautilus_orderflow.py,
  process CPU, without building the ``TradeTick`` objects and ``add_data``;
* tradewind whole process: ``tradewind backtest CONFIG`` (start-up, config check, file load,
  run, journal, HTML report, summary), wall and CPU of the child process;
* NautilusTrader whole process: ``python bench/peers/nautilus_orderflow.py FILE`` (imports,
  parquet load, ticks, run, fills report), wall and CPU of the child process.

docs/performance.md says what each side computes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
sys.path.insert(0, str(BENCH))

import bench_pipeline  # noqa: E402


def child_run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Run ``cmd`` to completion: (wall s, CPU s of the child, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - w
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{proc.stderr[-3000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def tradewind_engine(data: Path, label: str, workdir: Path) -> dict[str, Any]:
    r = bench_pipeline.spawn(data, ["BTCUSDT"], 1_000_000, label, workdir, None)
    r["engine_cpu"] = r["cpu"] - r["load_cpu"]
    return r


def nautilus_engine(data: Path) -> dict[str, Any]:
    wall, cpu, out = child_run(
        [sys.executable, str(HERE / "nautilus_orderflow.py"), str(data), "--json"]
    )
    r: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    r["process_wall"], r["process_cpu"] = wall, cpu
    return r


def tradewind_process(data: Path, label: str, workdir: Path) -> dict[str, Any]:
    journal = workdir / f"{label}-process.duckdb"
    for p in (journal, Path(str(journal) + ".wal")):
        p.unlink(missing_ok=True)
    cfg = workdir / f"{label}-process.toml"
    cfg.write_text(
        bench_pipeline.config_text(data, ["BTCUSDT"], 1_000_000, journal), encoding="utf-8"
    )
    exe = Path(sys.executable).with_name("tradewind")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "tradewind"]
    wall, cpu, _ = child_run(
        [*cmd, "backtest", str(cfg), "--report-dir", str(workdir / f"{label}-reports")],
        cwd=workdir,
    )
    return {"process_wall": wall, "process_cpu": cpu}


def median(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(float(r[key]) for r in rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--speedups", default="1,20", help="time compressions (1: ~80 trades/min)")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "tradewind-bench-peers",
    )
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    args.workdir.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    print(
        f"peer benchmark: tradewind {version('tradewind')} vs nautilus_trader "
        f"{version('nautilus_trader')}; {os.cpu_count()} CPUs, load avg "
        f"{os.getloadavg()[0]:.1f}; {args.runs} run(s) each, medians; data in {args.workdir}"
    )
    summary = []
    for sp in (float(s) for s in args.speedups.split(",")):
        data = args.workdir / f"one_{args.ticks}_{sp:g}x.parquet"
        if not data.exists():
            b = bench_pipeline.synth_ticks(args.ticks, "BTCUSDT", bench_pipeline.SEED, sp)
            bench_pipeline.write_data(data, {"BTCUSDT": b})
        from tradewind.market.importers import load

        batch = next(iter(load(data).batches.values()))
        rate = len(batch) / max((batch.last_ts - batch.first_ts) / 60e9, 1e-9)
        n = len(batch)
        print(f"\n{n:,} ticks at {rate:,.0f} trades/minute ({data.name})")
        tw, nt, twp = [], [], []
        for i in range(args.runs):
            label = f"peers-{sp:g}x-{i}"
            tw.append(tradewind_engine(data, label, args.workdir))
            nt.append(nautilus_engine(data))
            twp.append(tradewind_process(data, label, args.workdir))
            print(
                f"  run {i + 1}: tradewind engine {tw[-1]['engine_cpu']:.2f} s CPU, "
                f"process {twp[-1]['process_wall']:.2f} s wall; "
                f"nautilus engine {nt[-1]['run_cpu']:.2f} s CPU, "
                f"process {nt[-1]['process_wall']:.2f} s wall; load avg "
                f"{os.getloadavg()[0]:.1f}"
            )
        tw_rate = n / median(tw, "engine_cpu")
        nt_rate = n / median(nt, "run_cpu")
        twp_wall, ntp_wall = median(twp, "process_wall"), median(nt, "process_wall")
        twp_cpu, ntp_cpu = median(twp, "process_cpu"), median(nt, "process_cpu")
        print(
            f"  tradewind: {tw[0]['decisions']:,} decisions, {tw[0]['signals']:,} signals, "
            f"{tw[0]['fills']:,} fills; nautilus: {nt[0]['signals']:,} cascade signals, "
            f"{nt[0]['entries']:,} entries, {nt[0]['fills']:,} fills"
        )
        print(
            f"  engine only (process CPU): tradewind {tw_rate / 1e6:.3f} M ticks/s, "
            f"nautilus {nt_rate / 1e6:.3f} M ticks/s → {tw_rate / nt_rate:.2f}×"
        )
        print(
            f"  whole process: tradewind {twp_wall:.2f} s wall / {twp_cpu:.2f} s CPU "
            f"({n / twp_wall / 1e6:.3f} M ticks/s wall), nautilus {ntp_wall:.2f} s wall / "
            f"{ntp_cpu:.2f} s CPU ({n / ntp_wall / 1e6:.3f} M ticks/s wall) → "
            f"{ntp_wall / twp_wall:.2f}× (wall), {ntp_cpu / twp_cpu:.2f}× (CPU)"
        )
        summary.append((rate, tw_rate, nt_rate, twp_wall, ntp_wall))
    print("\nsummary (trades/min: engine-only tradewind / nautilus = ratio; process ratio)")
    for rate, tw_rate, nt_rate, twp_wall, ntp_wall in summary:
        print(
            f"  {rate:8,.0f}: {tw_rate / 1e6:.3f} / {nt_rate / 1e6:.3f} M ticks/s = "
            f"{tw_rate / nt_rate:.2f}×; whole process {ntp_wall / twp_wall:.2f}×"
        )


if __name__ == "__main__":
    main()
