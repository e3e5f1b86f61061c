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
with ``--as-program``. ``--program-order`` runs it as the program too, and imports nothing
before the command: each timer is put in when the program imports its module, so the phases
overlap as they do in the program (the read-ahead with the imports after the config check);
its first line is then the start-up before the config check, and "the rest" the time no timer
holds (the imports after the check, the journal's open, the exit). Since the eighteenth
session the journal's end-of-run write is its own line (its thread's CPU; the report's phase
holds the wait for it, if any); before, it was inside the run's.
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
        started.setdefault(label, (t - t0, time.process_time() - c0))
        try:
            return f(*a, **k)
        finally:
            w, u = spent.get(label, (0.0, 0.0))
            spent[label] = (w + time.perf_counter() - t, u + clock() - c)

    setattr(module, attr, wrapper)
    return wrapper


started = {}
#: What is timed: (module, attribute, label, clock); an attribute "A.b" is b of class A.
TIMED = [
    ("tradewind.config_check", "check_config", "config check (plugins imported and built)", None),
    ("tradewind.trading.engine", "Engine.__init__", "engine set-up", None),
    # The replay venue's connect, or the read-ahead's thread (tradewind.market.preload), which
    # reads it from the module: the thread's own CPU, pyarrow's decoding threads' not in it.
    ("tradewind.market.importers", "load", "parquet load (thread CPU)", time.thread_time),
    ("tradewind.market.preload", "take", "connect waiting for the read-ahead", None),
    ("anyio", "run", "run (engine, journal; with the load)", None),
    # Since the eighteenth session, on a thread of its own beside the report's first parts
    # (its thread's CPU); before, inside the run.
    ("tradewind.trading.engine", "finish_journal", "journal's end-of-run write (thread CPU)",
     time.thread_time),
    ("tradewind.report.analysis", "analyse", "analysis (for report and summary)", None),
    ("tradewind.report.metrics", "write_report", "HTML and JSON report", None),
    ("tradewind.report.summary", "print_summary", "summary", None),
]


def install(name, module):
    for mod, attr, label, clock in TIMED:
        if mod != name:
            continue
        owner = module
        *path, attr = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        if hasattr(owner, attr):  # (a core from before it: --core)
            timed(owner, attr, label, clock or time.process_time)


if "--program-order" in sys.argv:
    # Nothing imported before the command: each timer is put in when its module has been
    # imported, where the program imports it (the read-ahead overlaps what it overlaps
    # there). "imports" is then what runs before the config check.
    import importlib.abc

    class Timers(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name not in {m for m, *_ in TIMED}:
                return None
            sys.meta_path.remove(self)
            try:
                import importlib.util

                spec = importlib.util.find_spec(name)
            finally:
                sys.meta_path.insert(0, self)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                install(name, module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Timers())
    import tradewind.cli as cli
    imports = None
else:
    import importlib

    import tradewind.cli as cli

    for name in dict.fromkeys(m for m, *_ in TIMED):
        try:
            install(name, importlib.import_module(name))
        except ImportError:  # a core from before the read-ahead (--core)
            pass
    imports = (time.perf_counter() - t0, time.process_time() - c0)


def report(rc="0"):
    total = (time.perf_counter() - t0, time.process_time() - c0)
    first = imports or started.get(TIMED[0][2], (0.0, 0.0))
    label = "imports of the CLI and core modules" if imports else "start-up before the config check"
    rows = [(label, first), *spent.items()]
    for label, (w, u) in rows:
        print(f"    {label:45s} {w:6.3f} s / {u:6.3f} s", file=sys.stderr)
    # What no timer holds: the imports after the config check (with --program-order), the
    # journal's open, the exit. The threads' CPU is not the main thread's time.
    on_threads = {label for *_, label, clock in TIMED if clock is time.thread_time}
    on_threads.add("connect waiting for the read-ahead")  # (inside the run's)
    timed_w = first[0] + sum(w for k, (w, _) in spent.items() if k not in on_threads)
    print(f"    {'the rest (no timer)':45s} {total[0] - timed_w:6.3f} s", file=sys.stderr)
    print(f"    {'whole (after the interpreter start), rc ' + str(rc):45s} "
          f"{total[0]:6.3f} s / {total[1]:6.3f} s", file=sys.stderr)


sys.stdout = io.StringIO()
if "--as-program" in sys.argv or "--program-order" in sys.argv:
    # As the program runs (main() without arguments: the collector's hold at start-up and
    # around the report, the fast exit, which runs the atexit handlers first).
    flags = ("--as-program", "--program-order")
    sys.argv = ["tradewind", *(a for a in sys.argv[1:] if a not in flags)]
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
        "--program-order",
        action="store_true",
        help="--as-program, its modules imported where the program imports them",
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
             str(args.workdir / "reports"), *(["--as-program"] if args.as_program else []),
             *(["--program-order"] if args.program_order else [])],
            capture_output=True, text=True, env=env, cwd=args.workdir,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"phases run failed:\n{proc.stderr[-3000:]}")
        print("  phases (one run, wall / CPU):")
        lines = proc.stderr.strip("\n").splitlines()
        heads = ("    imports of the CLI", "    start-up before")
        first = max(i for i, line in enumerate(lines) if line.startswith(heads))
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
