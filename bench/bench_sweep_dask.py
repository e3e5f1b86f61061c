"""Sweep speed-up on a Dask cluster: the same grid on 1 and on 2 worker processes.

    python bench/bench_sweep_dask.py [--grid 2x2] [--repeat 1]

The demo config on the shipped sample, a grid of ``strategy.timeframe`` x
``exits.trailing.trail_pct`` values (each variant runs in-sample and out-of-sample, so a 2x2
grid is 8 backtests). For each worker count a Dask ``LocalCluster`` of that many processes
(one thread each) is started first and the sweep is timed against its scheduler address
(``run_sweep(cluster=...)``, what ``--cluster tcp://...`` does), so cluster start-up is not
counted. Prints wall seconds per worker count and the speed-up, and checks that both ranked
tables are equal. The figure depends on free cores: on a machine whose cores are busy it is
below the core count.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TIMEFRAMES = ["1m", "5m", "15m", "3m"]
TRAILS = [0.001, 0.002, 0.003, 0.004]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", default="2x2", help="timeframes x trail values, e.g. 2x3")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    a, b = (int(x) for x in args.grid.split("x"))
    from distributed import LocalCluster
    from tradewind.sweep import run_sweep

    from tests.test_engine import demo_config_text

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cfg = tmp / "demo.toml"
        cfg.write_text(demo_config_text(tmp), encoding="utf-8")
        grid = tmp / "grid.toml"
        grid.write_text(
            "[grid]\n"
            f'"strategy.timeframe" = {json.dumps(TIMEFRAMES[:a])}\n'
            f'"exits.trailing.trail_pct" = {json.dumps(TRAILS[:b])}\n',
            encoding="utf-8",
        )
        tables = {}
        secs: dict[int, float] = {}
        for workers in (1, 2):
            with LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster:
                best = float("inf")
                for r in range(args.repeat):
                    console = Console(file=io.StringIO(), width=160)
                    t0 = time.perf_counter()
                    result = run_sweep(
                        cfg, grid, cluster=cluster.scheduler_address,
                        out_dir=tmp / f"out-{workers}-{r}", console=console,
                    )  # fmt: skip
                    best = min(best, time.perf_counter() - t0)
                tables[workers] = [(row.index, dict(row.in_sample)) for row in result.rows]
                secs[workers] = best
            runs = 2 * a * b
            print(f"{workers} worker(s): {runs} backtests in {secs[workers]:.2f} s")
        assert tables[1] == tables[2], "the ranked tables differ"
        print(f"speed-up 1 -> 2 workers: {secs[1] / secs[2]:.2f}x (ranked tables equal)")


if __name__ == "__main__":
    main()
