"""The backtest event scheduler against stepping every close: engine-only CPU, A/B.

    python bench/bench_scheduler.py                      # 1,000,000 ticks, ~80 and ~1,600/min
    python bench/bench_scheduler.py --ticks 300000 --runs 3
    python bench/bench_scheduler.py --exits long-holds        # positions open for hours

The embedded default backtest (bench_pipeline's ``one`` run: the orderflow-scalper preset,
its filters and exits) over bench_pipeline's synthetic BTCUSDT ticks, once with ``[run]
event_scheduler = true`` (the default) and once with ``false``, each run in a fresh process;
medians of ``--runs``. Engine CPU is the process CPU of ``Engine.run`` minus the replay
venue's file load. Both runs must report the same decisions, signals and fills (the
scheduler changes no result; tests/test_event_scheduler.py checks the journals row by row).

``--exits long-holds`` replaces the default exits (reversal, adverse, trailing 0.5 %, max hold
30 min, guard) by a 2 % trailing stop and a 240-minute max hold, so positions stay open over
many closes: the part of the run the scheduler walks while a
position is held (up to the exit monitors' first trigger) rather than flat.

``--analyzers no-profile`` drops the profile analyzer (and its charted POC): its block is a
row generator, so with it the walk goes close by close; without it every analyzer hands its
block over as a table and the walk goes over stretches of rejected closes in bulk. The
preset's rules that read the profile (the zone gate, the market-profile, zone and FVG
scorers) are replaced by a regime gate and regime/microstructure scorers (``NO_PROFILE``), so
that run decides differently: compare it with itself, not with the default.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_pipeline  # noqa: E402

#: ``--exits long-holds``: positions held over many closes.
LONG_HOLDS = """[exits.trailing]
trail_pct = 0.02

[exits.maxhold]
max_hold_minutes = 240.0

"""


#: ``--analyzers no-profile``: the strategy's rules over the other three analyzers.
NO_PROFILE = """
[[strategy.gates]]
name = "regime"
long = [{ value = "regime.regime", op = ">=", threshold = 1 }]
short = [{ value = "regime.regime", op = "<=", threshold = -1 }]

[[strategy.scorers]]
name = "mean_reversion"
long = [
    { points = 1.5, when = [{ value = "micro.zscore", op = "<", threshold = -2.0 }] },
    { points = 0.75, when = [{ value = "micro.zscore", op = "<", threshold = -1.0 }] },
]
short = [
    { points = 1.5, when = [{ value = "micro.zscore", op = ">", threshold = 2.0 }] },
    { points = 0.75, when = [{ value = "micro.zscore", op = ">", threshold = 1.0 }] },
]

[[strategy.scorers]]
name = "autocorrelation"
long = [
    { points = 1.0, when = [{ value = "micro.autocorr", op = "abs>", threshold = 0.6 }] },
    { points = 0.5, when = [{ value = "micro.autocorr", op = "abs<", threshold = 1.01 }] },
]
short = [
    { points = 1.0, when = [{ value = "micro.autocorr", op = "abs>", threshold = 0.6 }] },
    { points = 0.5, when = [{ value = "micro.autocorr", op = "abs<", threshold = 1.01 }] },
]

[[strategy.scorers]]
name = "trend"
long = [
    { points = 1.0, when = [{ value = "regime.ema_fast", op = ">", ref = "regime.ema_slow" }] },
]
short = [
    { points = 1.0, when = [{ value = "regime.ema_fast", op = "<", ref = "regime.ema_slow" }] },
]
"""


def without_profile(text: str) -> str:
    """``text`` (the default config) without the profile analyzer, its charted POC and the
    preset's rules that read it (:data:`NO_PROFILE` instead)."""
    a, b = text.index("[analyzers.profile]"), text.index("[analyzers.orderflow]")
    text = text[:a] + text[b:]
    assert ', "profile.poc"]' in text
    text = text.replace(', "profile.poc"]', "]")
    head = "risk_pct = 0.01\n"
    at = text.index(head, text.index("[strategy]")) + len(head)
    return text[:at] + NO_PROFILE + text[at:]


def run_one(
    data: Path,
    scheduler: bool,
    workdir: Path,
    exits: str = "default",
    analyzers: str = "default",
) -> dict[str, Any]:
    """One backtest in this process: its engine CPU and what it decided."""
    import anyio
    from tradewind.config import load_config
    from tradewind.trading.engine import Engine

    flag = "true" if scheduler else "false"
    journal = workdir / f"sched-{flag}.duckdb"
    for p in (journal, Path(str(journal) + ".wal")):
        p.unlink(missing_ok=True)
    text = bench_pipeline.config_text(data, ["BTCUSDT"], 1_000_000, journal)
    assert "[run]\n" in text
    text = text.replace("[run]\n", f"[run]\nevent_scheduler = {flag}\n", 1)
    if exits == "long-holds":
        start, end = text.index("# The seed's exits"), text.index("[notifiers.log]")
        text = text[:start] + LONG_HOLDS + text[end:]
    if analyzers == "no-profile":
        text = without_profile(text)
    cfg = workdir / f"sched-{flag}.toml"
    cfg.write_text(text, encoding="utf-8")
    engine = Engine(load_config(cfg), run_id=f"sched-{flag}")
    replay = engine.venues["replay"]
    connect = replay.connect
    load = [0.0]

    async def timed_connect() -> None:
        c = time.process_time()
        await connect()
        load[0] += time.process_time() - c

    replay.connect = timed_connect
    c = time.process_time()
    result = anyio.run(engine.run)
    cpu = time.process_time() - c
    s = result.summary
    sched = engine._scheduler
    return {
        "scheduler": scheduler,
        "ticks": s["ticks"],
        "decisions": s["decisions"],
        "signals": s["signals"],
        "fills": s["fills"],
        "engine_cpu": cpu - load[0],
        "skipped_closes": sched.closes if sched is not None else 0,
        # Of those, walked while a position was open (older trees have no such count).
        "held_closes": getattr(sched, "held_closes", 0) if sched is not None else 0,
        "array_rejections": sched.rejected_by_arrays if sched is not None else 0,
        # Of the skipped closes, walked in bulk (older trees have no such count).
        "bulk_closes": getattr(sched, "bulk_closes", 0) if sched is not None else 0,
        # Of the held closes, walked in bulk (older trees have no such count).
        "held_bulk_closes": getattr(sched, "held_bulk_closes", 0) if sched is not None else 0,
        "loadavg": os.getloadavg()[0],
    }


def spawn(
    data: Path, scheduler: bool, workdir: Path, exits: str = "default", analyzers: str = "default"
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--_run", str(data), "--workdir", str(workdir)]
    cmd += ["--exits", exits, "--analyzers", analyzers]
    if scheduler:
        cmd.append("--_scheduler")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--speedups", default="1,20", help="time compressions (1: ~80 trades/min)")
    ap.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tradewind-bench-sched"
    )
    ap.add_argument("--exits", choices=("default", "long-holds"), default="default")
    ap.add_argument("--analyzers", choices=("default", "no-profile"), default="default")
    ap.add_argument("--_run", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_scheduler", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args._run is not None:
        print(
            json.dumps(
                run_one(args._run, args._scheduler, args.workdir, args.exits, args.analyzers)
            )
        )
        return
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(f"{os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.1f}; medians of {args.runs}")
    for sp in (float(s) for s in args.speedups.split(",")):
        data = bench_pipeline.one_instrument_file(
            args.workdir / f"one_{args.ticks}_{sp:g}x.parquet", args.ticks, sp
        )
        runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for _ in range(args.runs):
            for scheduler in (False, True):  # interleaved: the machine's load hits both
                runs[scheduler].append(
                    spawn(data, scheduler, args.workdir, args.exits, args.analyzers)
                )
        stepped, sched = runs[False][0], runs[True][0]
        for key in ("ticks", "decisions", "signals", "fills"):
            if stepped[key] != sched[key]:
                raise SystemExit(f"{key} differ: stepped {stepped[key]}, scheduled {sched[key]}")
        med = {k: statistics.median(r["engine_cpu"] for r in v) for k, v in runs.items()}
        n = stepped["ticks"]
        print(
            f"\n{n:,} ticks ({sp:g}x), {stepped['decisions']:,} decisions, "
            f"{stepped['signals']:,} signals, {stepped['fills']:,} fills"
        )
        print(
            f"  every close stepped: {med[False]:.3f} s engine CPU ({n / med[False] / 1e6:.3f} M "
            f"ticks/s)\n  event scheduler:     {med[True]:.3f} s engine CPU "
            f"({n / med[True] / 1e6:.3f} M ticks/s), {sched['skipped_closes']:,} closes "
            f"skipped ({sched['held_closes']:,} holding a position), "
            f"{sched['array_rejections']:,} rejected by array predicates, "
            f"{sched['bulk_closes']:,} walked in bulk\n"
            f"  ratio {med[False] / med[True]:.2f}x; load avg "
            f"{statistics.median(r['loadavg'] for v in runs.values() for r in v):.1f}"
        )


if __name__ == "__main__":
    main()
