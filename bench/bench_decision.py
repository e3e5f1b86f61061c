"""In-process decision latency: from the tick batch that closes a candle to the order request
leaving the order manager (the venue's submit_order being called), p50 and p99.

    python bench/bench_decision.py [--decisions 10000] [--path paper|backtest] [--workdir W]

The engine runs the full tick path with the four analyzer plugins (orderflow, regime, profile,
microstructure), the strategy, sizing, the kill switch, two filters (existing, exposure), the
trailing stop and a 30-second max hold; the strategy's rule always passes and the max hold
flattens each position within its minute, so every candle close sends an order. Each
decision is one 1m candle: a batch of trades inside the minute, then a one-trade batch in the
next minute, which closes the candle; the clock starts when that batch enters
Engine.on_batch. Two clocks: wall time (perf_counter), and the thread's CPU time
(CLOCK_THREAD_CPUTIME_ID), which leaves out the time the process waits for a CPU on a loaded
machine (preemption), so it is the path's own cost. The strategy's rule reads only the close,
so the four analyzers take the closed candles after the order has left (AnalyzerValues.feed:
an analyzer is fed when first read); a rule reading an analyzer has it fed before it decides
(``--read-all`` charts one output of each, read at every close before the decision).

Two paths (``--path``). **paper** (the default; issue 17's "paper/live path, block of one"):
the engine of a paper run over a live feed, run whole by ``Engine.run`` — mode ``paper``, a
data venue that declares ``data`` but not ``replay`` (``LiveFeed``, the benchmark's own), so
``_merged`` is false and there are no blocks: each close is reached through ``_walk`` and the
trades go through ``_on_ticks`` one feed batch at a time, one trade per batch as a trade
feed's messages come at this rate. Its journal is a paper run's by default: durable, group
commit, the step log (each step's rows appended and ``fdatasync``ed at the step's end, loaded
into DuckDB in batches on a thread of its own); the simulated venue's order is sent inline,
before the step's commit, so the commit is not in the span (an order to a real venue is
written ahead to the intent log first: not measured here). The journal is an inline
subscriber of the bus: the decision's SignalEvent is staged inside the span. Venue calls,
reconciliation on the wall clock and the notifier host run as in a paper run. **backtest**
(the figure of earlier sessions): a backtest's engine over replayed data, stepped by the
benchmark — every close reached through ``Engine._reach``, the trades between closes through
blocks (tradewind.blocks) and the event scheduler, a backtest journal (rows batched, written
at the end). The decision itself takes the per-candle path in both (no block is open at the
closing batch).

Garbage is collected between steps as the engine's paper and live sessions do
(tradewind.trading.collector; ``--gc cpython`` for CPython's own schedule, ``--gc ab``, with
``--path backtest``, for both in alternating blocks of one run). ``--sections`` times each
part of the path per decision and prints the slowest 1 % against the median
(bench/_sections.py); ``--by-close`` gives the CPU p50/p99 per kind of close (1m, 5m, 15m)
and each kind's share of the slowest 1 %; ``--dump F`` writes each decision's CPU time and
kind of close to ``F`` (.npy), to find whether the same decisions are slow in two runs of the
same seed. ``--workdir W`` holds the config and the journal (a new temporary folder by
default).
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.lowlevel
import attrs
import numpy as np
from _sections import Sections
from tradewind.config import load_config
from tradewind.model import TickBatch
from tradewind.trading.engine import Engine
from tradewind.venues.replay import ReplayConfig

CONFIG = """
mode = "{mode}"
timeframes = ["1m", "5m", "15m"]
[run]
journal = "{journal}"
{panes}
[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "{data}"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "5"
maker_fee = "0.0002"
taker_fee = "0.0004"
[venues.sim]
starting_balance = "1000000"
latency_ms = 0
[venues.{data}]
plugin = "replay"
path = "unused.csv"
[analyzers.orderflow]
plugin = "orderflow"
[analyzers.regime]
plugin = "regime"
timeframe = "1m"
[analyzers.profile]
plugin = "profile"
[analyzers.micro]
plugin = "microstructure"
[strategy]
timeframe = "1m"
long = [{{ value = "close", op = ">", threshold = 0 }}]
risk_pct = 0.00001
[filters.existing]
[filters.exposure]
max_usd = "100000"
[exits.trailing]
trail_pct = 0.005
[exits.maxhold]
max_hold_minutes = 0.5
[notifiers.log]
min_severity = "critical"
"""


#: ``--gc ab``: decisions per block of one schedule.
AB_BLOCK = 100
#: The collector's safety-net threshold (tradewind.trading.collector.SAFETY_NET), repeated
#: here so that ``--gc cpython`` runs against cores from before the collector existed.
SAFETY_NET = 100_000

#: ``--read-all``: one output of each analyzer charted, so read at every close before the
#: decision (what a strategy reading all four analyzers costs).
PANES = 'panes = ["orderflow.imbalance_1m", "regime.adx", "profile.poc", "micro.zscore"]'


def install_sections(engine: Engine, sections: Sections) -> list[int]:
    """Wrap the decision path's parts in ``sections`` (bench/_sections.py); returns the list
    the candle closes of each span are appended to (how many candles closed)."""
    import tradewind.trading.engine as engine_module

    closed: list[int] = []
    stepping = "engine stepping"
    for attr in ("on_batch", "_walk", "_on_boundary", "_decide", "_enter", "_publish_pending"):
        sections.patch(engine, attr, stepping)
    sections.patch(engine, "_send", "engine _send (Order)")
    sections.patch(engine.orders, "open", "orders.open")
    sections.patch(engine.orders, "send", "orders.send (to submit_order)")
    sections.patch(engine.strategy, "decide", "strategy")
    sections.patch(engine.portfolio, "equity", "portfolio.equity")
    sections.patch(engine_module, "size_for", "sizing")
    sections.patch(engine.bus, "publish", "bus.publish")
    # The engine's own steps, one by one.
    for attr, label in (
        ("gap_starts", "engine: gap_starts"),
        ("order_intent", "engine: order_intent"),
        ("short_refused", "engine: short_refused"),
        ("SignalEvent", "engine: SignalEvent()"),
        ("Order", "engine: Order()"),
    ):
        sections.patch(engine_module, attr, label)
    sections.patch(engine_module.attrs, "evolve", "engine: attrs.evolve")
    sections.patch(engine._equity, "record", "engine: equity curve record")
    sections.patch(engine.orders, "poll", "engine: orders.poll")
    sections.patch(engine, "_maybe_reconcile", "engine: _maybe_reconcile")
    sections.patch(engine.control, "has_pending", "engine: control.has_pending")
    sections.patch(engine.orders, "next_client_order_id", "engine: next_client_order_id")
    if engine.orders.journal is not None:  # the order's journal step, inside orders.open
        sections.patch(engine.orders.journal, "record_order", "journal.record_order")
    sections.patch(engine.portfolio, "order_opened", "portfolio.order_opened")
    for st in engine.state.values():
        # On the class (its instances are frozen): every instrument's calls.
        inst = type(st.instrument)
        for attr in ("round_price", "round_size"):
            if not hasattr(getattr(inst, attr), "__wrapped__"):
                sections.patch(inst, attr, f"Instrument.{attr}")
    for flt in engine.filters:
        sections.patch(flt, "check", f"filter {getattr(flt, 'name', type(flt).__name__)}")
    for st in engine.state.values():
        sections.patch(st.validator, "validate", "validator")
        advance = sections.wrap("candles advance", st.aggregator.advance)

        def counted(t: int, _advance=advance):  # type: ignore[no-untyped-def]
            out = _advance(t)
            if sections.active:
                closed.append(len(out))
            return out

        st.aggregator.advance = counted
        sections.patch(st.values, "get", "analyzer values lookup")
        for name, analyzer in st.analyzers:
            sections.patch(analyzer, "on_candle", f"{name} on_candle")
            sections.patch(analyzer, "values", f"{name} values()")
    return closed


def report_collections(sections: Sections) -> None:
    """How many collections of each generation the whole run had, and what they took."""
    for generation in (0, 1, 2):
        took = sorted(ns / 1000 for g, ns in sections.collections if g == generation)
        if took:
            print(
                f"  gen {generation} collections over the run: {len(took)}, median "
                f"{statistics.median(took):,.1f} µs, max {took[-1]:,.1f} µs"
            )


def report_sections(
    wall: list[int], cpu: list[int], spans: list[dict[str, int]], closes: list[int]
) -> None:
    """The slowest 1 % of spans against the middle ones (45th–55th percentile), per section;
    spans that waited for a CPU (wall time 5 µs or more above CPU time) left out."""
    kept = [i for i in range(len(cpu)) if wall[i] - cpu[i] < 5_000]
    print(
        f"\nsections: {len(cpu) - len(kept)} of {len(cpu)} spans waited for a CPU (left out); "
        f"GC ran in {sum(1 for s in spans if any(k.startswith('gc ') for k in s))} spans"
    )
    order = sorted(kept, key=cpu.__getitem__)
    n = len(order)
    groups = {
        "median (p45-p55)": order[int(n * 0.45) : int(n * 0.55)],
        "slowest 1 %": order[-max(1, n // 100) :],
    }
    names = sorted(
        {k for s in spans for k in s},
        key=lambda k: (
            -statistics.fmean(s.get(k, 0) for s in (spans[i] for i in groups["slowest 1 %"]))
        ),
    )
    print("per section, mean µs per span (perf_counter; wrappers add ~0.3 µs per call)")
    print(f"  {'section':34s} " + " ".join(f"{g:>18s}" for g in groups))
    for name in names:
        cells = [
            statistics.fmean(spans[i].get(name, 0) for i in ix) / 1000 for ix in groups.values()
        ]
        print(f"  {name:34s} " + " ".join(f"{c:18.1f}" for c in cells))
    cells = [statistics.fmean(cpu[i] for i in ix) / 1000 for ix in groups.values()]
    print(f"  {'span (CPU)':34s} " + " ".join(f"{c:18.1f}" for c in cells))
    for label, ix in groups.items():
        kinds = statistics.fmean(closes[i] for i in ix)
        gcs = sum(1 for i in ix if any(k.startswith("gc ") for k in spans[i]))
        print(f"  {label}: {len(ix)} spans, mean candles closed {kinds:.2f}, spans with a GC {gcs}")


MINUTE = 60_000_000_000
#: The tape's first minute.
T0 = 1_700_000_000 * 1_000_000_000 // MINUTE * MINUTE


def tape(decisions: int, per_minute: int, key: str) -> Iterator[tuple[int, TickBatch, TickBatch]]:
    """The seeded tape, minute by minute: ``(k, body, closer)`` — ``per_minute`` trades inside
    minute ``k``, then the one trade at the start of minute ``k + 1`` that closes its candle.
    Both paths read the same trades."""
    rng = np.random.default_rng(1)
    price = 50_000.0
    for k in range(decisions + 1):
        n = per_minute
        ts = T0 + k * MINUTE + np.sort(rng.integers(1, MINUTE, n))
        prices = np.round(price * np.exp(np.cumsum(rng.normal(0, 3e-4, n))), 1)
        price = float(prices[-1])
        body = TickBatch.from_arrays(
            key,
            ts,
            prices,
            rng.lognormal(-3, 1, n) + 0.001,
            np.where(rng.random(n) < 0.5, 1, -1),
            np.arange(n) + k * (n + 1),
        )
        closer = TickBatch.from_arrays(
            key, [T0 + (k + 1) * MINUTE], [price], [0.01], [1], [k * (n + 1) + n]
        )
        yield k, body, closer


class Recorder:
    """The spans' clocks and what the reports need, shared by the two paths."""

    def __init__(self, sections: Sections | None, kinds: list[int] | None, gc_mode: str) -> None:
        self.sections = sections
        self.kinds = kinds
        self.gc_mode = gc_mode
        self.stamps: list[int] = []
        self.cpu_stamps: list[int] = []
        self.taken: list[dict[str, int]] = []
        self.spans: list[dict[str, int]] = []
        self.closes: list[int] = []
        self.closed: list[int] = []
        self.latencies: list[int] = []
        self.cpu: list[int] = []
        #: ``--gc ab``: blocks of AB_BLOCK decisions alternate between the two schedules, the
        #: figures of the CPython blocks going to ``other`` (printed apart), so both see the
        #: same machine load.
        self.other: tuple[list[int], list[int]] = ([], [])
        #: Spans in which the feed's task made a batch (the paper path).
        self.feed_turns = 0

    def time_submit(self, venue: Any) -> None:
        """Stamp both clocks as ``venue.submit_order`` is called (the span's end)."""
        submit = venue.submit_order
        sections = self.sections

        async def timed_submit(order):  # type: ignore[no-untyped-def]
            self.stamps.append(time.perf_counter_ns())
            self.cpu_stamps.append(time.thread_time_ns())
            if sections is not None and sections.active:
                self.taken.append(sections.take())
            return await submit(order)

        venue.submit_order = timed_submit

    def cpython_block(self, k: int) -> bool:
        return self.gc_mode == "ab" and (k // AB_BLOCK) % 2 == 1

    async def closing(self, k: int, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` (the closing batch of minute ``k``) as the timed span."""
        sections = self.sections
        before = len(self.stamps)
        first_close = len(self.closed)
        if sections is not None:
            sections.start()
        cpu_start = time.thread_time_ns()
        start = time.perf_counter_ns()
        await step()
        if k > 0 and len(self.stamps) > before and self.cpython_block(k):
            self.other[0].append(self.stamps[before] - start)
            self.other[1].append(self.cpu_stamps[before] - cpu_start)
        elif k > 0 and len(self.stamps) > before:
            self.latencies.append(self.stamps[before] - start)
            self.cpu.append(self.cpu_stamps[before] - cpu_start)
            if self.kinds is not None:  # the longest timeframe whose candle this batch closed
                t_close = T0 + (k + 1) * MINUTE
                self.kinds.append(next(m for m in (15, 5, 1) if t_close % (m * MINUTE) == 0))
            if sections is not None:
                self.spans.append(self.taken[-1])
                self.closes.append(sum(self.closed[first_close:]))
        if sections is not None:
            sections.active = False

    def finish(self) -> tuple[list[int], list[int]]:
        if self.other[0]:
            print(f"--gc ab: {len(self.other[0]):,} decisions with CPython's schedule (odd blocks)")
            print_latencies(*self.other)
            print(
                f"--gc ab: {len(self.latencies):,} decisions collected between steps (even blocks)"
            )
        if self.sections is not None:
            report_sections(self.latencies, self.cpu, self.spans, self.closes)
            report_collections(self.sections)
        return self.latencies, self.cpu


def write_config(workdir: Path, path: str, read_all: bool) -> Path:
    text = CONFIG.format(
        mode="backtest" if path == "backtest" else "paper",
        data="replay" if path == "backtest" else "feed",
        journal=(workdir / "j.duckdb").as_posix(),
        panes=PANES if read_all else "",
    )
    (workdir / "c.toml").write_text(text)
    return workdir / "c.toml"


async def run_backtest(
    workdir: Path,
    decisions: int,
    per_minute: int,
    read_all: bool = False,
    sections: Sections | None = None,
    gc_mode: str = "between-steps",
    kinds: list[int] | None = None,
) -> tuple[list[int], list[int]]:
    """``--path backtest``: a backtest's engine over replayed data, stepped by the benchmark."""
    tmp = workdir
    rec = Recorder(sections, kinds, gc_mode)
    config = write_config(tmp, "backtest", read_all)
    engine = Engine(load_config(config), run_id="bench")
    sim = engine.venues["sim"]
    rec.time_submit(sim)
    key = next(iter(engine.instruments))
    from tradewind.journal.store import Journal
    from tradewind.trading.reconcile import prepare_session

    engine.journal = Journal(tmp / "j.duckdb", "bench")
    engine.journal.start("backtest", str(config), T0)
    if sections is not None:  # the bus task's writes, should one run inside a span
        sections.patch(engine.journal, "record", "journal.record (bus task)")
    engine.bus.subscribe("journal", engine.journal.record, lossless=True)
    await prepare_session(engine)
    if sections is not None:
        rec.closed = install_sections(engine, sections)
    collector = None
    if gc_mode != "cpython":
        # Imported here: `--gc cpython` runs against cores from before the collector existed.
        from tradewind.trading.collector import StepCollector

        collector = StepCollector()
    if collector is not None:
        collector.start()  # as the engine's paper and live sessions do once started
    async with engine.bus:
        for k, body, closer in tape(decisions, per_minute, key):
            # A feed awaits its next message between batches, and the bus's tasks (the
            # journal's) run then; without this the loop never yields, the journal's queue
            # fills, and its drain of ~4,000 events lands inside one decision's span.
            await anyio.lowlevel.checkpoint()
            cpython_block = rec.cpython_block(k)
            if collector is not None and gc_mode == "ab" and k % AB_BLOCK == 0:
                # The collector stays started (start-up frozen in both); only the schedule of
                # the young and middle collections changes between blocks.
                assert collector.thresholds is not None
                gc.set_threshold(*collector.thresholds if cpython_block else (SAFETY_NET, 10, 10))
            if collector is not None and not cpython_block:
                collector.between_steps()  # what the engine's feed loop does after a batch
            await engine.on_batch(body)
            await rec.closing(k, functools.partial(engine.on_batch, closer))
        await engine.bus.close()
    if collector is not None:
        collector.stop()
    engine.journal.close()
    return rec.finish()


class LiveFeed:
    """A data venue as a live feed is one: it declares ``data``, not ``replay``, so the engine
    steps it as it steps a paper run over a feed (``_merged`` false: each close reached through
    ``_walk``, no blocks, the trades through ``_on_ticks`` one feed batch at a time). Its
    stream is the benchmark's seeded tape, one trade per batch (a trade feed's message: at
    ~50 trades a minute no two trades share a feed's batching window)."""

    name: ClassVar[str] = "bench-live-feed"
    config_class: ClassVar[type] = ReplayConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"data"})

    def __init__(self, config: ReplayConfig, instance: str) -> None:
        self.config = config
        self.instance = instance
        self.batches: Iterator[TickBatch] = iter(())
        #: Batches handed to the engine so far (a feed's turn inside a span would show here).
        self.sent = 0

    async def connect(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release."""

    async def instruments(self) -> list[Any]:
        return []

    def add_instruments(self, instruments: Any) -> None:
        """The engine's instrument (the tape's)."""

    def set_sink(self, sink: Any) -> None:
        """No events of its own."""

    async def stream_trades(self, instruments: Any) -> AsyncIterator[TickBatch]:
        for batch in self.batches:
            self.sent += 1
            yield batch


def one_by_one(batch: TickBatch) -> Iterator[TickBatch]:
    """``batch`` as one-trade batches, as a trade feed hands its messages over."""
    for i in range(len(batch)):
        yield batch.slice(i, i + 1)


async def run_paper(
    workdir: Path,
    decisions: int,
    per_minute: int,
    read_all: bool = False,
    sections: Sections | None = None,
    gc_mode: str = "between-steps",
    kinds: list[int] | None = None,
) -> tuple[list[int], list[int]]:
    """``--path paper`` (the default): the engine of a paper run over a live feed, run whole
    (``Engine.run``: its journal, session, venue calls, feed task and collector as a paper run
    has them); the benchmark only wraps ``on_batch`` to time each closing batch."""
    rec = Recorder(sections, kinds, gc_mode)
    config = load_config(write_config(workdir, "paper", read_all))
    # The feed venue is the benchmark's own (config keys of the replay venue's, unused).
    config.host.registry["venues"].add(LiveFeed)
    venues = config.plugins["venues"]
    venues["feed"] = attrs.evolve(venues["feed"], plugin=LiveFeed.name)  # type: ignore[index]
    engine = Engine(config, run_id="bench")
    assert not engine._merged and engine._block_ticks is None and engine._scheduler is None
    sim = engine.venues["sim"]
    rec.time_submit(sim)
    feed = engine.venues["feed"]
    key = next(iter(engine.instruments))
    closers: dict[int, tuple[int, TickBatch]] = {}

    def batches() -> Iterator[TickBatch]:
        for k, body, closer in tape(decisions, per_minute, key):
            yield from one_by_one(body)
            closers[id(closer)] = (k, closer)  # held until taken: its id is not reused
            yield closer

    feed.batches = batches()
    if gc_mode == "cpython":
        engine.collector = None  # CPython's schedule (the engine holds start-up frozen then)
    inner = engine.on_batch
    installed = False

    async def on_batch(batch: TickBatch) -> None:
        nonlocal inner, installed
        if not installed:  # the journal and the order manager's are set by now
            installed = True
            if sections is not None:
                del engine.on_batch  # the engine's own method, wrapped by the sections
                rec.closed = install_sections(engine, sections)
                inner = engine.on_batch
                engine.on_batch = on_batch  # type: ignore[method-assign]
        mark = closers.pop(id(batch), None)
        if mark is None:
            await inner(batch)
            return
        k = mark[0]
        sent = feed.sent
        await rec.closing(k, functools.partial(inner, batch))
        if feed.sent != sent:
            rec.feed_turns += 1

    engine.on_batch = on_batch  # type: ignore[method-assign]
    await engine.run()
    if rec.feed_turns:
        print(f"  the feed's task ran inside {rec.feed_turns:,} spans")
    return rec.finish()


def report_by_close(cpu: list[int], kinds: list[int]) -> None:
    """CPU p50/p99 per kind of close (1m only, 5m, 15m: the longest timeframe closing), and
    each kind's share of all decisions against its share of the slowest 1 %."""
    slow = sorted(range(len(cpu)), key=cpu.__getitem__)[-max(1, len(cpu) // 100) :]
    print("by close (CPU time; a 5m close closes the 1m candle too, a 15m close all three)")
    for m in (1, 5, 15):
        us = sorted(c / 1000 for c, kind in zip(cpu, kinds, strict=True) if kind == m)
        if len(us) < 2:
            continue
        p = statistics.quantiles(us, n=100, method="inclusive")
        share = len(us) / len(cpu)
        in_slow = sum(1 for i in slow if kinds[i] == m) / len(slow)
        print(
            f"  {m:2d}m closes: {len(us):6,d}  p50 {p[49]:7,.1f} µs  p90 {p[89]:7,.1f} µs  "
            f"p99 {p[98]:7,.1f} µs   share {share:6.1%} of all, {in_slow:6.1%} of the slowest 1 %"
        )


def print_latencies(lat: list[int], cpu: list[int]) -> None:
    """p50, p90, p99, p99.9 and max of wall and CPU time, in µs.

    Quantiles by the inclusive method (interpolated between the measured spans): the default,
    exclusive, extrapolates past the ends, so with few decisions it printed a p99.9 above the
    max."""
    for label, xs in (("wall", lat), ("CPU ", cpu)):
        us = sorted(x / 1000 for x in xs)
        p = statistics.quantiles(us, n=1000, method="inclusive")
        print(
            f"  {label}  p50 {p[499]:,.1f} µs   p90 {p[899]:,.1f} µs   p99 {p[989]:,.1f} µs   "
            f"p99.9 {p[998]:,.1f} µs   max {us[-1]:,.1f} µs   (target p99 < 200 µs)"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--path",
        choices=("paper", "backtest"),
        default="paper",
        help="paper: the engine of a paper run over a live feed (closes through _walk, one "
        "feed batch per trade); backtest: a backtest's engine over replayed data (closes "
        "through _reach, blocks and the event scheduler)",
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        help="where the config and journal go (a new temporary folder by default)",
    )
    ap.add_argument("--decisions", type=int, default=10_000)
    ap.add_argument("--per-minute", type=int, default=50)
    ap.add_argument(
        "--read-all",
        action="store_true",
        help="read an output of each of the four analyzers at every close before deciding",
    )
    ap.add_argument(
        "--sections",
        action="store_true",
        help="time each part of the path per decision; the slowest 1 %% against the median",
    )
    ap.add_argument(
        "--gc",
        choices=("between-steps", "cpython", "ab"),
        default="between-steps",
        help="garbage collection between steps as paper and live run it (StepCollector), "
        "CPython's own schedule (collections land wherever the 700th object is allocated), "
        f"or ab: blocks of {AB_BLOCK} decisions alternating between the two in one run",
    )
    ap.add_argument(
        "--by-close",
        action="store_true",
        help="CPU p50/p99 per kind of close (1m, 5m, 15m) and their shares of the slowest 1 %%",
    )
    ap.add_argument(
        "--dump",
        type=Path,
        help="write each decision's CPU time (ns) and kind of close (1, 5, 15) to this .npy",
    )
    args = ap.parse_args()
    if args.gc == "ab" and args.path != "backtest":
        ap.error("--gc ab runs with --path backtest")
    if args.gc == "ab" and args.decisions < 4 * AB_BLOCK:
        ap.error(f"--gc ab needs --decisions of at least {4 * AB_BLOCK} (blocks of {AB_BLOCK})")
    workdir = args.workdir or Path(tempfile.mkdtemp())
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob("j.duckdb*"):  # a journal of an earlier run here
        old.unlink()
    sections = Sections() if args.sections else None
    kinds: list[int] = []
    lat, cpu = anyio.run(
        run_paper if args.path == "paper" else run_backtest,
        workdir,
        args.decisions,
        args.per_minute,
        args.read_all,
        sections,
        args.gc,
        kinds,
    )
    print(
        f"decision latency over {len(lat):,} decisions, {args.path} path "
        "(candle-closing batch → submit_order)"
    )
    print_latencies(lat, cpu)
    if args.by_close and args.gc != "ab":
        report_by_close(cpu, kinds)
    if args.dump is not None and args.gc != "ab":
        np.save(args.dump, np.array([cpu, kinds], dtype=np.int64))
    loadavg = Path("/proc/loadavg")
    if loadavg.exists():
        load = " ".join(loadavg.read_text().split()[:3])
        print(f"  load average (1/5/15 min) at the end: {load}")


if __name__ == "__main__":
    main()
