"""The simulated venue's and the portfolio's own work per order, as the engine drives them.

    python bench/bench_sim_fill.py                  # 4,000 orders, 5 runs
    python bench/bench_sim_fill.py --orders 500 --runs 1

No order manager and no journal: a market IOC flipping the position each time (what the engine
sends), fed the tape in the engine's steps (the venue's next fill time, the piece up to it, the
rest: ten trades per order of both sides and sizes that fill some orders partly), the portfolio
booking each fill (the order manager's call of ``Portfolio.apply_fill``), marked at each step and
its equity read three times per step (the guard exit, the filters and the equity curve read it
between marks). The figure is the main thread's CPU per order, the median of the runs; the fills,
cash and equity printed are the same whatever the speed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from decimal import Decimal

import anyio


def run(orders: int, seed: int = 1) -> tuple[float, str]:
    """One run: CPU seconds per order on this thread, and what the run booked."""
    from tradewind.model import Order, OrderType, Side, TickBatch, TimeInForce
    from tradewind.trading.portfolio import Portfolio
    from tradewind.venues.sim import SimulatedVenue, SimVenueConfig, default_instrument

    inst = default_instrument()
    portfolio = Portfolio({inst.key: inst}, Decimal("10000"))

    class Sink:
        def on_fill(self, fill: object) -> None:
            portfolio.apply_fill(fill)  # type: ignore[arg-type]

        def on_report(self, report: object) -> None:
            pass

        def on_event(self, event: object) -> None:
            pass

    venue = SimulatedVenue(
        SimVenueConfig(latency_ms=0, starting_balance=Decimal("1000000")), instruments=[inst]
    )
    venue.set_sink(Sink())
    rnd = random.Random(seed)
    ms = 1_000_000
    tapes = []
    t = 10
    for _ in range(orders):
        rows = []
        for _ in range(10):
            t += rnd.choice((0, 1, 2))
            rows.append(
                (
                    t * ms,
                    100.0 + rnd.randint(-20, 20) / 10,
                    rnd.choice((0.1, 0.7, 0.3, 0.011, 2.5)),
                    rnd.choice((1, -1)),
                )
            )
        ts, price, size, side = (list(c) for c in zip(*rows, strict=True))
        tapes.append(TickBatch.from_arrays(inst.key, ts, price, size, side))
        t += 1

    async def feed() -> None:
        for n, batch in enumerate(tapes):
            pos = portfolio.position(inst.key)
            venue.set_time(int(batch.ts_ns[0]) - 1, inst.key)
            order = Order(
                client_order_id=f"c{n}",
                instrument=inst.key,
                side=Side.SELL if pos.quantity > 0 else Side.BUY,
                type=OrderType.MARKET,
                quantity=Decimal("0.100") + abs(pos.quantity),
                time_in_force=TimeInForce.IOC,
            )
            await venue.submit_order(order)
            rest = batch
            while len(rest):
                at = venue.next_fill_ts(rest)
                end = len(rest) if at is None else int(rest.ts_ns.searchsorted(at, side="right"))
                head = rest.slice(0, end)
                for _ in range(3):
                    portfolio.equity()
                portfolio.mark(inst.key, head.last_price, head.last_ts)
                venue.on_trades(head)
                rest = rest.slice(end, len(rest))

    anyio.run(anyio.sleep, 0)  # the event loop's imports, before the clock starts
    t0 = time.thread_time()
    anyio.run(feed)
    cpu = time.thread_time() - t0
    booked = f"{venue._fills:,} fills, cash {portfolio.cash}, equity {portfolio.equity()}"
    return cpu / orders, booked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=4000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    per = []
    booked = ""
    for _ in range(args.runs):
        cpu, booked = run(args.orders)
        per.append(cpu)
    print(
        f"simulated venue and portfolio, {args.orders:,} market IOC orders ({booked}): "
        f"{statistics.median(per) * 1e6:.1f} µs per order (median of {args.runs}; "
        f"runs {', '.join(f'{x * 1e6:.1f}' for x in per)})"
    )


if __name__ == "__main__":
    main()
