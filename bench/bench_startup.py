"""Start-up cost of ``tradewind backtest``: a whole process on a small tick file.

    python bench/bench_startup.py [--ticks 10000] [--runs 5] [--core DIR]

Writes ``--ticks`` synthetic BTCUSDT ticks (``tradewind.market.synth`` calibrated on the
shipped sample, the same seed as bench_pipeline.py) to a tradewind ticks parquet file, points
the embedded default config at it, and runs ``python -m tradewind backtest CONFIG`` ``--runs``
times, each a fresh process: the median wall time and CPU time (user + system of the child)
are the start-up figure, since the run itself is a few milliseconds of engine time. ``--core
DIR`` puts another checkout's ``core`` folder first on ``PYTHONPATH`` (the "before" of a
change, e.g. ``git archive <commit> core/tradewind | tar -x -C /tmp/before``). ``--imports``
also prints the ten largest imports (``python -X importtime``). ``--speedup 20 --ticks
2000000`` writes the file of the peer benchmark's ~1,600 trades a minute (the same seed, so
the same ticks as ``bench/peers/run.py``), whose whole process it times. ``--main-thread``
runs the program with its main thread's own CPU and its run-queue wait printed at exit
(Linux), and prints their medians: figures a shared machine's load moves less than wall.
``--phases`` runs one more process with the CLI's steps timed in it (wall and CPU): the
imports of the command line and the core modules, the config check (with the plugins'
imports), the engine's set-up, the parquet load (on the read-ahead's thread since the
seventeenth session: its wall and that thread's own CPU, overlapping the set-up), the
connect's wait for it, the rest of the run (engine and journal), the analysis of the run that
the report and the summary share, the report, the summary; the phases child imports the core
modules before the command starts, so the read-ahead overlaps less there than in the program.
With ``--as-program`` that process runs the command as the program does (``main()`` without
arguments: the collector held at start-up and around the report, the fast exit) instead of
``main([...])``. Without it, the analysis and the report phases include collections that walk
the run's objects (the program freezes them when the run ends): take a backtest's fixed part
with ``--as-program``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pipeline

#: The child of ``--phases``: ``tradewind backtest`` with its steps wrapped in timers.
_PHASES = """
import atexit, io, sys, time

t0, c0 = time.perf_counter(), time.process_time()
spent = {}


def timed(module, attr, label, clock=time.process_time):
    # clock=time.thread_time: the calling thread's own CPU (the read-ahead runs on a thread).
    f = getattr(module, attr)

    def wrapper(*a, **k):
        t, c = time.perf_counter(), clock()
        try:
            return f(*a, **k)
        finally:
            w, u = spent.get(label, (0.0, 0.0))
            spent[label] = (w + time.perf_counter() - t, u + clock() - c)

    setattr(module, attr, wrapper)
    return wrapper


import anyio
import tradewind.cli as cli
import tradewind.config_check as config_check
import tradewind.market.importers as importers
import tradewind.report.analysis as analysis
import tradewind.report.metrics as metrics
import tradewind.report.summary as summary
import tradewind.trading.engine as engine

imports = (time.perf_counter() - t0, time.process_time() - c0)
timed(config_check, "check_config", "config check (plugins imported and built)")
timed(engine.Engine, "__init__", "engine set-up")
# The replay venue's connect, or the read-ahead's thread (tradewind.market.preload), which
# reads it from the module: the thread's own CPU, with pyarrow's decoding threads' not in it.
timed(importers, "load", "parquet load (thread CPU)", time.thread_time)
try:
    import tradewind.market.preload as preload
except ImportError:  # a core from before the read-ahead (--core)
    pass
else:
    timed(preload, "take", "connect waiting for the read-ahead")
timed(anyio, "run", "run (engine, journal; with the load)")
timed(analysis, "analyse", "analysis (for report and summary)")
timed(metrics, "write_report", "HTML and JSON report")
timed(summary, "print_summary", "summary")


def report(rc="0"):
    total = (time.perf_counter() - t0, time.process_time() - c0)
    rows = [("imports of the CLI and core modules", imports), *spent.items()]
    for label, (w, u) in rows:
        print(f"    {label:45s} {w:6.3f} s / {u:6.3f} s", file=sys.stderr)
    print(f"    {'whole (after the interpreter start), rc ' + str(rc):45s} "
          f"{total[0]:6.3f} s / {total[1]:6.3f} s", file=sys.stderr)


sys.stdout = io.StringIO()
if "--as-program" in sys.argv:
    # As the program runs (main() without arguments: the collector's hold at start-up and
    # around the report, the fast exit, which runs the atexit handlers first).
    sys.argv = ["tradewind", *(a for a in sys.argv[1:] if a != "--as-program")]
    atexit.register(report)
    cli.main()
else:
    report(cli.main(sys.argv[1:]))
"""


#: The timed runs with ``--main-thread``: the program (``main()`` without arguments, its fast
#: exit running the atexit handlers), printing at exit its main thread's own CPU and the time
#: it spent runnable and not running (``/proc/.../schedstat``'s second field, Linux).
_MAIN_THREAD = """
import atexit, sys, threading, time


def report():
    with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
        waited = int(f.read().split()[1]) / 1e9
    print(f"main thread: {time.thread_time()} {waited}", file=sys.stderr)


atexit.register(report)
sys.argv = ["tradewind", *sys.argv[1:]]
from tradewind.cli import main

sys.exit(main())
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--core", type=Path, default=None, help="a core folder to import instead")
    ap.add_argument("--imports", action="store_true", help="print the largest imports")
    ap.add_argument("--speedup", type=float, default=1.0, help="time compression (20: ~1,600/min)")
    ap.add_argument("--phases", action="store_true", help="time the CLI's steps in one more run")
    ap.add_argument(
        "--as-program",
        action="store_true",
        help="run the --phases child as the program (main() without arguments)",
    )
    ap.add_argument(
        "--main-thread",
        action="store_true",
        help="also the main thread's CPU and the wall less its run-queue wait (Linux)",
    )
    ap.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tradewind-bench-startup"
    )
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    sp = "" if args.speedup == 1.0 else f"_{args.speedup:g}x"
    data = bench_pipeline.one_instrument_file(
        args.workdir / f"startup_{args.ticks}{sp}.parquet", args.ticks, args.speedup
    )
    env = dict(os.environ)
    if args.core is not None:
        env["PYTHONPATH"] = str(args.core.resolve())
    walls, cpus, mains, unqueued = [], [], [], []
    for i in range(args.runs):
        journal = args.workdir / f"startup-{i}.duckdb"
        for p in (journal, Path(str(journal) + ".wal")):
            p.unlink(missing_ok=True)
        cfg = args.workdir / f"startup-{i}.toml"
        cfg.write_text(
            bench_pipeline.config_text(data, ["BTCUSDT"], 1_000_000, journal), encoding="utf-8"
        )
        program = ["-c", _MAIN_THREAD] if args.main_thread else ["-m", "tradewind"]
        cmd = [
            sys.executable,
            *program,
            "backtest",
            str(cfg),
            "--report-dir",
            str(args.workdir / "reports"),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=args.workdir)
        walls.append(time.perf_counter() - w)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        if args.main_thread:
            own, waited = map(float, proc.stderr.split("main thread: ")[-1].split()[:2])
            mains.append(own)
            unqueued.append(walls[-1] - waited)
    which = f"core from {args.core}" if args.core else "installed core"
    print(
        f"tradewind backtest on {args.ticks:,} ticks ({which}), {args.runs} runs: median "
        f"{statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU "
        f"(walls {', '.join(f'{w:.2f}' for w in walls)}; load avg {os.getloadavg()[0]:.1f})"
    )
    if args.main_thread:
        # Wall time is not CPU time once a backtest's phases overlap on two cores: the main
        # thread's own CPU, and the wall less the time it waited for a core (what its path
        # would take with a core to itself; overstated when the other threads wait too).
        print(
            f"  main thread: median {statistics.median(mains):.3f} s CPU, wall less its "
            f"run-queue wait {statistics.median(unqueued):.3f} s "
            f"({', '.join(f'{u:.3f}' for u in unqueued)})"
        )
    if args.phases:
        journal = args.workdir / "startup-phases.duckdb"
        for p in (journal, Path(str(journal) + ".wal")):
            p.unlink(missing_ok=True)
        cfg.write_text(
            bench_pipeline.config_text(data, ["BTCUSDT"], 1_000_000, journal), encoding="utf-8"
        )
        proc = subprocess.run(
            [sys.executable, "-c", _PHASES, "backtest", str(cfg), "--report-dir",
             str(args.workdir / "reports"), *(["--as-program"] if args.as_program else [])],
            capture_output=True, text=True, env=env, cwd=args.workdir,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"phases run failed:\n{proc.stderr[-3000:]}")
        print("  phases (one run, wall / CPU):")
        lines = proc.stderr.strip("\n").splitlines()
        first = max(i for i, line in enumerate(lines) if "imports of the CLI" in line)
        print("\n".join(lines[first:]))
    if args.imports:
        proc = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-m",
                "tradewind",
                "backtest",
                str(cfg),
                "--report-dir",
                str(args.workdir / "reports"),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=args.workdir,
        )
        top = []
        for line in proc.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].startswith(" ") and not parts[2].startswith("  "):
                try:
                    top.append((int(parts[1]), parts[2].strip()))
                except ValueError:
                    continue
        total = sum(us for us, _ in top)
        print(f"  imports: {total / 1e6:.2f} s in all; largest:")
        for us, name in sorted(top, reverse=True)[:10]:
            print(f"    {us / 1e6:6.3f} s  {name}")


if __name__ == "__main__":
    main()
