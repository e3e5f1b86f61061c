"""Turns of the event loop a handed-over ccxt create needs to write its request.

python bench/bench_hand_over.py [--orders N]

The engine hands an order written ahead to its venue (``VenueCalls.hand_over``) by giving
the create's task up to ``HAND_OVER_TURNS`` turns of the event loop before its step goes on
to the DuckDB commit. This measures how many turns that task really needs, on the path the
engine uses: the core's order manager with a durable, group-committed DuckDB journal (the
order written ahead to its intent log), ``VenueCalls.submit``, the ccxt venue
(``binanceusdm``, HMAC-signed REST) and the local Binance USD-M server of
``tests/e2e/cex_local.py`` (in a thread of this process; it fills MARKET orders in the
create's answer). After each ``submit`` the driver yields one loop turn at a time, as
``hand_over`` does, and notes the turn in which the ``POST /fapi/v1/order`` bytes are handed
to the socket (the transport's ``write``, wrapped here to see it: the only thing patched).
Orders alternate buy and sell; each one's whole create and fill read end before the next.
Results: docs/performance.md, "Feed-to-order latency".
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.selector_events
import collections
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

KEY = "usdm:BTCUSDT"
MAX_TURNS = 64


def watch_creates(seen: list[bool]) -> None:
    """Note (in ``seen[0]``) when a create's request is written to a socket."""
    transport = asyncio.selector_events._SelectorSocketTransport
    write, writelines = transport.write, transport.writelines

    def note(data: bytes) -> None:
        if data.startswith(b"POST") and b"/fapi/v1/order" in data[:200]:
            seen[0] = True

    def noted(self: Any, data: Any) -> None:
        note(bytes(data))
        write(self, data)

    def noted_lines(self: Any, lines: Any) -> None:
        lines = list(lines)
        note(b"".join(bytes(x) for x in lines))
        writelines(self, lines)

    transport.write = noted  # type: ignore[method-assign]
    transport.writelines = noted_lines  # type: ignore[method-assign]


async def measure(url: str, folder: Path, orders: int, seen: list[bool]) -> list[int | None]:
    import anyio
    import anyio.lowlevel
    from tradewind.journal.store import Journal
    from tradewind.model import Order, OrderType, Side, TimeInForce
    from tradewind.secrets import Secret
    from tradewind.trading.orders import OrderManager
    from tradewind.trading.portfolio import Portfolio
    from tradewind.trading.venue_calls import VenueCalls
    from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig

    from tests.e2e.cex_local import KEY_ENV, SECRET_ENV

    venue = CcxtVenue(
        CcxtVenueConfig(
            exchange="binanceusdm",
            market_type="swap",
            symbols=["BTCUSDT"],
            api_key=Secret(KEY_ENV),
            secret=Secret(SECRET_ENV),
            api_host=url,
            order_updates="poll",
        ),
        instance="usdm",
    )
    await venue.connect()
    journal = Journal(folder / "journal.duckdb", "bench-hand-over")
    journal.start("paper", "bench.toml", 0)
    journal.group_commit = True  # as the engine runs paper and live
    turns: list[int | None] = []
    try:
        inst = next(i for i in await venue.instruments() if i.key == KEY)
        manager = OrderManager(Portfolio({KEY: inst}, Decimal("10000")), "bench", journal=journal)
        venue.set_sink(manager)
        manager.register_venue(venue)
        async with VenueCalls(manager) as calls:
            for n in range(orders):
                order = Order(
                    client_order_id=manager.next_client_order_id(),
                    instrument=KEY,
                    side=Side.BUY if n % 2 == 0 else Side.SELL,
                    type=OrderType.MARKET,
                    quantity=Decimal("0.002"),
                    time_in_force=TimeInForce.IOC,
                    created_ts_ns=n + 1,
                )
                seen[0] = False
                calls.submit(venue, order, n + 1)
                assert order.client_order_id in journal.written_ahead()
                at = None
                for turn in range(1, MAX_TURNS + 1):
                    await anyio.lowlevel.checkpoint()
                    if seen[0]:
                        at = turn
                        break
                turns.append(at)
                while calls.sending:  # the create and its fill read, before the next
                    await anyio.sleep(0.005)
                journal.commit()
                await anyio.sleep(0.5)  # within the venue's rate budget: no limiter wait
    finally:
        await venue.close()
        journal.close()
    return turns


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=200, help="creates measured (default 200)")
    args = ap.parse_args()
    from tests.e2e.cex_local import API_KEY, KEY_ENV, SECRET, SECRET_ENV, LocalUsdm, Tape, Trade

    os.environ[KEY_ENV] = API_KEY
    os.environ[SECRET_ENV] = SECRET
    seen = [False]
    watch_creates(seen)
    tape = Tape()
    tape.record(1, Trade(time.time_ns() // 1_000_000, Decimal(60000), Decimal("0.01"), True), 0)
    exchange = LocalUsdm(tape, fill_mode="response").start()
    try:
        with tempfile.TemporaryDirectory(prefix="tw-bench-hand-over-") as tmp:
            turns = asyncio.run(measure(exchange.url, Path(tmp), args.orders, seen))
    finally:
        exchange.stop()
    written = [t for t in turns if t is not None]
    counts = collections.Counter(written)
    print(
        f"{len(turns)} creates (ccxt binanceusdm, order manager, group-committed journal with "
        f"its intent log); turns of the loop until the request was written to the socket:"
    )
    for t in sorted(counts):
        print(f"  {t:>2} turn(s): {counts[t]}")
    missing = len(turns) - len(written)
    if missing:
        print(f"  not written within {MAX_TURNS} turns: {missing}")
    if written:
        print(f"max {max(written)} turns; load average {os.getloadavg()[0]:.2f} (1-minute)")
    return 0 if not missing else 1


if __name__ == "__main__":
    raise SystemExit(main())
