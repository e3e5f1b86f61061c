"""The order manager's own work per order on the paper fill path, without a venue or an engine.

    python bench/bench_order_path.py                  # 1,000 orders a round, 15 rounds
    python bench/bench_order_path.py --orders 200 --rounds 2

What the simulated venue makes the order manager do for each market order of a paper run:
``open`` (record, journal row, ``OrderSubmitted``), the venue's acknowledgement and the
create's answer (accepted: a move, then a repeat), the fill (``on_fill``: journal rows, the
portfolio's booking, ``FillEvent``, ``OrderUpdated``, ``PositionChanged``), the venue's filled
report (a repeat), and every event into the journal (``Journal.record``: its ``events`` row).
The orders flip a one-lot position, as bench_paper_throughput's do; the journal is a
backtest's (rows staged, written when it closes, after the timing): no ``fdatasync`` and no
DuckDB write, so the figure is the order manager's and the journal's staging alone. Printed:
the median and the lowest of the rounds' CPU per order (the lowest is the steadier on a
shared machine), and what the run booked (the same whatever the speed).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path


def run(orders: int, rounds: int) -> tuple[list[float], str]:
    """The thread's CPU µs per order of each round (after one warm-up round), and what the
    run booked."""
    from tradewind.journal.store import Journal
    from tradewind.model import Fill, Order, OrderReport, OrderStatus, OrderType, Side, TimeInForce
    from tradewind.trading.orders import OrderManager
    from tradewind.trading.portfolio import Portfolio
    from tradewind.venues.sim import default_instrument

    inst = default_instrument()

    class Venue:
        instance = "sim"

    venue = Venue()
    spent: list[float] = []
    with tempfile.TemporaryDirectory(prefix="tw-bench-order-path-") as tmp:
        journal = Journal(Path(tmp) / "j.duckdb", "bench", durable=False)
        journal.start("backtest", "bench.toml", 0)  # rows staged, written at close
        portfolio = Portfolio({inst.key: inst}, Decimal("1000000"))
        om = OrderManager(portfolio, "bench", journal=journal, id_prefix="tw-bench")
        side, i = Side.BUY, 0
        price, fee = Decimal("50000.1"), Decimal("0.02")
        for r in range(rounds + 1):
            start = time.thread_time()
            for _ in range(orders):
                i += 1
                ts = i * 1_000_000_000
                cid = om.next_client_order_id()
                pos = portfolio.position(inst.key).quantity
                qty = Decimal("0.001") + abs(pos)
                order = Order(
                    client_order_id=cid,
                    instrument=inst.key,
                    side=side,
                    type=OrderType.MARKET,
                    quantity=qty,
                    time_in_force=TimeInForce.IOC,
                    created_ts_ns=ts,
                )
                om.open(venue, order, ts)
                accepted = OrderReport(
                    client_order_id=cid,
                    instrument=inst.key,
                    status=OrderStatus.ACCEPTED,
                    ts_ns=ts,
                    venue_order_id=f"sim-{i}",
                )
                om.on_report(accepted)  # the venue's acknowledgement
                om._apply(accepted, "submit")  # the create's answer: a repeat now
                om.on_fill(
                    Fill(
                        client_order_id=cid,
                        instrument=inst.key,
                        side=side,
                        quantity=qty,
                        price=price,
                        fee=fee,
                        ts_ns=ts,
                        trade_id=f"sim-fill-{i}",
                    )
                )
                om.on_report(  # the venue's filled report: a repeat
                    OrderReport(
                        client_order_id=cid,
                        instrument=inst.key,
                        status=OrderStatus.FILLED,
                        ts_ns=ts,
                        filled_quantity=qty,
                        venue_order_id=f"sim-{i}",
                    )
                )
                for event in om.take_events():
                    journal.record(event)
                side = Side.SELL if side is Side.BUY else Side.BUY
            if r:  # the first round warms imports and caches up
                spent.append((time.thread_time() - start) / orders * 1e6)
        booked = (
            f"{len(om.fills):,} fills, {om.released:,} finished orders released, position "
            f"{portfolio.position(inst.key).quantity}, {journal.buffered:,} journal rows staged"
        )
        journal.close()
    return spent, booked


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1_000, help="orders per round")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    spent, booked = run(args.orders, args.rounds)
    print(
        f"order manager per paper order: median {statistics.median(spent):.1f} µs, lowest "
        f"{min(spent):.1f} µs of CPU per order over {len(spent)} rounds of {args.orders:,} "
        f"({booked})"
    )


if __name__ == "__main__":
    main()
