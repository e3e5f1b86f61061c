"""A cancel's outcome is settled, not guessed (``tradewind.trading.order_cancel``): a late, failed
or refused answer is settled by looking the order up; an order still open gets the cancel
again with backoff (a rate limit's Retry-After honoured) until ``cancel_deadline_s``; past it,
a critical event names the order."""

from __future__ import annotations

import anyio
import attrs
import pytest
from tradewind.errors import OrderRejectedError
from tradewind.model import OrderStatus, OrderType, SystemError
from tradewind.trading.orders import CancelUnsettledError

from tests.faulty_venue import Stack, settings

S = OrderStatus


@pytest.fixture
def stack(tmp_path):
    s = Stack(
        tmp_path / "journal.duckdb",
        order_settings=attrs.evolve(settings(), cancel_deadline_s=5.0),
    )
    s.trades([(0, 50_000.0, 1.0)])
    yield s
    s.journal.close()


def resting(stack: Stack) -> str:
    """A limit buy far below the market: accepted, resting at the venue."""
    order = stack.order(type_=OrderType.LIMIT, price="40000.0")
    assert stack.submit(order).status is S.ACCEPTED
    return order.client_order_id


def cancel(stack: Stack, cid: str):
    return anyio.run(stack.orders.cancel, stack.venue, cid, 5)


def venue_status(stack: Stack, cid: str) -> S:
    return stack.sim._orders[cid].status


def test_a_cancel_done_whose_answer_is_lost_is_settled_by_a_lookup(stack):
    cid = resting(stack)
    stack.venue.fail("cancel_order", "timeout_after")
    assert cancel(stack, cid).status is S.CANCELLED
    assert stack.orders.records[cid].status is S.CANCELLED
    assert venue_status(stack, cid) is S.CANCELLED
    # One cancel, one lookup: done at the venue, not sent again.
    assert stack.venue.calls["cancel_order"] == 1
    assert stack.venue.calls["fetch_order"] == 1
    assert stack.journal.open_orders() == []


def test_a_cancel_done_but_answered_500_is_settled_by_a_lookup(stack):
    cid = resting(stack)
    stack.venue.fail("cancel_order", "unavailable_after")
    assert cancel(stack, cid).status is S.CANCELLED
    assert stack.venue.calls["cancel_order"] == 1
    assert stack.orders.records[cid].status is S.CANCELLED


def test_a_cancel_lost_before_the_venue_is_looked_up_and_sent_again_with_backoff(stack):
    cid = resting(stack)
    stack.venue.fail("cancel_order", "timeout_before", "timeout_before")
    assert cancel(stack, cid).status is S.CANCELLED
    # Still open after each of the first two: looked up, then sent again after the backoff.
    assert stack.venue.calls["cancel_order"] == 3
    assert stack.venue.calls["fetch_order"] == 2
    assert stack.time.sleeps == [0.25, 0.5]
    assert venue_status(stack, cid) is S.CANCELLED


def test_a_rate_limited_cancel_waits_for_retry_after_without_a_lookup(stack):
    cid = resting(stack)
    stack.venue.fail("cancel_order", "rate_limited")
    assert cancel(stack, cid).status is S.CANCELLED
    assert stack.time.sleeps == [2.0]  # Retry-After, not the 0.25 s backoff
    assert stack.venue.calls.get("fetch_order", 0) == 0


def test_unknown_order_from_a_cancel_is_settled_by_a_lookup(stack):
    """The venue answers "unknown order" (Binance -2011) because the order is done already
    (cancelled behind the host's back here): the lookup says which, and that is taken."""
    cid = resting(stack)
    stack.venue.down = True  # the venue's report of it is not delivered
    anyio.run(stack.sim.cancel_order, "sim:BTCUSDT", cid)
    stack.venue.down = False
    stack.venue.fail("cancel_order", "reject")
    assert cancel(stack, cid).status is S.CANCELLED
    assert stack.orders.records[cid].status is S.CANCELLED


def test_unknown_order_that_the_lookup_does_not_know_either_is_raised(stack):
    cid = resting(stack)
    stack.venue.fail("cancel_order", "reject")
    stack.sim._orders.pop(cid)  # the venue has no such order at all
    with pytest.raises(OrderRejectedError):
        cancel(stack, cid)


def test_unknown_order_whose_lookup_fails_is_not_taken_as_definite(stack):
    """ "Unknown order" (Binance -2011 under load) and then the lookup itself fails (HTTP 500):
    nothing says the order is gone, so the cancel stays in the retry loop; the order, still
    open at the venue, is cancelled by the next attempt."""
    cid = resting(stack)
    stack.venue.fail("cancel_order", "reject")
    stack.venue.fail("fetch_order", "unavailable")
    assert cancel(stack, cid).status is S.CANCELLED
    assert stack.venue.calls["cancel_order"] == 2
    assert stack.time.sleeps == [0.25]
    assert venue_status(stack, cid) is S.CANCELLED
    assert stack.orders.records[cid].status is S.CANCELLED


def test_unknown_order_whose_lookups_keep_failing_is_unsettled_at_the_deadline(stack):
    cid = resting(stack)
    stack.venue.fail("cancel_order", *["reject"] * 50)
    stack.venue.fail("fetch_order", *["unavailable"] * 50)
    with pytest.raises(CancelUnsettledError, match=cid) as raised:
        cancel(stack, cid)
    assert "its lookup failed" in str(raised.value)
    assert stack.time.sleeps == [0.25, 0.5, 1.0, 2.0]
    assert stack.venue.calls["cancel_order"] == 5
    (error,) = stack.of(SystemError)
    assert cid in error.error and "may still rest at the venue" in error.error
    assert stack.orders.records[cid].status is S.ACCEPTED  # not guessed rejected


def test_a_cancel_unsettled_at_the_deadline_is_a_critical_event_naming_the_order(stack):
    cid = resting(stack)
    stack.venue.fail("cancel_order", *["timeout_before"] * 50)
    with pytest.raises(CancelUnsettledError, match=cid):
        cancel(stack, cid)
    # Backoff 0.25, 0.5, 1, 2 fits in 5 s; the next wait (4 s) would pass the deadline.
    assert stack.time.sleeps == [0.25, 0.5, 1.0, 2.0]
    assert stack.venue.calls["cancel_order"] == 5
    (error,) = stack.of(SystemError)
    assert cid in error.error and "not settled after 5 attempt(s) in 5 s" in error.error
    assert "may still rest at the venue" in error.error
    assert stack.orders.records[cid].status is S.ACCEPTED  # not guessed
    assert venue_status(stack, cid) is S.ACCEPTED


def test_a_cancel_settled_meanwhile_by_the_venues_own_report_stops_retrying(stack):
    cid = resting(stack)
    stack.venue.fail("cancel_order", "timeout_before")
    stack.venue.fail("fetch_order", "unavailable")  # the lookup fails too

    async def go():
        real = stack.time.sleep

        async def sleep(s: float) -> None:
            # The venue's stream reports the order filled while the host backs off.
            stack.trades([(2, 39_000.0, 1.0, 0)])
            await real(s)

        stack.orders._sleep = sleep
        return await stack.orders.cancel(stack.venue, cid, 5)

    assert anyio.run(go).status is S.FILLED
    assert stack.venue.calls["cancel_order"] == 1
