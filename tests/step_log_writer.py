"""The three paper steps the step log's crash tests write before a SIGKILL.

Imported by the writer scripts of tests/test_step_log.py, which run it in a child process
(the repository root on ``PYTHONPATH``): each step journals a MARKET order's submission, its
fill and the position, then commits (one durable append to the step log).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import attrs
from tradewind.journal.store import Journal, OrderRecord
from tradewind.model import Fill, Order, OrderStatus, OrderType, Position, Side


def write_three_steps(
    j: Journal,
    after_commit: Callable[[int], None],
    *,
    before_order: Callable[[int, str, Side], None] | None = None,
    after_order: Callable[[int, str, Side], None] | None = None,
) -> None:
    """Start ``j`` as a paper host with group commit and write steps 1, 2 and 3, calling
    ``after_commit(n)`` after each step's commit; ``before_order`` and ``after_order`` (step,
    client order id, side) journal more of a step before and after its order's submission."""
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    j.simulated_venues = frozenset({"sim"})
    pos = Position(instrument="sim:BTCUSDT")
    for n in (1, 2, 3):
        cid = f"tw-a-{n}"
        side = Side.BUY if n % 2 else Side.SELL
        order = Order(
            client_order_id=cid,
            instrument="sim:BTCUSDT",
            side=side,
            type=OrderType.MARKET,
            quantity=D("0.002"),
            created_ts_ns=10 * n,
        )
        rec = OrderRecord(
            client_order_id=cid,
            instrument=order.instrument,
            venue="sim",
            order=order,
            updated_ts_ns=10 * n,
            id_seq=n,
            run_id="run-1",
        )
        if before_order is not None:
            before_order(n, cid, side)
        j.record_order(rec, ts_ns=10 * n, kind="submitted")
        if after_order is not None:
            after_order(n, cid, side)
        fill = Fill(
            client_order_id=cid,
            instrument="sim:BTCUSDT",
            side=side,
            quantity=D("0.002"),
            price=D(60000 + n),
            fee=D("0.05"),
            ts_ns=10 * n + 1,
            trade_id=f"t-{n}",
        )
        pos = pos.apply(fill)
        done = attrs.evolve(rec, status=OrderStatus.FILLED, filled_quantity=D("0.002"))
        j.record_fill(fill, pos, done, from_status=OrderStatus.NEW)
        j.commit()
        after_commit(n)
