"""The process the restart test kills: connect, submit one market swap, wait for its receipt.

Run as ``python evm_restart_child.py CONFIG_JSON CLIENT_ORDER_ID SIDE QUANTITY``; the config
table is the one a user writes in TOML (secrets as env: references, read from the environment).
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import anyio
from tradewind._serde import structure
from tradewind.model import Order, OrderType, Side
from tradewind_venue_evm import EvmConfig, EvmVenue


async def main(table: dict, cid: str, side: str, qty: str) -> None:
    venue = EvmVenue(config=structure(table, EvmConfig), instance="dex")
    await venue.connect()
    print("connected", flush=True)
    report = await venue.submit_order(
        Order(
            client_order_id=cid,
            instrument="dex:WETH/USD",
            side=Side(side),
            type=OrderType.MARKET,
            quantity=Decimal(qty),
        )
    )
    print("report", report.status.value, flush=True)
    await venue.close()


if __name__ == "__main__":
    anyio.run(main, json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])
