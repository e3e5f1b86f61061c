"""Where the scheduler's engine CPU goes at one close kind or another: a split, not a speed.

    python bench/bench_scheduler_split.py                       # 1,000,000 ticks, ~80/min
    python bench/bench_scheduler_split.py --ticks 300000 --speedup 20

The ticks are bench_scheduler.py's file (``<workdir>/one_<ticks>_<speedup>x.parquet``,
written when missing, the same default workdir).

One scheduler run of bench_scheduler.py's backtest (engine CPU as there) with process CPU
charged exclusively to the piece running: the flat or holding walk (``Scheduler.skip``), the
exit scans and folds around it (``Scheduler.hold``), the closes stepped around positions
(``Engine._on_ticks``, ``Engine._reach`` with its ``_on_boundary``), an event
(``Engine._enter``, ``Scheduler._finish_reach``), the block's set-up (``Engine._open_block``)
and ``Engine.on_batch``'s own loop; what ``Engine.run`` spends outside ``on_batch`` (start-up,
journal, summary) is the engine CPU less their sum, itself split into the journal's open
(``Engine._open_journal``: the DuckDB file, its schema, the run's row), the session's
reconciliation (``prepare_session``), the run's summary (``Engine.summary``), the journal's
end-of-run write (``Journal.finish``: the Arrow batches, the run's row, the checkpoint) and its
close, and the rest. Also the garbage collector's time per generation inside ``Engine.run``
(its callbacks), whichever piece it interrupted.
"""

from __future__ import annotations

import argparse
import functools
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_pipeline  # noqa: E402
import bench_scheduler  # noqa: E402


def main() -> None:
    import anyio
    from tradewind.journal import store
    from tradewind.trading import engine as eng
    from tradewind.trading import scheduler as sch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--speedup", type=float, default=1.0, help="1: ~80 trades/min")
    ap.add_argument(
        "--analyzers",
        choices=("default", "no-profile"),
        default="default",
        help="no-profile: bench_scheduler's config without the profile analyzer",
    )
    ap.add_argument(
        "--exits",
        choices=("default", "long-holds"),
        default="default",
        help="long-holds: bench_scheduler's exits that hold positions across many closes",
    )
    ap.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tradewind-bench-sched"
    )
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = bench_pipeline.one_instrument_file(
        args.workdir / f"one_{args.ticks}_{args.speedup:g}x.parquet", args.ticks, args.speedup
    )
    spent: dict[str, float] = {}
    stack: list[list[Any]] = []

    def charge(label: str, started: float) -> None:
        _, child = stack.pop()
        d = time.process_time() - started
        spent[label] = spent.get(label, 0.0) + d - child
        if stack:
            stack[-1][1] += d

    def wrap(cls: Any, name: str, label: str, is_async: bool) -> None:
        f = getattr(cls, name)
        if is_async:

            @functools.wraps(f)
            async def timed(*a: Any, **k: Any) -> Any:
                t = time.process_time()
                stack.append([label, 0.0])
                try:
                    return await f(*a, **k)
                finally:
                    charge(label, t)
        else:

            @functools.wraps(f)
            def timed(*a: Any, **k: Any) -> Any:
                t = time.process_time()
                stack.append([label, 0.0])
                try:
                    return f(*a, **k)
                finally:
                    charge(label, t)

        setattr(cls, name, timed)

    e, s = eng.Engine, sch.Scheduler
    wrap(e, "on_batch", "on_batch's own loop", True)
    wrap(e, "_open_block", "block set-up", False)
    wrap(e, "_on_ticks", "stepped: _on_ticks", True)
    wrap(e, "_reach", "stepped: _reach/_on_boundary", True)
    wrap(e, "_enter", "event: _enter", True)
    wrap(s, "_finish_reach", "event: _finish_reach", True)
    wrap(s, "skip", "walk: Scheduler.skip", True)
    wrap(s, "hold", "holding: scans and folds", True)
    # Outside on_batch: charged to these, not to the pieces above.
    wrap(e, "_open_journal", "outside: journal open", False)
    wrap(eng, "prepare_session", "outside: prepare_session", True)
    wrap(e, "summary", "outside: summary", False)
    wrap(store.Journal, "finish", "outside: journal end-of-run write", False)
    wrap(store.Journal, "close", "outside: journal close", False)

    collected = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
    inside = [False]
    gc_start = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if not inside[0]:
            return
        if phase == "start":
            gc_start[0] = time.process_time()
        else:
            got = collected[info["generation"]]
            got[0] += 1
            got[1] += time.process_time() - gc_start[0]

    run = anyio.run

    def run_inside(*a: Any, **k: Any) -> Any:
        inside[0] = True
        try:
            return run(*a, **k)
        finally:
            inside[0] = False

    anyio.run = run_inside
    gc.callbacks.append(on_gc)
    r = bench_scheduler.run_one(data, True, data.parent, exits=args.exits, analyzers=args.analyzers)
    total = r["engine_cpu"]
    print(
        f"{data.name} ({args.analyzers} analyzers, {args.exits} exits): engine CPU "
        f"{total:.3f} s, load avg {r['loadavg']:.1f}; {r['decisions']:,} decisions, "
        f"{r['signals']:,} signals, {r['fills']:,} fills, {r['skipped_closes']:,} closes "
        f"walked ({r['bulk_closes']:,} in bulk; {r['held_closes']:,} holding, "
        f"{r['held_bulk_closes']:,} of them in bulk)"
    )
    inner = {k: v for k, v in spent.items() if not k.startswith("outside: ")}
    for label, t in sorted(inner.items(), key=lambda kv: -kv[1]):
        print(f"  {label:32s} {t:.3f} s ({t / total:.0%})")
    rest = total - sum(inner.values())
    print(f"  {'Engine.run outside on_batch':32s} {rest:.3f} s ({rest / total:.0%})")
    outside = {k[len("outside: ") :]: v for k, v in spent.items() if k.startswith("outside: ")}
    for label, t in sorted(outside.items(), key=lambda kv: -kv[1]):
        print(f"    {label:34s} {t:.3f} s")
    print(f"    {'the rest (feed task, events, ...)':34s} {rest - sum(outside.values()):.3f} s")
    for g, (n, t) in collected.items():
        print(f"  gc generation {g}: {n} collections, {t:.3f} s")


if __name__ == "__main__":
    main()
