"""Event bus throughput: events/s published and delivered, for 1 and 4 subscribers.

python bench/bench_bus.py [--events N]
"""

from __future__ import annotations

import argparse
import time

import anyio
from tradewind.bus import EventBus
from tradewind.model import RunStarted


async def _run(n: int, subscribers: int, capacity: int) -> float:
    counts = [0] * subscribers

    def make(i: int):
        def handler(_e: object) -> None:
            counts[i] += 1

        return handler

    events = [RunStarted(ts_ns=i, run_id="bench", mode="backtest") for i in range(n)]
    t0 = time.perf_counter()
    async with EventBus(capacity=capacity) as bus:
        for i in range(subscribers):
            bus.subscribe(f"s{i}", make(i), lossless=True)
        for e in events:
            await bus.publish(e)
    elapsed = time.perf_counter() - t0
    assert counts == [n] * subscribers, counts
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    args = ap.parse_args()
    print("event bus throughput (publish + ordered delivery, every event delivered)")
    for subs in (1, 4):
        for cap in (1024,):
            best = min(anyio.run(_run, args.events, subs, cap) for _ in range(3))
            print(
                f"  subscribers={subs} capacity={cap}: {args.events / best:,.0f} events/s "
                f"published ({args.events * subs / best:,.0f} deliveries/s)"
            )


if __name__ == "__main__":
    main()
