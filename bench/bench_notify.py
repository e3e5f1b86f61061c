"""Notifications: throughput through the outbox, and decision latency beside a stuck notifier.

    python bench/bench_notify.py [--messages 2000] [--decisions 2000]

1. **Outbox throughput.** ``--messages`` fills are routed to the webhook notifier (rate limit
   off) by the notifier host: each is rendered, written to the outbox in a DuckDB file
   (one committed transaction per message), POSTed with an HMAC signature to a local aiohttp
   receiver on 127.0.0.1 (same process and event loop), and marked sent (another commit).
   Reported: messages/s from the first event routed to the last one marked sent.
2. **Decision latency with a notifier that blocks 10 s.** The decision benchmark's engine
   (bench_decision.py: four analyzers, strategy, filters, exits; every candle close sends an
   order) runs ``--decisions`` decisions twice: with no notifier but the log notifier, and
   with a webhook notifier for every trade whose receiver holds each request 10 s. Reported:
   p50/p99 of candle-closing batch → submit_order in both runs. Between decisions the loop
   yields once (``anyio.sleep(0)``), as a live feed's socket read does, so the notifier's
   task really runs (and its request really hangs) while decisions are made.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import anyio
import duckdb
from bench_decision import CONFIG, T0, tape
from tradewind.clock import SimClock
from tradewind.config import load_config
from tradewind.model import Fill, FillEvent, Side
from tradewind.notify import NotifierHost, Outbox
from tradewind.trading.engine import Engine
from tradewind_notifier_webhook import WebhookConfig, WebhookNotifier
from tradewind_notifier_webhook.testing import Receiver, serve


async def throughput(n: int) -> tuple[float, int]:
    import os

    os.environ["BENCH_HOOK_KEY"] = "bench-key"
    from tradewind.secrets import Secret

    tmp = Path(tempfile.mkdtemp())
    outbox = Outbox(duckdb.connect(str(tmp / "journal.duckdb")))
    events = []
    for i in range(n):
        f = Fill(
            client_order_id=f"c-{i}",
            instrument="sim:BTCUSDT",
            side=Side.BUY,
            quantity=Decimal("0.01"),
            price=Decimal("50000.5"),
            fee=Decimal("0.2"),
            ts_ns=i,
        )
        events.append(FillEvent(ts_ns=i, fill=f, realized_pnl=Decimal("1.25")))
    async with serve(Receiver(key="bench-key")) as rec:
        cfg = WebhookConfig(
            url=rec.url, secret=Secret("BENCH_HOOK_KEY"), rate_per_s=0, queue_size=n
        )
        host = NotifierHost({"hook": WebhookNotifier(cfg)}, clock=SimClock(0), outbox=outbox)
        async with host:
            t0 = time.perf_counter()
            ch = host.channels["hook"]
            for e in events:
                ch.on_event(e)
                await anyio.lowlevel.checkpoint()
            assert await host.wait_idle(600)
            elapsed = time.perf_counter() - t0
        assert len(rec.bodies) == n and rec.bad_signatures == 0
    sent = outbox.rows()
    assert all(r[3] == "sent" for r in sent)
    return elapsed, len(sent)


async def decisions(count: int, blocked: bool) -> list[int]:
    tmp = Path(tempfile.mkdtemp())
    text = CONFIG.format(
        mode="backtest", data="replay", journal=(tmp / "j.duckdb").as_posix(), panes=""
    )  # bench_decision's
    async with serve(Receiver(hold_s=10.0)) as rec:
        if blocked:
            text += (
                f'[notifiers.stuck]\nplugin = "webhook"\nurl = "{rec.url}"\n'
                'events = ["trade"]\ntimeout_s = 30\nclose_timeout_s = 0.1\n'
                "rate_per_s = 0\n"
            )
        (tmp / "c.toml").write_text(text)
        engine = Engine(load_config(tmp / "c.toml"), run_id="bench")
        sim = engine.venues["sim"]
        stamps: list[int] = []
        submit = sim.submit_order

        async def timed_submit(order):  # type: ignore[no-untyped-def]
            stamps.append(time.perf_counter_ns())
            return await submit(order)

        sim.submit_order = timed_submit
        key = next(iter(engine.instruments))
        latencies: list[int] = []
        from tradewind.journal.store import Journal
        from tradewind.trading.reconcile import prepare_session

        engine.journal = Journal(tmp / "j.duckdb", "bench")
        engine.journal.start("backtest", str(tmp / "c.toml"), T0)
        engine.bus.subscribe("journal", engine.journal.record)
        notifiers = dict(zip(engine.config.instances("notifiers"), engine.notifiers, strict=True))
        host = NotifierHost(notifiers, clock=engine.clock, outbox=Outbox(engine.journal.cursor()))
        host.subscribe(engine.bus)
        await prepare_session(engine)
        async with engine.bus, host:
            for k, body, closer in tape(count, 50, key):  # bench_decision's seeded tape
                await engine.on_batch(body)
                before = len(stamps)
                start = time.perf_counter_ns()
                await engine.on_batch(closer)
                if k > 0 and len(stamps) > before:
                    latencies.append(stamps[before] - start)
                # A live feed awaits its socket between batches: let other tasks run, as then.
                await anyio.sleep(0)
            await engine.bus.close()
            if blocked:
                ch = host.channels["stuck"]
                print(
                    f"  (stuck notifier: {ch.outstanding:,} messages still pending at the end, "
                    f"{len(rec.attempts)} request(s) held by the receiver)"
                )
        engine.journal.close()
    return latencies


def _pct(lat: list[int]) -> str:
    us = sorted(x / 1000 for x in lat)
    p = statistics.quantiles(us, n=100)
    return f"p50 {p[49]:,.1f} µs   p90 {p[89]:,.1f} µs   p99 {p[98]:,.1f} µs   ({len(us):,})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--decisions", type=int, default=2000)
    args = ap.parse_args()
    elapsed, n = anyio.run(throughput, args.messages)
    print("notifications through the outbox to a local signed-webhook receiver")
    print(f"  {n:,} messages in {elapsed:.2f} s: {n / elapsed:,.0f} messages/s")
    print("decision latency (candle-closing batch → submit_order)")
    base = anyio.run(decisions, args.decisions, False)
    print(f"  log notifier only:             {_pct(base)}")
    stuck = anyio.run(decisions, args.decisions, True)
    print(f"  + webhook notifier held 10 s:  {_pct(stuck)}")


if __name__ == "__main__":
    main()
