"""Feed-to-order latency on loopback: a trade on the exchange's websocket to the order request.

python bench/bench_feed_to_order.py [--orders N] [--batch-ms MS] [--analyzers] [--gap-ms MS]
    [--rate-limiter token_bucket|leaky_bucket|rolling_window] [--write-ahead intent_log|commit]
    [--commit-first] [--breakdown]

A paper run of the host (``Engine.run``, ``mode = "paper"``, DuckDB journal) with the
``cryptofeed`` venue as its data venue and the ``ccxt`` venue (``binanceusdm``) as its
execution venue, against the plugins' own local Binance USD-M servers (see
``tests/e2e/cex_local.py``): TLS websocket ``aggTrade`` stream in, HMAC-signed REST orders out.

What is measured: for every order, from the moment the feed server hands the trade that caused
it to its websocket (``time.perf_counter_ns()`` just before ``send_str``) to the moment the
exchange server's ``POST /fapi/v1/order`` handler is entered (``perf_counter_ns()``, before
the signature check). Both servers run in one child process, so both stamps come from the
same clock; the host runs alone in the parent process (no GIL shared with the servers). The
span covers TLS and websocket framing both ways of the loopback, cryptofeed's parsing, the
venue's tape and batch cut (``batch_ms``), the engine's candles and decision or exit check,
sizing, the journal's durable write of the order (paper mode: an fdatasync'd append to its
intent log, after which the order is handed to the venue before the step's DuckDB commit;
``--commit-first`` makes the create wait for that commit, as before hand-over;
``--write-ahead commit`` commits the order to DuckDB before sending instead of the append),
ccxt's request building and HMAC signing, and the HTTP request to the handler.

The script: one trade at the start of every second and one half a second later (1 s candles;
trade times are scripted, two hours in the past, so 1,000 decisions are 17 minutes of feed
time played in well under a minute). The strategy (``timeframe = "1s"``, ``long = close > 0``)
signals long at every 1 s candle close when flat: the first trade of a second closes the
previous candle and causes the **entry** order; ``maxhold`` (0.3 s) closes the position on the
trade half a second later: the **exit** order. The exchange fills MARKET orders in the create
response at the last trade's price. The loop is closed: the next trade is sent only after the
exchange has answered the previous order's create and its ``userTrades`` lookup (the plugin
reads each fill there) plus ``--gap-ms`` — so each figure is one trade's path through an idle
host, not queueing behind the previous one. The first ``--warmup`` cycles are not counted.

``--analyzers`` adds the preset's four analyzers on 1 s / 5 s / 15 s candles (their values are
computed at every close but not read by the rule): the decision path then includes them.

``--rate-limiter`` chooses the ccxt venue's ``rate_limiter``: ``token_bucket`` (the plugin's
default: the exchange's weights, refilled in real time while idle), or ccxt's own
``leaky_bucket`` (ccxt 4.5 refills it only while a request waits, ccxt/ccxt#25556: every create
after a fill lookup waits ~250 ms on Binance USD-M however long the host was idle) or
``rolling_window``. Nothing of ccxt is patched. Each figure comes with the time of the
journal's write-ahead of the order, which lies inside the measured span; the run ends with the
load average and the host process's CPU time (other work on a shared machine shows there).
``--breakdown`` also stamps, in the host, each order's way through it (measurement wrappers,
not in the headline runs): the engine's ``on_batch`` entered with the trade's batch, the
journal's write-ahead of the order begun and ended, the token bucket's wait for the create,
and the create's request written to the socket (the transport's ``write``). The host's and
the servers' ``perf_counter_ns`` are both ``CLOCK_MONOTONIC`` on Linux, one clock for the
machine, so each span splits into: feed (server's send to ``on_batch``), decision
(``on_batch`` to the write-ahead), write-ahead, to the wire (ccxt's request building and
signing, the limiter, the hand-over) and the wire (socket write to the exchange's handler).
The split is printed for all entries and for those above 10 ms, with the host's garbage
collection inside each span (``gc.callbacks``; a pause lies within the parts, not beside them)
and every collection of the run by generation.

Results: docs/performance.md, "Feed-to-order latency".
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SECOND_MS = 1000
MS = 1_000_000


# -- the servers (child process) -------------------------------------------------------------
def serve(conn: Any, folder: str, cycles: int, gap_ms: float, t0: int) -> None:
    """Run the feed and the exchange; play the script; send back the latencies."""
    from tests.e2e.cex_local import LocalUsdm, ScriptedFeed, Tape, Trade

    tape = Tape()
    exchange = LocalUsdm(tape, fill_mode="response").start()
    with ScriptedFeed(Path(folder), tape) as feed:
        conn.send((feed.wss_url, feed.http_url, str(feed.cert), exchange.url))
        price, qty = Decimal(60000), Decimal("0.01")
        gap = gap_ms / 1000.0

        def answered(n: int) -> Any:
            # The order's own fill read (``userTrades`` with ``orderId``): the account-wide
            # read of the start-up reconciliation does not close a cycle.
            return lambda: exchange.creates >= n and exchange.order_trades_served >= n

        script: list[tuple[Any, ...]] = [
            ("until", lambda: bool(exchange.streams), 30.0),  # ccxt.pro's user stream is up
            ("trade", Trade(t0, price, qty, True)),
            ("wait", gap),
            ("trade", Trade(t0 + 500, price, qty, False)),
            ("wait", gap),
        ]
        for i in range(1, cycles + 1):
            start = t0 + i * SECOND_MS
            script += [
                ("trade", Trade(start, price, qty, True)),  # closes candle i-1: entry
                ("until", answered(2 * i - 1), 30.0),
                ("wait", gap),
                ("trade", Trade(start + 500, price, qty, False)),  # maxhold: exit
                ("until", answered(2 * i), 30.0),
                ("wait", gap),
            ]
        script.append(("close",))
        feed.script(*script)
        if not feed.done.wait(3600):
            raise RuntimeError("the script did not finish within an hour")
        entries: list[int] = []
        exits: list[int] = []
        stamps: list[tuple[int, int, bool]] = []
        for c in exchange.creates_log:
            _, _, sent_ns = tape.sent[c.trades_sent - 1]
            (exits if c.reduce_only else entries).append(c.received_ns - sent_ns)
            stamps.append((sent_ns, c.received_ns, c.reduce_only))
        conn.send(
            {
                "entries": entries,
                "exits": exits,
                "stamps": stamps,
                "timeouts": tape.timeouts,
                "creates": exchange.creates,
                "distinct_ids": len({c.client_order_id for c in exchange.creates_log}),
                "bad_signatures": exchange.bad_signatures,
                "trades_sent": len(tape.sent),
            }
        )
        conn.recv()  # the host is done with the servers
    exchange.stop()


# -- the host (this process) -----------------------------------------------------------------
def config_text(
    urls: tuple[str, str, str, str],
    batch_ms: float,
    analyzers: bool,
    rate_limiter: str = "token_bucket",
) -> str:
    wss, http, cert, api = urls
    from tests.e2e.cex_local import KEY_ENV, SECRET_ENV

    extra = f'rate_limiter = "{rate_limiter}"\n'
    timeframes = '["1s"]'
    if analyzers:
        timeframes = '["1s", "5s", "15s"]'
        extra += """
[analyzers.regime]
plugin = "regime"
timeframe = "1s"
hurst_window = 30
mean_reversion_window = 30
[analyzers.profile]
plugin = "profile"
zone_timeframe = "1s"
window = "60s"
[analyzers.orderflow]
plugin = "orderflow"
timeframes = ["1s", "5s", "15s"]
[analyzers.micro]
plugin = "microstructure"
timeframe = "1s"
"""
    return f"""
mode = "paper"
timeframes = {timeframes}

[run]
journal = "journal.duckdb"

[[instruments]]
symbol = "BTCUSDT"
venue = "usdm"
data = "feed"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "10"
maker_fee = "0.0002"
taker_fee = "0.0005"

[venues.feed]
plugin = "cryptofeed"
exchange = "BINANCE_FUTURES"
symbols = ["BTCUSDT"]
batch_ms = {batch_ms}
ws_host = "{wss}"
rest_host = "{http}"
ca_file = "{cert}"
max_retries = 0

[venues.usdm]
plugin = "ccxt"
exchange = "binanceusdm"
market_type = "swap"
symbols = ["BTCUSDT"]
api_key = "env:{KEY_ENV}"
secret = "env:{SECRET_ENV}"
api_host = "{api}"
order_updates = "websocket"
{extra}
[exits.maxhold]
plugin = "maxhold"
max_hold_minutes = 0.005

[strategy]
timeframe = "1s"
max_notional = "100"
long = [{{ value = "close", op = ">", threshold = 0 }}]
"""


def time_order_writes(into: list[int]) -> None:
    """Time the journal's write-ahead of each new order (part of every measured span)."""
    from tradewind.journal.store import Journal

    record_order = Journal.record_order

    def timed(self: Journal, rec: Any, **kw: Any) -> None:
        began = time.perf_counter_ns()
        try:
            record_order(self, rec, **kw)
        finally:
            if kw.get("kind") == "submitted":
                into.append(time.perf_counter_ns() - began)

    Journal.record_order = timed  # type: ignore[method-assign]


def write_ahead_by_commit() -> None:
    """For comparison: the journal without its intent log (the order committed to DuckDB
    before it is sent, as before the intent log)."""
    from tradewind.journal.store import Journal

    init = Journal.__init__

    def without_intents(self: Journal, *a: Any, **kw: Any) -> None:
        init(self, *a, **kw)
        self._intents = None

    Journal.__init__ = without_intents  # type: ignore[method-assign]


def time_limiter_waits(into: list[tuple[float, float]]) -> None:
    """Record (weight, seconds waited) of every request the token bucket lets through."""
    from tradewind_venue_ccxt.rate_limit import TokenBucket

    acquire = TokenBucket.acquire

    async def timed(self: TokenBucket, cost: float = 1.0) -> float:
        waited = await acquire(self, cost)
        into.append((cost, waited))
        return waited

    TokenBucket.acquire = timed  # type: ignore[method-assign]


class Breakdown:
    """Host-side stamps of each order's way (``--breakdown``), in create order."""

    def __init__(self) -> None:
        self.batch_ns = 0  # the last on_batch entered
        #: per order: (on_batch entered, write-ahead begun, write-ahead ended)
        self.opened: list[tuple[int, int, int]] = []
        self.wire: list[int] = []  # the create's request written to the socket
        self.limiter: list[float] = []  # the create's wait in the token bucket (s)
        #: The host's garbage collections: (began, ended, generation), perf_counter_ns.
        self.gc_spans: list[tuple[int, int, int]] = []
        self._gc_began = 0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_began = time.perf_counter_ns()
        else:
            self.gc_spans.append((self._gc_began, time.perf_counter_ns(), info["generation"]))

    def gc_within(self, began: int, ended: int) -> float:
        """Milliseconds the host spent collecting garbage between ``began`` and ``ended``."""
        return (
            sum(max(0, min(e, ended) - max(b, began)) for b, e, _ in self.gc_spans if e > began)
            / 1e6
        )

    def install(self) -> None:
        import asyncio.selector_events
        import gc

        gc.callbacks.append(self._on_gc)

        from tradewind.journal.store import Journal
        from tradewind.trading.engine import Engine
        from tradewind_venue_ccxt.rate_limit import TokenBucket

        on_batch = Engine.on_batch

        async def stamped_batch(engine: Any, batch: Any) -> None:
            self.batch_ns = time.perf_counter_ns()
            await on_batch(engine, batch)

        Engine.on_batch = stamped_batch  # type: ignore[method-assign]
        record_order = Journal.record_order

        def stamped_order(journal: Journal, rec: Any, **kw: Any) -> None:
            began = time.perf_counter_ns()
            record_order(journal, rec, **kw)
            if kw.get("kind") == "submitted":
                self.opened.append((self.batch_ns, began, time.perf_counter_ns()))

        Journal.record_order = stamped_order  # type: ignore[method-assign]
        acquire = TokenBucket.acquire

        async def stamped_acquire(bucket: TokenBucket, cost: float = 1.0) -> float:
            waited = await acquire(bucket, cost)
            if cost == 4:  # a create's weight on Binance USD-M
                self.limiter.append(waited)
            return waited

        TokenBucket.acquire = stamped_acquire  # type: ignore[method-assign]
        transport = asyncio.selector_events._SelectorSocketTransport
        write, writelines = transport.write, transport.writelines

        def note(data: bytes) -> None:
            if data.startswith(b"POST") and b"/fapi/v1/order" in data[:200]:
                self.wire.append(time.perf_counter_ns())

        def stamped_write(t: Any, data: Any) -> None:
            note(bytes(data[:200]))
            write(t, data)

        def stamped_writelines(t: Any, lines: Any) -> None:
            lines = list(lines)
            if lines:
                note(bytes(lines[0][:200]))
            writelines(t, lines)

        transport.write = stamped_write  # type: ignore[method-assign]
        transport.writelines = stamped_writelines  # type: ignore[method-assign]

    def report(self, stamps: list[tuple[int, int, bool]], skip: int) -> None:
        n = min(len(stamps), len(self.opened), len(self.wire), len(self.limiter))
        if n != len(stamps):
            print(
                f"breakdown: {len(stamps)} creates, {len(self.opened)} write-aheads, "
                f"{len(self.wire)} socket writes, {len(self.limiter)} limiter waits: "
                f"matched by order up to {n}"
            )
        names = (
            "feed",
            "decision",
            "write-ahead",
            "to the wire",
            "wire",
            "limiter wait",
            "GC pause",
        )
        rows: list[tuple[bool, int, list[float]]] = []
        for i in range(2 * skip, n):
            sent, received, reduce_only = stamps[i]
            batch, began, ended = self.opened[i]
            wire = self.wire[i]
            parts = [batch - sent, began - batch, ended - began, wire - ended, received - wire]
            rows.append(
                (
                    reduce_only,
                    received - sent,
                    [p / 1e6 for p in parts]
                    + [self.limiter[i] * 1000, self.gc_within(sent, received)],
                )
            )
        for label, chosen in (
            ("entries", [r for r in rows if not r[0]]),
            ("entries above 10 ms", [r for r in rows if not r[0] and r[1] > 10 * MS]),
            ("exits above 10 ms", [r for r in rows if r[0] and r[1] > 10 * MS]),
        ):
            if not chosen:
                print(f"breakdown, {label}: none")
                continue
            print(f"breakdown, {label} (n={len(chosen)}), median / max ms:")
            for k, name in enumerate(names):
                vals = [r[2][k] for r in chosen]
                print(f"  {name:<13} {statistics.median(vals):8.2f} / {max(vals):8.2f}")
            largest = collections.Counter(
                names[max(range(5), key=lambda k, r=r: r[2][k])] for r in chosen
            )
            print("  largest part: " + ", ".join(f"{k} {v}" for k, v in largest.most_common()))
        by_gen = collections.Counter(g for _, _, g in self.gc_spans)
        pauses = sorted((e - b) / 1e6 for b, e, _ in self.gc_spans)
        if pauses:
            print(
                f"breakdown, the host's garbage collections: {len(pauses)} "
                f"(by generation {dict(sorted(by_gen.items()))}), median / max "
                f"{statistics.median(pauses):.2f} / {pauses[-1]:.2f} ms"
            )


def run_host(path: Path, commit_first: bool = False) -> tuple[BaseException | None, Any]:
    import anyio
    from tradewind.config import load_config
    from tradewind.trading.engine import Engine

    # The run's account is seeded from the exchange's wallet (10,000 USDT) at start.
    engine = Engine(load_config(path))
    if commit_first:
        engine.hand_over_turns = 0  # the step's DuckDB commit before the create's task runs

    async def go() -> BaseException | None:
        try:
            await engine.run()
        except Exception as exc:  # the feed's end (max_retries = 0), checked by the caller
            return exc
        finally:
            with anyio.CancelScope(shield=True):
                for venue in engine.venues.values():
                    await venue.close()
        return None

    return anyio.run(go), engine


def percentile(values: list[int], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation, in milliseconds."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return (s[lo] + (s[hi] - s[lo]) * (pos - lo)) / 1e6


def describe(name: str, values: list[int]) -> str:
    return (
        f"{name:<6} n={len(values):>5}  p50 {percentile(values, 0.50):7.2f} ms  "
        f"p90 {percentile(values, 0.90):7.2f} ms  p99 {percentile(values, 0.99):7.2f} ms  "
        f"max {max(values) / 1e6:7.2f} ms  mean {statistics.fmean(values) / 1e6:7.2f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1000, help="entry orders measured (default 1000)")
    ap.add_argument("--warmup", type=int, default=20, help="cycles not counted (default 20)")
    ap.add_argument("--batch-ms", type=float, default=1.0, help="cryptofeed batch_ms (default 1)")
    ap.add_argument("--gap-ms", type=float, default=300.0, help="idle time between trades")
    ap.add_argument("--analyzers", action="store_true", help="add the preset's four analyzers")
    ap.add_argument(
        "--rate-limiter",
        choices=["token_bucket", "leaky_bucket", "rolling_window"],
        default="token_bucket",
        help="the ccxt venue's rate_limiter option (default: the plugin's default, token_bucket)",
    )
    ap.add_argument(
        "--write-ahead",
        choices=["intent_log", "commit"],
        default="intent_log",
        help="how the order is made durable before it is sent (default: as shipped, the "
        "journal's intent log; commit: a DuckDB commit, for comparison)",
    )
    ap.add_argument(
        "--commit-first",
        action="store_true",
        help="the order's create waits for its step's DuckDB commit, as before hand-over "
        "(the engine's hand_over_turns = 0); default: as shipped, an order written ahead "
        "to the intent log is handed to the venue before the step commits",
    )
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="stamp each order's way through the host and split the spans (measurement "
        "wrappers; see above)",
    )
    args = ap.parse_args()
    breakdown = Breakdown() if args.breakdown else None
    if breakdown is not None:
        breakdown.install()
    if args.write_ahead == "commit":
        write_ahead_by_commit()
    writes: list[int] = []
    time_order_writes(writes)
    waits: list[tuple[float, float]] = []
    time_limiter_waits(waits)

    from tests.e2e.cex_local import API_KEY, KEY_ENV, SECRET, SECRET_ENV

    os.environ[KEY_ENV] = API_KEY
    os.environ[SECRET_ENV] = SECRET
    cycles = args.warmup + args.orders
    now_ms = time.time_ns() // MS
    t0 = (now_ms // 60_000 - 120) * 60_000  # a minute boundary two hours ago
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="tw-bench-f2o-") as tmp:
        folder = Path(tmp)
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=serve, args=(child, str(folder), cycles, args.gap_ms, t0), daemon=True
        )
        proc.start()
        try:
            urls = parent.recv()
            path = folder / "bench.toml"
            text = config_text(urls, args.batch_ms, args.analyzers, args.rate_limiter)
            path.write_text(text, encoding="utf-8")
            load_before = os.getloadavg()
            began = time.perf_counter()
            cpu_began = time.process_time()
            error, engine = run_host(path, args.commit_first)
            wall = time.perf_counter() - began
            cpu = time.process_time() - cpu_began
            load_after = os.getloadavg()
            result = parent.recv()
            parent.send("stop")
        finally:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    if error is None or "no connection after 0 retries" not in repr(error):
        print(f"unexpected end of the run: {error!r}", file=sys.stderr)
        return 1
    if (
        result["timeouts"]
        or result["creates"] != 2 * cycles
        or result["creates"] != result["distinct_ids"]
    ):
        print(f"the run did not keep up with the script: {result}", file=sys.stderr)
        return 1
    skip = args.warmup
    entries = result["entries"][skip:]
    exits = result["exits"][skip:]
    print(
        f"feed-to-order latency, loopback, paper run (durable journal in "
        f"{tempfile.gettempdir()}), batch_ms "
        f"{args.batch_ms:g}, analyzers {'on' if args.analyzers else 'off'}, "
        f"rate_limiter = {args.rate_limiter} (nothing patched), write-ahead {args.write_ahead}"
        f", {'commit first' if args.commit_first else 'hand-over'}"
    )
    print(
        f"{result['creates']} orders ({result['distinct_ids']} distinct client ids, "
        f"{result['bad_signatures']} bad signatures), {result['trades_sent']} trades, "
        f"{engine.decision_points} decisions, wall {wall:.1f} s; first {skip} cycles not counted"
    )
    print(describe("entry", entries))
    print(describe("exit", exits))
    print(describe("all", entries + exits))
    print(describe("journal", writes[2 * skip :]) + "  (the order's write-ahead, inside each span)")
    calls_handed = getattr(engine, "handed_over", None)
    if calls_handed is not None:
        print(f"orders handed over before their step's commit: {calls_handed}")
    limiter = getattr(engine.venues.get("usdm"), "limiter", None)
    if limiter is not None:
        print(
            f"token bucket: {limiter.granted} requests, {limiter.waited} waited "
            f"({limiter.waited_s * 1000:.0f} ms in all), weight {limiter.spent:g}"
        )
        for weight in sorted({c for c, _ in waits}):
            some = [w for c, w in waits if c == weight]
            late = [w for w in some if w > 0]
            print(
                f"  weight {weight:g}: {len(some)} requests, {len(late)} waited"
                + (
                    f" (median {statistics.median(late) * 1000:.1f} ms, "
                    f"max {max(late) * 1000:.1f} ms)"
                    if late
                    else ""
                )
            )
    if breakdown is not None:
        breakdown.report(result["stamps"], skip)
    print(
        f"host process CPU {cpu:.1f} s over {wall:.1f} s wall ({100 * cpu / wall:.0f} %); "
        f"load average {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end "
        f"(1-minute), {load_after[2]:.2f} (15-minute) at the end"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
