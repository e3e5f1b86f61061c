"""The order manager against a real simulated venue behind a misbehaving connection."""

from decimal import Decimal

import anyio
import pytest
from tradewind.errors import (
    OrderRejectedError,
    VenueError,
    VenueNotSentError,
    VenueTimeoutError,
    VenueUnavailableError,
)
from tradewind.model import (
    CircuitBreaker,
    Fill,
    FillEvent,
    Order,
    OrderFailed,
    OrderReport,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    OrderUpdated,
    PositionChanged,
    Side,
    SystemError,
)
from tradewind.trading.orders import TRANSITIONS, CircuitOpenError, RetryPolicy, is_legal

from tests.faulty_venue import INST, MS, Stack, settings

S = OrderStatus


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path / "journal.duckdb")
    yield s
    s.journal.close()


def statuses(stack, cid):
    return [
        (kind, to)
        for kind, to in stack.journal.query(
            "SELECT kind, to_status FROM order_events WHERE client_order_id = ? ORDER BY seq",
            [cid],
        )
    ]


# -- ids and the state machine ----------------------------------------------------------------
def test_client_order_ids_are_the_session_prefix_and_a_sequence(stack):
    ids = [stack.orders.next_client_order_id() for _ in range(3)]
    assert ids == ["tw-run1-1", "tw-run1-2", "tw-run1-3"]


@pytest.mark.parametrize(
    "src,dst,legal",
    [
        (S.NEW, S.ACCEPTED, True),
        (S.NEW, S.REJECTED, True),
        (S.NEW, S.FILLED, True),  # a market order acknowledged already filled
        (S.ACCEPTED, S.PARTIALLY_FILLED, True),
        (S.ACCEPTED, S.REJECTED, True),
        (S.PARTIALLY_FILLED, S.FILLED, True),
        (S.PARTIALLY_FILLED, S.CANCELLED, True),
        (S.PARTIALLY_FILLED, S.REJECTED, False),
        (S.PARTIALLY_FILLED, S.ACCEPTED, False),
        (S.ACCEPTED, S.NEW, False),
        (S.FILLED, S.CANCELLED, False),
        (S.CANCELLED, S.FILLED, False),
        (S.EXPIRED, S.ACCEPTED, False),
    ],
)
def test_transition_table(src, dst, legal):
    assert is_legal(src, dst) is legal


def test_terminal_states_have_no_way_out_and_every_state_is_in_the_table():
    assert set(TRANSITIONS) == set(OrderStatus)
    for status, targets in TRANSITIONS.items():
        assert (not targets) == status.is_terminal


def test_the_state_machines_tables_by_value_are_its_tables():
    """The report path reads the legal moves and the stages by the states' values: the same
    tables, pair by pair."""
    from tradewind.trading.order_state import _LEGAL, _STAGE, _STAGE_OF

    assert len(_STAGE_OF) == len(_STAGE) == len(OrderStatus)
    for src in OrderStatus:
        assert _STAGE_OF[src.value] == _STAGE[src]
        for dst in OrderStatus:
            assert ((src.value, dst.value) in _LEGAL) is is_legal(src, dst)
    assert len(_LEGAL) == sum(len(t) for t in TRANSITIONS.values())


def test_a_market_order_walks_new_accepted_partially_filled_filled(stack):
    order = stack.order(qty="0.020")
    report = stack.submit(order)
    assert report.status is S.ACCEPTED
    stack.trades([(1, 50_000.0, 0.015), (2, 50_010.0, 1.0)])
    rec = stack.orders.records[order.client_order_id]
    assert rec.status is S.FILLED and rec.filled_quantity == Decimal("0.020")
    assert stack.portfolio.position(INST.key).quantity == Decimal("0.020")
    assert stack.portfolio.open_orders() == []
    assert statuses(stack, order.client_order_id) == [
        ("submitted", "new"),
        ("report", "accepted"),
        ("fill", "partially_filled"),
        ("fill", "filled"),
    ]
    kinds = [type(e).__name__ for e in stack.publish()]
    assert kinds == [
        "OrderSubmitted",
        "OrderUpdated",
        "FillEvent",
        "OrderUpdated",
        "PositionChanged",
        "FillEvent",
        "OrderUpdated",
        "PositionChanged",
    ]


def test_an_illegal_transition_is_a_journaled_system_error_not_a_crash(stack):
    order = stack.order()
    stack.submit(order)
    stack.trades([(1, 50_000.0, 1.0)])
    bad = OrderReport(
        client_order_id=order.client_order_id,
        instrument=INST.key,
        status=S.CANCELLED,
        ts_ns=5 * MS,
        filled_quantity=Decimal("0.010"),
    )
    stack.orders.on_report(bad)  # filled -> cancelled: not allowed
    assert stack.orders.records[order.client_order_id].status is S.FILLED
    errors = stack.of(SystemError)
    assert len(errors) == 1 and "illegal order transition filled -> cancelled" in errors[0].error
    assert statuses(stack, order.client_order_id)[-1] == ("illegal", "cancelled")
    stack.journal.flush()
    assert stack.journal.query("SELECT type, source FROM system_events") == [
        ("SystemError", "orders")
    ]


def test_a_report_for_an_unknown_order_is_a_system_error(stack):
    stack.orders.on_report(
        OrderReport(client_order_id="ghost-1", instrument=INST.key, status=S.FILLED, ts_ns=1)
    )
    errors = stack.of(SystemError)
    assert len(errors) == 1 and "unknown order ghost-1" in errors[0].error
    assert statuses(stack, "ghost-1") == [("unknown", "filled")]


def test_a_stale_acknowledgement_after_a_fill_is_ignored_quietly(stack):
    order = stack.order(qty="0.020")
    stack.submit(order)
    stack.trades([(1, 50_000.0, 0.010)])
    stack.orders.on_report(
        OrderReport(
            client_order_id=order.client_order_id, instrument=INST.key, status=S.ACCEPTED, ts_ns=1
        )
    )
    assert stack.orders.records[order.client_order_id].status is S.PARTIALLY_FILLED
    assert stack.of(SystemError) == []


@pytest.mark.parametrize(
    ("late", "first"),
    [
        (S.ACCEPTED, S.CANCELLED),  # the cancel's answer overtook the create's acknowledgement
        (S.ACCEPTED, S.EXPIRED),  # an IOC's expiry on the websocket before the REST answer
        (S.NEW, S.ACCEPTED),
        (S.PARTIALLY_FILLED, S.CANCELLED),
    ],
)
def test_a_late_report_of_an_earlier_stage_is_stale_not_an_error(stack, late, first):
    order = stack.order(qty="0.020")
    stack.submit(order)
    cid = order.client_order_id
    stack.orders.on_report(
        OrderReport(client_order_id=cid, instrument=INST.key, status=first, ts_ns=2 * MS)
    )
    stack.orders.on_report(
        OrderReport(client_order_id=cid, instrument=INST.key, status=late, ts_ns=3 * MS)
    )
    assert stack.orders.records[cid].status is first
    assert stack.of(SystemError) == []
    assert statuses(stack, cid)[-1] == ("stale", late.value)


def test_a_late_report_that_carries_more_fill_is_still_judged_by_the_state_machine(stack):
    # Not stale when it says more was filled than the order knows: a cancelled order does not
    # go back to partially filled, so it is refused and reported.
    order = stack.order(qty="0.020")
    stack.submit(order)
    cid = order.client_order_id
    stack.orders.on_report(
        OrderReport(client_order_id=cid, instrument=INST.key, status=S.CANCELLED, ts_ns=2 * MS)
    )
    stack.orders.on_report(
        OrderReport(
            client_order_id=cid,
            instrument=INST.key,
            status=S.PARTIALLY_FILLED,
            ts_ns=3 * MS,
            filled_quantity=Decimal("0.010"),
        )
    )
    assert stack.orders.records[cid].status is S.CANCELLED
    assert len(stack.of(SystemError)) == 1


# -- retries, backoff and the circuit breaker --------------------------------------------------
def test_backoff_is_exponential_and_capped():
    p = RetryPolicy(max_attempts=8, base_delay_s=0.25, multiplier=2.0, max_delay_s=2.0)
    assert [p.delay(n) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_an_unavailable_venue_is_retried_with_backoff_and_the_order_placed_once(stack):
    stack.venue.fail("submit_order", "unavailable", "unavailable")
    order = stack.order()
    assert stack.submit(order).status is S.ACCEPTED
    assert stack.time.sleeps == [0.25, 0.5]
    assert stack.venue.received == [order.client_order_id]
    assert stack.of(OrderFailed) == []


def test_a_disconnect_mid_order_is_looked_up_never_resent(stack):
    # The venue takes the order, then the connection drops before the answer.
    stack.venue.fail("submit_order", "unavailable_after")
    order = stack.order()
    assert stack.submit(order).status is S.ACCEPTED
    assert stack.venue.received == [order.client_order_id]  # sent once, found by id
    assert stack.venue.orders_at_venue() == [order.client_order_id]
    stack.trades([(1, 50_000.0, 1.0)])
    assert len(stack.venue.made) == 1
    assert stack.portfolio.position(INST.key).quantity == Decimal("0.010")


def test_retries_of_a_create_never_sent_are_bounded_and_end_it_rejected(stack):
    stack.venue.disconnect()  # connection refused: the create never left
    order = stack.order()
    with pytest.raises(VenueNotSentError):
        stack.submit(order)
    assert stack.venue.calls["submit_order"] == 5
    assert stack.time.sleeps == [0.25, 0.5, 1.0, 2.0]
    (failed,) = stack.of(OrderFailed)
    assert "not sent after 5 attempt(s)" in failed.reason
    assert stack.orders.records[order.client_order_id].status is S.REJECTED
    assert stack.portfolio.open_orders() == [] and stack.orders.unresolved() == []


def test_an_unknown_outcome_stays_open_until_the_venue_says_and_is_never_resent(stack):
    stack.venue.fail("submit_order", "timeout_before")  # lost on the way: the venue never saw it
    order = stack.order()
    with pytest.raises(VenueTimeoutError, match="outcome unknown"):
        stack.submit(order)
    cid = order.client_order_id
    # The venue may have it: the order blocks the instrument until the venue says.
    assert [o.client_order_id for o in stack.portfolio.open_orders()] == [cid]
    assert stack.orders.unresolved() == [cid]
    assert stack.orders.in_doubt()
    assert stack.of(OrderFailed) == []
    # "Not found" is not conclusive at once (exchanges lag): still in doubt, and a critical
    # event once the deadline passes ...
    for _ in range(3):
        stack.time.now += 30
        anyio.run(stack.orders.poll)
    assert stack.orders.unresolved() == [cid]
    (alert,) = [e for e in stack.of(SystemError) if "outcome still unknown" in e.error]
    assert cid in alert.error and "paused" in alert.error
    # ... until not found for not_found_settle_s: it never reached the venue.
    stack.time.now += 60
    anyio.run(stack.orders.poll)
    rec = stack.orders.records[cid]
    assert rec.status is S.REJECTED and "never reached it" in rec.reason
    assert stack.portfolio.open_orders() == [] and stack.orders.unresolved() == []
    assert not stack.orders.in_doubt()
    assert stack.venue.received == []  # never sent again


def test_the_circuit_breaker_opens_fails_fast_and_closes_after_its_cooldown(tmp_path):
    stack = Stack(
        tmp_path / "j.duckdb", order_settings=settings(attempts=1, threshold=3, cooldown=30)
    )
    stack.venue.disconnect()
    for _ in range(3):
        with pytest.raises(VenueUnavailableError):
            stack.submit(stack.order())
    (tripped,) = stack.of(CircuitBreaker)
    assert tripped.tripped and tripped.name == "venue:sim" and "3 consecutive" in tripped.reason
    # Open: the venue is not even called, the order fails at once.
    calls = stack.venue.calls["submit_order"]
    order = stack.order()
    with pytest.raises(CircuitOpenError):
        stack.submit(order)
    assert stack.venue.calls["submit_order"] == calls
    assert stack.orders.records[order.client_order_id].status is S.REJECTED
    assert "circuit breaker" in stack.of(OrderFailed)[-1].reason
    # Lookups do not count: they neither open nor close it.
    assert stack.orders.breaker_open(stack.venue)
    # After the cooldown it half-opens; a failed trial reopens it; a good one closes it.
    stack.time.now += 30
    with pytest.raises(VenueUnavailableError):
        stack.submit(stack.order())
    events = stack.of(CircuitBreaker)
    assert [e.tripped for e in events] == [True, True, True]
    assert events[1].reason.startswith("half-open")
    assert stack.orders.breaker_open(stack.venue)
    stack.time.now += 30
    stack.venue.reconnect()
    assert stack.submit(stack.order()).status is S.ACCEPTED
    assert [e.tripped for e in stack.of(CircuitBreaker)] == [True, True, True, True, False]
    assert not stack.orders.breaker_open(stack.venue)
    stack.journal.close()


# -- timeouts never duplicate an order ---------------------------------------------------------
def test_a_timeout_after_the_venue_accepted_adopts_its_state_and_does_not_resend(stack):
    stack.venue.fail("submit_order", "timeout_after")
    order = stack.order()
    assert stack.submit(order).status is S.ACCEPTED
    assert stack.venue.received == [order.client_order_id]
    assert stack.venue.calls["fetch_order"] == 1
    stack.trades([(1, 50_000.0, 1.0)])
    assert len(stack.venue.made) == 1
    assert stack.orders.records[order.client_order_id].status is S.FILLED
    assert stack.of(OrderFailed) == []


def test_a_hanging_venue_times_out_and_the_order_is_not_duplicated(tmp_path):
    stack = Stack(tmp_path / "j.duckdb", order_settings=settings(timeout=0.05))
    stack.venue.fail("submit_order", "hang_after")
    order = stack.order()
    assert stack.submit(order).status is S.ACCEPTED
    assert stack.venue.received == [order.client_order_id]
    assert stack.venue.orders_at_venue() == [order.client_order_id]
    stack.journal.close()


def test_a_timeout_whose_lookups_also_fail_waits_for_the_venue_never_resends(stack):
    stack.venue.fail("submit_order", "timeout_after")
    stack.venue.fail("fetch_order", *["unavailable"] * 3)
    order = stack.order()
    with pytest.raises(VenueTimeoutError):
        stack.submit(order)
    cid = order.client_order_id
    while stack.orders.unresolved():
        stack.time.now += 1
        anyio.run(stack.orders.poll)
    assert stack.orders.records[cid].status is S.ACCEPTED
    assert stack.venue.received == [cid]
    assert stack.venue.orders_at_venue() == [cid]
    stack.trades([(1, 50_000.0, 1.0)])
    assert len(stack.venue.made) == 1
    assert stack.portfolio.position(INST.key).quantity == Decimal("0.010")


# -- refusals --------------------------------------------------------------------------------
def test_a_venue_rejection_ends_the_order_and_says_why(stack):
    stack.venue.fail("submit_order", "reject")
    order = stack.order()
    with pytest.raises(OrderRejectedError):
        stack.submit(order)
    rec = stack.orders.records[order.client_order_id]
    assert rec.status is S.REJECTED and "insufficient margin" in rec.reason
    assert "insufficient margin" in stack.of(OrderFailed)[0].reason
    assert stack.portfolio.open_orders() == []


def test_a_rejection_reported_by_the_venue_goes_through_the_state_machine(stack):
    order = stack.order(qty="0.0105")  # not a multiple of the lot size
    assert stack.submit(order).status is S.REJECTED
    assert stack.orders.records[order.client_order_id].status is S.REJECTED
    assert statuses(stack, order.client_order_id) == [("submitted", "new"), ("report", "rejected")]


def test_a_venue_plugin_bug_leaves_the_order_unresolved_with_a_system_error(stack):
    stack.venue.fail("submit_order", "bug")
    order = stack.order()
    with pytest.raises(VenueUnavailableError):
        stack.submit(order)
    assert any("KeyError" in e.error for e in stack.of(SystemError))
    assert stack.orders.unresolved() == [order.client_order_id]


def test_a_journal_that_cannot_write_stops_new_orders(tmp_path):
    stack = Stack(tmp_path / "j.duckdb")
    stack.journal._con.close()  # the disk went away
    first = stack.order()
    with pytest.raises(VenueError, match="journal cannot record"):
        stack.submit(first)
    assert stack.venue.received == []
    assert any(
        e.source == "orders:journal"
        for e in stack.orders.take_events()
        if isinstance(e, SystemError)
    )


# -- fills are booked once ---------------------------------------------------------------------
def test_fills_re_sent_after_a_reconnect_are_booked_once(stack):
    order = stack.order(qty="0.030")
    stack.submit(order)
    stack.trades([(1, 50_000.0, 0.010)])
    stack.venue.disconnect()
    stack.trades([(2, 50_010.0, 0.010), (3, 50_020.0, 0.010)])  # filled while disconnected
    assert len(stack.orders.fills) == 1
    stack.venue.reconnect(resend=True)  # the venue re-sends all three fills
    assert len(stack.orders.fills) == 3 and stack.orders.duplicate_fills == 1
    pos = stack.portfolio.position(INST.key)
    venue_pos = anyio.run(stack.venue.fetch_positions)[0]
    assert pos == venue_pos
    assert stack.journal.count("fills") == 3
    # And again: nothing changes.
    stack.venue.reconnect(resend=True)
    assert stack.portfolio.position(INST.key) == venue_pos and stack.journal.count("fills") == 3


def test_a_fill_for_an_unknown_order_is_booked_and_reported(stack):
    fill = Fill(
        client_order_id="manual-1",
        instrument=INST.key,
        side=Side.SELL,
        quantity=Decimal("0.005"),
        price=Decimal("50000"),
        fee=Decimal("0.1"),
        ts_ns=1,
        trade_id="t1",
    )
    stack.orders.on_fill(fill)
    assert stack.portfolio.position(INST.key).quantity == Decimal("-0.005")
    assert "unknown order manual-1" in stack.of(SystemError)[0].error


def test_events_keep_the_engine_contract(stack):
    order = stack.order()
    stack.submit(order, at_ms=0)
    stack.trades([(1, 50_000.0, 1.0)])
    close = stack.order(side=Side.SELL, reduce_only=True)
    anyio.run(stack.orders.submit, stack.venue, close, 2 * MS, "trailing: stop hit")
    stack.trades([(3, 50_500.0, 1.0, -1)])  # a seller-initiated print
    assert [f.client_order_id for f in stack.orders.fills] == [
        order.client_order_id,
        close.client_order_id,
    ]
    assert len(stack.orders.closed_trades) == 1
    assert stack.orders.closed_trades[0][2] == Decimal("0.010") * Decimal("500.0")
    assert len(stack.of(OrderSubmitted)) == 2 and len(stack.of(FillEvent)) == 2
    assert stack.of(PositionChanged)[-1].position.is_flat
    closed = [e for e in stack.events if type(e).__name__ == "PositionClosed"]
    assert closed[0].reason == "trailing: stop hit"
    assert all(isinstance(e.report, OrderReport) for e in stack.of(OrderUpdated))


def test_limit_orders_keep_market_order_semantics_intact(stack):
    order = stack.order(type_=OrderType.LIMIT, price="49900.0")
    assert stack.submit(order).status is S.ACCEPTED
    stack.trades([(1, 50_000.0, 1.0)])
    assert [o.client_order_id for o in stack.portfolio.open_orders()] == [order.client_order_id]
    assert [r.client_order_id for r in stack.journal.open_orders()] == [order.client_order_id]


# -- memory: finished orders released once journaled ------------------------------------------
def test_finished_orders_beyond_the_window_are_released_and_read_back_when_asked(
    stack, monkeypatch
):
    """Only the recent finished orders stay in memory (their record, order, booked quantity
    and fill keys); an older one is read back from the journal when a report or a repeated
    fill for it comes, so nothing is booked twice and late reports still meet the state
    machine."""
    from tradewind.trading import order_journal

    monkeypatch.setattr(order_journal, "KEEP_FINISHED", 5)
    sent = []
    for n in range(40):
        side = Side.BUY if n % 2 == 0 else Side.SELL
        order = stack.order(side=side)
        stack.submit(order, at_ms=2 * n)
        stack.trades([(2 * n + 1, 50_000.0 + n, 1.0, 1 if side is Side.BUY else -1)])
        stack.publish()
        sent.append(order.client_order_id)
    om = stack.orders
    assert [stack.orders.records[c].status for c in sent[-5:]] == [S.FILLED] * 5
    # Bounded: the 5 newest finished orders, whatever the number of fills.
    assert len(om.records) == len(om.orders) == 5 and len(om._booked) == 5
    assert len(om._fill_keys) == len(om._keys_of) == 5
    assert om.released == 35 and len(om.fills) == 40
    assert len(om.order_tags) == 40  # the report's trades read every order's tag

    # A repeated fill of a released order: read back, recognised, not booked again.
    first = sent[0]
    (fill,) = [f for f in om.fills if f.client_order_id == first]
    position = stack.portfolio.position(INST.key)
    om.on_fill(fill)
    assert om.duplicate_fills == 1 and stack.portfolio.position(INST.key) == position
    assert om.records[first].status is S.FILLED and om._booked[first] == Decimal("0.010")
    # A late report of a released order meets its journaled state: filled -> cancelled is
    # refused as illegal, not taken for an unknown order.
    om.on_report(
        OrderReport(
            client_order_id=sent[1],
            instrument=INST.key,
            status=S.CANCELLED,
            ts_ns=200 * MS,
            filled_quantity=Decimal("0.010"),
        )
    )
    errors = [e.error for e in stack.of(SystemError)]
    assert len(errors) == 1 and "illegal order transition filled -> cancelled" in errors[0]
    # An id never sent is still unknown (no journal read for ids newer than every release).
    assert om._known(stack.orders.next_client_order_id()) is None
    assert stack.journal.count("fills") == 40
    # A released order opened again (its id known to the journal): its journaled state, not
    # a new order; an order with a new id past the released ones opens as new.
    again = Order(
        client_order_id=sent[2],
        instrument=INST.key,
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.010"),
    )
    assert om.open(stack.venue, again, 300 * MS) == om.records[sent[2]].report()
    assert om.records[sent[2]].status is S.FILLED
    fresh = stack.order()
    assert om.open(stack.venue, fresh, 301 * MS) is None
    rec = om.records[fresh.client_order_id]
    assert rec.status is S.NEW and rec.id_seq == om._id_seq(fresh.client_order_id) == 42
