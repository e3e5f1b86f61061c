"""Paper-mode throughput with one fill per 10 ticks, with and without the journal's group commit.

    python bench/bench_paper_throughput.py [--ticks 200000] [--before-ticks 20000]
                                           [--chunk 1000] [--every 10]

A paper run (``mode = "paper"``: durable journal) of the real engine over calibrated synthetic
BTCUSDT ticks (``bench/_synth.py``) replayed at full speed in feed batches of ``--chunk``
ticks, on the simulated venue with zero latency. After every ``--every`` ticks of the engine's
own tick path (validation, fills, exits, candles) the bench sends one market order that flips
the position through the order manager; the simulated venue fills it at the next trade. So
every 10 ticks: one order journaled ahead, one fill, its position and order state journaled.

* **after** — the shipped behaviour: one durable write per engine step — an ``fdatasync``'d
  append to the journal's step log, the rows loaded into DuckDB in batches (the order
  manager's rows for a simulated venue wait for the step's write);
* **before** — ``group_commit`` off: every order and every fill is its own durable (fsync'd)
  transaction, as before issue 19 (run on fewer ticks: it is ~100x slower).

Prints ticks/s, fills, commits, the process's CPU (all threads), the engine's thread's alone
and the journal's load thread's own (the background loads run on a thread of their own; what
DuckDB's worker threads spend is in the process's CPU only), and the process's peak
RSS growth per fill. Goal: ≥ 100,000
ticks/s with one fill per 10 ticks (after).

``--repeat N``: run ``after`` N times (one process, each on a fresh journal) and print the
median CPU time, per fill too: the figure to compare code with on a shared machine.
``--retained``: the memory still allocated when a run ends (``tracemalloc``, the engine kept
alive, its result and the report's cache of the last metrics let go: they hold the whole run,
read back from the journal in paper and live, as the report needs it) for ``--ticks`` and for a
fifth of them, after a first run that warms imports and caches up; the difference per extra
fill is what a run keeps per fill.

``--retained --api``: the same with the HTTP API's view of the engine attached (its snapshot
source's fills and equity points). ``--api-asks N``: and every N engine steps the trade
endpoints asked of it as a dashboard polls them (``status``, ``count``, ``profit``,
``performance``, ``stats``, ``daily`` and the newest page of ``trades``), so its trades are
built (one round trip per fill here: each flipping fill closes a trade and opens the next).

``--parts``: one ``after`` run with the main thread's CPU time (``time.thread_time``) summed
around the per-fill path's parts — the step's durable commit, the bus, the journal's
subscriber, the simulated venue's matching and fill booking, sending — printed per fill
(parts nest: the venue's matching includes the fill booking), and the journal's background
loads (their own thread's CPU: not on the engine's thread, but in the process's CPU).

``--sync-loads``: the step log's batch loads on the engine's thread, as before they moved to
a thread of their own (the same code otherwise: what the thread changes).

``--postgres``: the journal on PostgreSQL instead of DuckDB (``[journal] url``), in a
throwaway cluster of Debian's ``postgresql`` started for the run (tests/pg.py; the
``bench-scale`` tox env has psycopg).
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

GOAL = 100_000  # ticks/s

CONFIG = """
mode = "paper"

[run]
journal = "{journal}"

[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
taker_fee = "0.0004"
maker_fee = "0.0002"

[venues.sim]
plugin = "sim"
starting_balance = "1000000"
latency_ms = 0

[venues.replay]
plugin = "replay"
path = "{data}"
chunk_ticks = {chunk}
"""


def _engine_class() -> Any:
    from tradewind.model import Side, Signal, TickBatch
    from tradewind.trading.engine import Engine, _InstrumentState

    class ChurnEngine(Engine):
        """The engine's real tick path, plus one flipping market order every ``every`` ticks."""

        every = 10
        group_commit = True
        sync_loads = False  # --sync-loads: the step log's loads on the engine's thread
        _defer = False
        _side = Side.BUY
        commits = 0  # writes into DuckDB on the engine's thread (transactions)
        background = 0  # loads into DuckDB on the journal's load thread
        load_cpu = 0.0  # the load thread's own CPU in those loads (time.thread_time)
        appends = 0  # steps made durable in the step log

        def _open_journal(self) -> None:
            super()._open_journal()
            assert self.journal is not None
            self.journal.group_commit = self.group_commit
            if self.sync_loads:
                self.journal.background = False
            real_flush = self.journal.flush

            def counted() -> None:
                if self.journal is not None and (
                    self.journal._npending
                    or self.journal._dirty_orders
                    or getattr(self.journal, "_nlogged", 0)
                ):
                    self.commits += 1
                real_flush()

            self.journal.flush = counted  # type: ignore[method-assign]
            if hasattr(self.journal, "_load_in_background"):
                real_bg = self.journal._load_in_background

                def loaded(*a: Any) -> None:
                    self.background += 1
                    t = time.thread_time()
                    try:
                        real_bg(*a)
                    finally:
                        self.load_cpu += time.thread_time() - t

                self.journal._load_in_background = loaded  # type: ignore[method-assign]
            if not hasattr(self.journal, "_log_step"):
                return  # the code before the step log (PYTHONPATH at an older core/)
            real_log = self.journal._log_step

            def logged(*a: Any, **k: Any) -> None:
                if self.journal is not None and (
                    self.journal._npending or self.journal._dirty_orders
                ):
                    self.appends += 1
                real_log(*a, **k)

            self.journal._log_step = logged  # type: ignore[method-assign]

        async def _on_ticks(self, st: _InstrumentState, piece: TickBatch) -> None:
            n = len(piece)
            for i in range(0, n, self.every):
                sub = piece.slice(i, min(i + self.every, n))
                self._defer = True  # one step: publish (and commit) once, below
                try:
                    await super()._on_ticks(st, sub)
                finally:
                    self._defer = False
                await self._flip(st, sub)
            await self._publish_pending()

        async def _publish_pending(self) -> None:
            if not self._defer:
                await super()._publish_pending()

        async def _flip(self, st: _InstrumentState, sub: TickBatch) -> None:
            key = st.instrument.key
            if any(o.instrument == key for o in self.portfolio.open_orders()):
                return  # the previous order has not filled yet
            pos = self.portfolio.position(key)
            qty = Decimal("0.001") + abs(pos.quantity)
            side = Side.SELL if pos.quantity > 0 else Side.BUY
            price = st.instrument.round_price(sub.last_price)
            sig = Signal(
                instrument=key,
                side=side,
                entry=price,
                stop=price,
                score=0.0,
                ts_ns=sub.last_ts,
                reasons={},
                quantity=qty,
            )
            await self._send(st, sig, qty, sub.last_ts)

    return ChurnEngine


def run(
    ticks: int,
    chunk: int,
    every: int,
    group_commit: bool,
    workdir: Path,
    journal_url: str = "",
    sync_loads: bool = False,
) -> dict[str, Any]:
    """One paper run; its figures (``journal_url``: a PostgreSQL journal)."""
    import _synth
    from tradewind.config import load_config
    from tradewind.market.importers import ticks_parquet

    data = workdir / f"ticks_{ticks}.parquet"
    if not data.exists():
        ticks_parquet.write(
            data, {"BTCUSDT": _synth.ticks(ticks, speedup=20)}, exchange="synth", market="perp"
        )
    tag = "after" if group_commit else "before"
    journal = workdir / f"journal_{tag}_{ticks}.duckdb"
    for f in workdir.glob(journal.name + "*"):
        f.unlink()
    cfg_path = workdir / f"paper_{tag}.toml"
    text = CONFIG.format(journal=journal.as_posix(), data=data.as_posix(), chunk=chunk)
    if journal_url:
        text += f'\n[journal]\nurl = "{journal_url}"\n'
    cfg_path.write_text(text)
    cls = _engine_class()
    engine = cls(load_config(cfg_path))
    engine.every = every
    engine.group_commit = group_commit
    engine.sync_loads = sync_loads
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    c0 = time.process_time()
    m0 = time.thread_time()
    anyio.run(engine.run)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0  # the process's own CPU: steadier on a shared machine
    main_cpu = time.thread_time() - m0  # the engine's thread alone (not the journal's loads)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fills = fills_of(engine)
    if engine.journal is not None and hasattr(engine.journal, "_load"):
        # Every write into DuckDB since the step log (flushes, loads on either thread).
        engine.commits = engine.journal.loads - engine.background
    return {
        "mode": tag,
        "ticks": engine.ticks,
        "fills": fills,
        "commits": engine.commits,
        "background": engine.background,
        "appends": engine.appends,
        # Steps synced behind the engine, and how many it had to wait for (their sync had
        # not returned when the next step ended); none on code before the sync thread.
        "behind": getattr(engine.journal, "syncs_behind", 0),
        "waited": getattr(engine.journal, "settle_waits", 0),
        "wall_s": wall,
        "ticks_per_s": engine.ticks / wall,
        "cpu_s": cpu,
        "main_cpu_s": main_cpu,
        "load_cpu_s": engine.load_cpu,
        "ticks_per_cpu_s": engine.ticks / cpu,
        "rss_growth_kb": rss1 - rss0,
        "bytes_per_fill": (rss1 - rss0) * 1024 / fills if fills else 0.0,
    }


def paper_engine(
    ticks: int, chunk: int, every: int, workdir: Path, timeframe: str | None = None, **kw: Any
) -> Any:
    """The churning paper engine over ``ticks`` synthetic ticks (at 20 times the sample's
    pace), its data, config and journal in ``workdir``; ``kw`` goes to the engine.
    ``timeframe``: the candles built and decided on (else the default, 1m)."""
    import _synth
    from tradewind.config import load_config
    from tradewind.market.importers import ticks_parquet

    data = workdir / f"retained_{ticks}.parquet"
    ticks_parquet.write(
        data, {"BTCUSDT": _synth.ticks(ticks, speedup=20)}, exchange="synth", market="perp"
    )
    cfg_path = workdir / f"retained_{ticks}.toml"
    journal = workdir / f"retained_{ticks}.duckdb"
    text = CONFIG.format(journal=journal.as_posix(), data=data.as_posix(), chunk=chunk)
    if timeframe is not None:
        text = text.replace('mode = "paper"\n', f'mode = "paper"\ntimeframes = ["{timeframe}"]\n')
        text += f'\n[strategy]\ntimeframe = "{timeframe}"\n'
    cfg_path.write_text(text)
    engine = _engine_class()(load_config(cfg_path), **kw)
    engine.every = every
    return engine


def retained(
    ticks: int,
    chunk: int,
    every: int,
    workdir: Path,
    keep_history: bool = False,
    timeframe: str | None = None,
    curve_keep: int | None = None,
    api: bool = False,
    api_asks: int = 0,
) -> tuple[int, int]:
    """Bytes still allocated after a paper run of ``ticks`` (the engine alive), and its
    fills. ``keep_history``: the order manager keeps every fill and trade in memory, as
    before issue 19's bounded history (``Engine.keep_history``). ``timeframe``: as
    :func:`paper_engine`'s. ``curve_keep``: the points each curve keeps in memory
    (``Engine.curve_keep``; a core without it ignores it). ``api``: the HTTP API's view of
    the engine attached (in-thread serving: its snapshot source publishes every step; the
    view kept alive with the engine); ``api_asks``: every so many steps the trade endpoints
    asked of it (:func:`ask_trades`)."""
    import tracemalloc

    from tradewind.report import metrics

    engine = paper_engine(ticks, chunk, every, workdir, timeframe)
    global _last_decisions
    _last_decisions = 0
    if keep_history:
        engine.keep_history = True
    if curve_keep is not None:
        engine.curve_keep = curve_keep
        engine.curve_check_steps = 1
    gc.collect()
    tracemalloc.start()
    if api:
        from tradewind.api.views import HostView

        view = engine.api_view = HostView(engine)
        if api_asks:
            steps = [0]

            def ask() -> None:
                steps[0] += 1
                if steps[0] % api_asks == 0:
                    ask_trades(view)

            engine.step_sinks.append(ask)
    try:
        anyio.run(engine.run)
        metrics._last_metrics = None  # the run's summary inputs: the result's, not the engine's
        gc.collect()
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    _last_decisions = len(engine.equity_curve)
    return size, fills_of(engine)


def ask_trades(view: Any) -> int:
    """What a dashboard asks of the API's trade views (``--api-asks``); returns the trades."""
    view.status()
    view.count()
    total = int(view.profit()["trade_count"])
    view.performance()
    view.stats()
    view.periodic("days", 7)
    view.trades_page(10, max(0, total - 10))
    return total


#: The decisions (equity points) of the last :func:`retained` run.
_last_decisions = 0


def fills_of(engine: Any) -> int:
    """The fills a run booked (the order manager's count; all it kept before issue 19's
    bounded history)."""
    history = getattr(engine.orders, "history", None)
    return len(engine.orders.fills) if history is None else int(history.n_fills)


def parts(ticks: int, chunk: int, every: int, workdir: Path) -> None:
    """``--parts``: main-thread CPU per fill around each part of the per-fill path."""
    import functools
    import inspect
    from collections import Counter

    from tradewind import bus
    from tradewind.journal import store
    from tradewind.market import candles
    from tradewind.trading import fill_booking, orders
    from tradewind.venues import sim

    spent: Counter[str] = Counter()
    where = (
        (store.Journal, "_log_step", "the step's durable append (Journal._log_step)"),
        (store.Journal, "flush", "writes into DuckDB (Journal.flush)"),
        (
            store.Journal,
            "_load_in_background",
            "  loads on the journal's own thread (not the engine's)",
        ),
        (bus.EventBus, "publish", "publishing to the bus (EventBus.publish)"),
        (bus.EventBus, "publish_many", "publishing a step's events (EventBus.publish_many)"),
        (store.Journal, "record", "the journal's bus subscriber (Journal.record)"),
        (sim.SimulatedVenue, "on_trades", "the simulated venue's matching (on_trades)"),
        (sim.SimulatedVenue, "_book_fill", "  its fills (_book_fill)"),
        (fill_booking.FillBooking, "on_fill", "    the fill booking (OrderManager.on_fill)"),
        (sim.SimulatedVenue, "next_fill_ts", "the venue's next fill time (next_fill_ts)"),
        (orders.OrderManager, "submit", "sending (OrderManager.submit, the venue's too)"),
        (candles.CandleAggregator, "update", "the candle aggregator (update)"),
    )
    where = tuple(w for w in where if hasattr(w[0], w[1]))  # an older core/: no step log
    saved = [(cls, name, getattr(cls, name)) for cls, name, _ in where]

    def timed(fn: Any, label: str) -> Any:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*a: Any, **k: Any) -> Any:
                t = time.thread_time()
                try:
                    return await fn(*a, **k)
                finally:
                    spent[label] += time.thread_time() - t

            return run_async

        @functools.wraps(fn)
        def run_sync(*a: Any, **k: Any) -> Any:
            t = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                spent[label] += time.thread_time() - t

        return run_sync

    try:
        for cls, name, label in where:
            setattr(cls, name, timed(getattr(cls, name), label))
        run(min(ticks, 2_000), chunk, every, True, workdir)  # imports and caches warm
        spent.clear()
        r = run(ticks, chunk, every, True, workdir)
    finally:
        for cls, name, fn in saved:
            setattr(cls, name, fn)
    fills = r["fills"]
    print(
        f"parts of a paper run: {r['ticks']:,} ticks, {fills:,} fills, {r['appends']:,} step "
        f"log appends, {r['commits']:,} DuckDB writes + {r['background']:,} on the load "
        "thread, "
        f"{r['cpu_s']:.2f} s of process CPU = {r['cpu_s'] / fills * 1e6:,.0f} µs per fill"
    )
    for _, _, label in where:
        print(f"  {label:<52} {spent[label] / fills * 1e6:7.1f} µs per fill")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=200_000)
    ap.add_argument("--before-ticks", type=int, default=20_000)
    ap.add_argument("--chunk", type=int, default=1000, help="ticks per feed batch (engine step)")
    ap.add_argument("--every", type=int, default=10, help="ticks per fill")
    ap.add_argument("--only", choices=["before", "after"], default=None)
    ap.add_argument("--postgres", action="store_true", help="journal on a throwaway PostgreSQL")
    ap.add_argument("--repeat", type=int, default=1, help="runs of 'after'; median CPU")
    ap.add_argument("--retained", action="store_true", help="memory kept per fill (tracemalloc)")
    ap.add_argument("--parts", action="store_true", help="CPU per fill of each part (one run)")
    ap.add_argument(
        "--timeframe",
        default=None,
        help="with --retained: decide on this timeframe (1s: a decision per second, the "
        "curves' points per decision) instead of 1m",
    )
    ap.add_argument(
        "--curve-keep",
        type=int,
        default=None,
        help="with --retained: points each curve keeps in memory (default the engine's "
        "10,000), checked every step",
    )
    ap.add_argument(
        "--api",
        action="store_true",
        help="with --retained: the HTTP API's view attached (its snapshot source publishing)",
    )
    ap.add_argument(
        "--api-asks",
        type=int,
        default=0,
        help="with --retained --api: ask the trade endpoints every N engine steps",
    )
    ap.add_argument(
        "--sync-loads",
        action="store_true",
        help="load the step log into DuckDB on the engine's thread (as before issue 19's "
        "seventh session) instead of the journal's load thread",
    )
    args = ap.parse_args()
    if args.parts:
        with tempfile.TemporaryDirectory(prefix="tw-bench-paper-") as tmp:
            parts(args.ticks, args.chunk, args.every, Path(tmp))
        return
    if args.retained:
        with tempfile.TemporaryDirectory(prefix="tw-bench-paper-") as tmp:
            # A first run warms imports and caches up: allocated once, they would count
            # against the small run and understate what a fill keeps.
            (Path(tmp) / "warm").mkdir()
            kw = {
                "timeframe": args.timeframe,
                "curve_keep": args.curve_keep,
                "api": args.api,
                "api_asks": args.api_asks,
            }
            retained(args.ticks // 5, args.chunk, args.every, Path(tmp) / "warm", **kw)
            small = retained(args.ticks // 5, args.chunk, args.every, Path(tmp), **kw)
            small_decisions = _last_decisions
            large = retained(args.ticks, args.chunk, args.every, Path(tmp), **kw)
            large_decisions = _last_decisions
        per_fill = (large[0] - small[0]) / (large[1] - small[1])
        print(
            f"retained after a paper run: {small[0]:,} B ({small[1]:,} fills), {large[0]:,} B "
            f"({large[1]:,} fills): {per_fill:,.0f} B per extra fill"
        )
        if large_decisions > small_decisions:
            per_decision = (large[0] - small[0]) / (large_decisions - small_decisions)
            print(
                f"decisions: {small_decisions:,} and {large_decisions:,}: "
                f"{per_decision:,.0f} B per extra decision"
            )
        return
    cluster = None
    if args.postgres:
        import os
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.pg import Cluster

        cluster = Cluster()
        os.environ["PGPASSWORD"] = cluster.password
    try:
        with tempfile.TemporaryDirectory(prefix="tw-bench-paper-") as tmp:
            work = Path(tmp)
            rows = []
            runs = (("before", args.before_ticks, False), ("after", args.ticks, True))
            for mode, n, group in runs:
                if args.only in (None, mode):
                    for i in range(args.repeat if mode == "after" else 1):
                        name = f"bench_{mode}_{i}" if args.repeat > 1 else f"bench_{mode}"
                        url = cluster.create_database(name) if cluster else ""
                        rows.append(
                            run(n, args.chunk, args.every, group, work, url, args.sync_loads)
                        )
    finally:
        if cluster is not None:
            cluster.stop()
    where = "PostgreSQL" if args.postgres else "DuckDB"
    print(
        f"paper-mode throughput, journal on {where}, one fill per {args.every} ticks, "
        f"feed batches of {args.chunk}"
    )
    for r in rows:
        print(
            f"  {r['mode']:>6}: {r['ticks']:,} ticks, {r['fills']:,} fills, "
            f"{r['appends']:,} step log appends ({r['behind']:,} synced behind the engine, "
            f"{r['waited']:,} waited for), {r['commits']:,} {where} writes "
            f"(+ {r['background']:,} on the load thread) in "
            f"{r['wall_s']:.2f} s = {r['ticks_per_s']:,.0f} ticks/s "
            f"({r['cpu_s']:.2f} s of CPU = {r['ticks_per_cpu_s']:,.0f} ticks per CPU second, "
            f"{r['main_cpu_s']:.2f} s on the engine's thread = "
            f"{r['main_cpu_s'] / r['fills'] * 1e6:,.0f} µs per fill, "
            f"{r['load_cpu_s'] / r['fills'] * 1e6:,.0f} µs on the load thread); "
            f"peak RSS +{r['rss_growth_kb']:,} KB ({r['bytes_per_fill']:,.0f} B per fill)"
        )
    cpu = [r["cpu_s"] for r in rows if r["mode"] == "after"]
    if len(cpu) > 1:
        med = statistics.median(cpu)
        r0 = next(r for r in rows if r["mode"] == "after")
        print(
            f"  median CPU of {len(cpu)} 'after' runs: {med:.2f} s = "
            f"{r0['ticks'] / med:,.0f} ticks per CPU second, "
            f"{med / r0['fills'] * 1e6:,.0f} µs of CPU per fill"
        )
    after = [r for r in rows if r["mode"] == "after"]
    if after:
        ok = after[0]["ticks_per_s"] >= GOAL
        print(f"  goal >= {GOAL:,} ticks/s (after): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
