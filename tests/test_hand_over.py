"""Hand-over: an order the intent log holds is sent before its step's DuckDB commit.

With group commit (paper and live) an order for a real venue is durable once its record is
``fdatasync``'d in the journal's intent log (:meth:`Journal.written_ahead`); the engine then
hands it to the venue (:meth:`VenueCalls.hand_over`) before it goes on with its step and the
step's commit. Without the intent log the order is committed before it is sent. The venue here
is the real simulated venue behind :class:`tests.faulty_venue.FaultyVenue`, which notes what
the journal held at the moment each create reached it.
"""

from __future__ import annotations

import anyio
import pytest
from tradewind.journal import intent_log
from tradewind.model import Order, OrderReport, OrderStatus
from tradewind.trading.venue_calls import HAND_OVER_TURNS, VenueCalls

from tests.faulty_venue import FaultyVenue, Stack


class WatchedVenue(FaultyVenue):
    """Notes, for every create it receives, whether the journal still held the order only
    written ahead (in the intent log, not yet committed to DuckDB); ``delay_s`` makes each
    create wait on the network first."""

    def __init__(self, stack: Stack, delay_s: float = 0.0) -> None:
        super().__init__(stack.sim)
        self.journal = stack.journal
        self.delay_s = delay_s
        #: (client order id, written ahead only, rows still buffered) per create received.
        self.seen: list[tuple[str, bool, bool]] = []

    async def submit_order(self, order: Order) -> OrderReport:
        cid = order.client_order_id
        self.seen.append((cid, cid in self.journal.written_ahead(), self.journal.buffered > 0))
        if self.delay_s:
            await anyio.sleep(self.delay_s)
        return await super().submit_order(order)


def make(tmp_path, *, intents: bool = True, delay_s: float = 0.0) -> tuple[Stack, WatchedVenue]:
    stack = Stack(tmp_path / "journal.duckdb", intents=intents)
    stack.journal.group_commit = True  # as the engine runs paper and live
    venue = WatchedVenue(stack, delay_s)
    venue.set_sink(stack.orders)
    stack.orders.register_venue(venue)
    return stack, venue


async def hand_over(stack: Stack, venue: WatchedVenue, order: Order, turns: int) -> bool:
    """One engine step: hand the order over, then the step's commit."""
    async with VenueCalls(stack.orders, hand_over_turns=turns) as calls:
        handed = await calls.hand_over(venue, order, 1)
        stack.seen_before_commit = list(venue.seen)  # type: ignore[attr-defined]
        stack.still_sending = order.client_order_id in calls.sending  # type: ignore[attr-defined]
        stack.journal.commit()  # the step's group commit
    return handed


def test_written_ahead_names_the_orders_only_the_intent_log_holds(tmp_path):
    stack, venue = make(tmp_path)
    try:
        order = stack.order()
        stack.orders.open(venue, order, 1)
        cid = order.client_order_id
        assert stack.journal.writes_ahead
        assert stack.journal.written_ahead() == {cid}
        assert [r["orders"][0] for r in intent_log.read(stack.journal._intents.path)] == [cid]
        stack.journal.commit()
        assert stack.journal.written_ahead() == frozenset()
        assert stack.journal.count("orders") == 1
    finally:
        stack.journal.close()


def test_an_order_written_ahead_reaches_the_venue_before_its_steps_commit(tmp_path):
    stack, venue = make(tmp_path)
    try:
        order = stack.order()
        cid = order.client_order_id
        assert anyio.run(hand_over, stack, venue, order, HAND_OVER_TURNS) is True
        # The create reached the venue while the order was durable only in the intent log,
        # before the step's commit — not after it.
        assert stack.seen_before_commit == [(cid, True, True)]
        assert venue.received == [cid]
        assert stack.journal.written_ahead() == frozenset()
        rec = stack.journal.order(cid)
        assert rec is not None and rec.status is OrderStatus.ACCEPTED  # the venue's answer
    finally:
        stack.journal.close()


def test_commit_first_the_step_commits_before_the_create_runs(tmp_path):
    stack, venue = make(tmp_path)
    try:
        order = stack.order()
        cid = order.client_order_id
        assert anyio.run(hand_over, stack, venue, order, 0) is False  # 0 turns
        assert stack.seen_before_commit == []  # the step went on before the create ran
        # When it ran, the step's commit had made the order durable in DuckDB already.
        assert venue.seen == [(cid, False, False)]
        assert stack.journal.order(cid).status is OrderStatus.ACCEPTED
    finally:
        stack.journal.close()


def test_without_the_intent_log_the_order_is_committed_before_it_is_sent(tmp_path):
    stack, venue = make(tmp_path, intents=False)
    try:
        order = stack.order()
        cid = order.client_order_id
        assert not stack.journal.writes_ahead
        assert anyio.run(hand_over, stack, venue, order, HAND_OVER_TURNS) is False
        # Nothing written ahead and nothing buffered: committed to DuckDB before the create.
        assert venue.seen == [(cid, False, False)]
        assert not intent_log.intent_path(tmp_path / "journal.duckdb").exists()
        assert stack.journal.order(cid).status is OrderStatus.ACCEPTED
    finally:
        stack.journal.close()


def test_a_create_that_waits_does_not_hold_its_step_beyond_the_bound(tmp_path):
    stack, venue = make(tmp_path, delay_s=0.3)
    try:
        order = stack.order()
        cid = order.client_order_id
        assert anyio.run(hand_over, stack, venue, order, HAND_OVER_TURNS) is True
        # The create had started (it waits on the network) when the step went on to its
        # commit after HAND_OVER_TURNS turns; the commit did not wait for the answer.
        assert stack.seen_before_commit == [(cid, True, True)]
        assert stack.still_sending is True
        # Leaving the block waited for the create: it was accepted, once.
        assert venue.received == [cid]
        assert stack.journal.order(cid).status is OrderStatus.ACCEPTED
    finally:
        stack.journal.close()


@pytest.mark.parametrize("intents", [True, False])
def test_an_order_opened_twice_is_not_handed_over_again(tmp_path, intents):
    stack, venue = make(tmp_path, intents=intents)
    try:
        order = stack.order()

        async def twice() -> tuple[bool, bool]:
            async with VenueCalls(stack.orders) as calls:
                first = await calls.hand_over(venue, order, 1)
                second = await calls.hand_over(venue, order, 1)
            return first, second

        assert anyio.run(twice) == (intents, False)
        assert venue.received == [order.client_order_id]
    finally:
        stack.journal.close()
