"""The report at the end of a backtest: the analysis, ``report.json`` and ``report.html``, and
the printed summary of one finished run, timed alone.

    python bench/bench_report.py [--ticks 2000000] [--speedup 1] [--rounds 3]
                                 [--before DIR] [--workdir DIR]

Runs the embedded default backtest once on ``--ticks`` synthetic ticks (the files of
bench_startup.py / bench_pipeline.py: the same seed; ``--speedup 20`` is ~1,600 trades a
minute) and keeps its ``RunResult`` (pickled) and journal. Then, ``--rounds`` times, a fresh
process loads the result, imports what the CLI's process has imported by then (the journal
and DuckDB, the report's modules), and times the CLI's report step on it — ``analyse``,
``write_report``, ``print_summary`` inside one shared read-only journal connection, with the
run's objects frozen (``gc.freeze``) as ``tradewind backtest`` does before its report — CPU
and wall. With ``--before DIR`` (another checkout's ``core``, e.g. a detached worktree of
main) each round runs that core first and this one after, and the two reports' files are
compared byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pipeline

_RUN = """
import pickle, sys
from pathlib import Path
import anyio
from tradewind.config_check import check_config
from tradewind.trading.engine import Engine
cfg = check_config(Path(sys.argv[1]), report_dir=sys.argv[3])
result = anyio.run(Engine(cfg, journal_path=sys.argv[2]).run)
Path(sys.argv[4]).write_bytes(pickle.dumps(result))
"""

_REPORT = """
import gc, io, pickle, sys, time
from pathlib import Path
result = pickle.loads(Path(sys.argv[1]).read_bytes())
from rich.console import Console
import tradewind.journal.store  # imported by the run in the CLI's process (DuckDB with it)
import tradewind.report.html  # imported at the report's first call, not the report's work
from tradewind.report.analysis import analyse
from tradewind.report.journal_reader import shared
from tradewind.report.metrics import write_report
from tradewind.report.summary import print_summary
gc.freeze()  # as the program does after its run (the before's core: the same heap)
out = Path(sys.argv[2])
t, c = time.perf_counter(), time.process_time()
buf = io.StringIO()
with shared(result.journal_path):
    a = analyse(result)
    jpath, hpath = write_report(result, out, analysis=a)
    print_summary(result, Console(file=buf, width=110), journal="journal", report=("h", "j"),
                  analysis=a)
print(f"{time.perf_counter() - t:.4f} {time.process_time() - c:.4f}")
(out / "summary.txt").write_text(buf.getvalue(), encoding="utf-8")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=2_000_000)
    ap.add_argument("--speedup", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", type=Path, default=None, help="a core folder to compare with")
    ap.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tradewind-bench-report"
    )
    args = ap.parse_args()
    wd = args.workdir
    wd.mkdir(parents=True, exist_ok=True)
    sp = "" if args.speedup == 1.0 else f"_{args.speedup:g}x"
    data = bench_pipeline.one_instrument_file(
        wd / f"ticks_{args.ticks}{sp}.parquet", args.ticks, args.speedup
    )
    journal = wd / f"journal{sp}.duckdb"
    for p in (journal, Path(str(journal) + ".wal")):
        p.unlink(missing_ok=True)
    cfg = wd / f"run{sp}.toml"
    cfg.write_text(bench_pipeline.config_text(data, ["BTCUSDT"], 1_000_000, journal), "utf-8")
    pickled = wd / f"result{sp}.pkl"
    here = str(Path(__file__).resolve().parents[1] / "core")
    env = dict(os.environ, PYTHONPATH=here)
    subprocess.run(
        [sys.executable, "-c", _RUN, str(cfg), str(journal), str(wd / "run"), str(pickled)],
        check=True, env=env,
    )  # fmt: skip
    sides = [("before", args.before.resolve()), ("after", Path(here))] if args.before else [
        ("this core", Path(here))
    ]  # fmt: skip
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in sides}
    for r in range(args.rounds):
        for name, core in sides:
            out = wd / f"report-{name.replace(' ', '-')}{sp}"
            proc = subprocess.run(
                [sys.executable, "-c", _REPORT, str(pickled), str(out)],
                capture_output=True, text=True, check=True,
                env=dict(os.environ, PYTHONPATH=str(core)),
            )  # fmt: skip
            w, c = (float(x) for x in proc.stdout.split())
            times[name].append((w, c))
            print(f"round {r + 1} {name:9s} wall {w:.3f} s, CPU {c:.3f} s "
                  f"(load avg {os.getloadavg()[0]:.1f})")  # fmt: skip
    for name, ts in times.items():
        walls = sorted(w for w, _ in ts)
        cpus = sorted(c for _, c in ts)
        print(
            f"{name}: median wall {walls[len(walls) // 2]:.3f} s, CPU {cpus[len(cpus) // 2]:.3f} s"
        )
    if args.before:
        a, b = wd / f"report-before{sp}", wd / f"report-after{sp}"
        for f in ("report.json", "report.html", "summary.txt"):
            same = filecmp.cmp(a / f, b / f, shallow=False)
            print(f"{f}: {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
