"""Run by test_webhook_delivery.py as a subprocess that is killed with SIGKILL.

    python crash_sender.py OUTBOX_DB URL

Routes one fill to a webhook notifier instance 'hook' whose receiver is down, prints
``PENDING <message id>`` once the outbox holds the message and a delivery attempt has
failed, then keeps retrying until it is killed.
"""

from __future__ import annotations

import sys
from decimal import Decimal

import anyio
import duckdb
from tradewind.clock import SimClock
from tradewind.model import Fill, FillEvent, Side
from tradewind.notify import NotifierHost, Outbox

from tradewind_notifier_webhook import WebhookConfig, WebhookNotifier


async def main(db: str, url: str) -> None:
    outbox = Outbox(duckdb.connect(db))
    config = WebhookConfig(url=url, retry_initial_s=0.2, retry_max_s=0.5, max_attempts=1000)
    host = NotifierHost({"hook": WebhookNotifier(config)}, clock=SimClock(1), outbox=outbox)
    fill = Fill(
        client_order_id="c-1",
        instrument="sim:BTCUSDT",
        side=Side.SELL,
        quantity=Decimal("0.5"),
        price=Decimal("64000.5"),
        fee=Decimal("3.2"),
        ts_ns=1,
    )
    async with host:
        host.channels["hook"].on_event(FillEvent(ts_ns=1, fill=fill, realized_pnl=Decimal("7")))
        while True:
            rows = outbox.rows("hook")
            if rows and rows[0][4] >= 1:
                print("PENDING", rows[0][0], flush=True)
                break
            await anyio.sleep(0.05)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
