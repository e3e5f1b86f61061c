"""The host process the host-restart test kills: a DuckDB journal, an order manager, the venue.

Run as ``python evm_restart_host_child.py CONFIG_JSON JOURNAL_PATH SIDE``: it submits one
market order (``SIDE`` buy or sell) of 1 WETH through the order manager (journaled before the
venue sees it) and waits.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import anyio
from tradewind._serde import structure
from tradewind.journal.store import Journal
from tradewind.model import Order, OrderType, Side
from tradewind.trading.orders import OrderManager
from tradewind.trading.portfolio import Portfolio
from tradewind_venue_evm import EvmConfig, EvmVenue


async def main(table: dict, journal_path: str, side: str) -> None:
    venue = EvmVenue(config=structure(table, EvmConfig), instance="dex")
    await venue.connect()
    (inst,) = await venue.instruments()
    journal = Journal(journal_path, "run1", durable=True)
    journal.start("live", "live.toml", 0)
    pf = Portfolio({inst.key: inst}, Decimal(0))
    om = OrderManager(pf, "run1", journal=journal)
    venue.set_sink(om)
    await om.submit(
        venue,
        Order(
            client_order_id="host-1",
            instrument=inst.key,
            side=Side(side),
            type=OrderType.MARKET,
            quantity=Decimal(1),
        ),
        0,
    )
    print("submitted", flush=True)


if __name__ == "__main__":
    anyio.run(main, json.loads(sys.argv[1]), sys.argv[2], sys.argv[3])
