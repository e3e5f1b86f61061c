"""The backtest journal's fixed cost: its open, start and end-of-run write, apart from the run.

    python bench/bench_journal_fixed.py [--ticks 2000000] [--speedup 1] [--rounds 15]
    python bench/bench_journal_fixed.py --core OTHER/core     # another checkout's journal

One backtest of bench_scheduler.py's file (``<workdir>/one_<ticks>_<speedup>x.parquet``,
written when missing) journals its rows into a file; its session's rows are read back per
table. Then, ``--rounds`` times, in a child process whose ``PYTHONPATH`` is ``--core`` (the
installed core without it): a ``Journal`` on a new file in backtest mode, opened and started
as ``Engine._open_journal`` does (the derived-run-id question included), the run's rows
staged as a backtest stages them (every table's, and the orders' latest states), then
``finish`` (one Arrow batch per table, the run's row, the checkpoint) and ``close``. Printed:
the median process CPU (DuckDB's own threads included) and wall of each step, in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: The child: the rows (a pickle file) into fresh journals, each step timed.
_CHILD = """
import json, os, pickle, statistics, sys, time
from pathlib import Path

from tradewind.journal.store import Journal

rows_file, workdir, rounds = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
tables, orders = pickle.loads(Path(rows_file).read_bytes())
run_ids = sorted({r[0] for r in tables["events"]})
assert len(run_ids) == 1, run_ids
steps = {}


def timed(label, f):
    w, c = time.perf_counter(), time.process_time()
    out = f()
    got = steps.setdefault(label, ([], []))
    got[0].append((time.process_time() - c) * 1e3)
    got[1].append((time.perf_counter() - w) * 1e3)
    return out


for i in range(rounds):
    path = workdir / f"fixed-{i}.duckdb"
    for p in (path, Path(f"{path}.wal")):
        p.unlink(missing_ok=True)
    run_id = run_ids[0]
    j = timed("open", lambda: Journal(path, run_id))

    def start():
        if getattr(j, "has_runs", True):  # the engine's question, as Engine._open_journal asks
            j.query("SELECT count(*) FROM runs WHERE run_id = ? OR run_id LIKE ?",
                    [run_id, run_id + "-%"])
        j.start("backtest", "bench.toml", 0)

    timed("start", start)
    # What the backtest staged until the end of its run: every table's rows, and the orders'
    # latest states (as rows: the backtest converts its order records at this write).
    for table, rs in tables.items():
        j._pending[table] = list(rs)
        j._npending += len(rs)
    j._logged_orders = dict(orders)
    timed("finish (end-of-run write, checkpoint)", lambda: j.finish(1, {"bench": True}))
    timed("close", j.close)
    path.unlink(missing_ok=True)
print(json.dumps({k: [statistics.median(c), statistics.median(w)] for k, (c, w) in steps.items()}))
"""


def session_rows(journal: Path) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, Any]]:
    """Every table's rows of the journal's (one) session, and its orders by client order id."""
    import duckdb
    from tradewind.journal.store import TABLES

    con = duckdb.connect(str(journal), read_only=True)
    try:
        tables = {}
        for t in TABLES:
            if t in ("runs", "orders"):
                continue
            rows = con.execute(f"SELECT * FROM {t} ORDER BY seq").fetchall()
            if rows:
                tables[t] = [tuple(r) for r in rows]
        orders = {
            r[0]: tuple(r) for r in con.execute("SELECT * FROM orders ORDER BY seq").fetchall()
        }
    finally:
        con.close()
    return tables, orders


def main() -> None:
    import bench_pipeline
    import bench_scheduler

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=2_000_000)
    ap.add_argument("--speedup", type=float, default=1.0, help="1: ~80 trades/min")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--core", type=Path, default=None, help="a core folder to import instead")
    ap.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tradewind-bench-sched"
    )
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = bench_pipeline.one_instrument_file(
        args.workdir / f"one_{args.ticks}_{args.speedup:g}x.parquet", args.ticks, args.speedup
    )
    rows_file = args.workdir / f"journal_rows_{args.ticks}_{args.speedup:g}x.pickle"
    if not rows_file.exists():
        bench_scheduler.run_one(data, True, args.workdir)
        rows_file.write_bytes(pickle.dumps(session_rows(args.workdir / "sched-true.duckdb")))
    tables, orders = pickle.loads(rows_file.read_bytes())
    env = dict(os.environ)
    if args.core is not None:
        env["PYTHONPATH"] = str(args.core.resolve())
    w = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(rows_file), str(args.workdir), str(args.rounds)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"journal rounds failed:\n{proc.stderr[-3000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    which = f"core from {args.core}" if args.core else "installed core"
    n = sum(len(v) for v in tables.values()) + len(orders)
    print(
        f"backtest journal of {data.name} ({n:,} rows in {len(tables) + 1} tables), {which}, "
        f"{args.rounds} rounds in {time.perf_counter() - w:.1f} s, load avg "
        f"{os.getloadavg()[0]:.1f}; medians, CPU / wall:"
    )
    total = [0.0, 0.0]
    for label, (cpu, wall) in got.items():
        total[0] += cpu
        total[1] += wall
        print(f"  {label:40s} {cpu:7.1f} ms / {wall:7.1f} ms")
    print(f"  {'sum of the medians':40s} {total[0]:7.1f} ms / {total[1]:7.1f} ms")


if __name__ == "__main__":
    main()
