"""The paper fill path's repeats left out: the simulated venue's acknowledgement, reported and
then returned by ``submit_order``, goes through the state machine once; ``on_report`` is the
state machine's ``_apply``; a closed breaker with nothing counted is not reset after each
create; the portfolio's fill booking keeps its open instruments without ``_track_open``.

Each cut is compared with the path before it (every answer applied, every breaker reset) on
the random paper orders of tests/test_frozen_builders.py, and the acknowledgement's cut on
venues whose answer is not a repeat: one that fills the order before it answers (the answer
is then a stale report, journaled as such) and one that answers without reporting."""

from __future__ import annotations

import sys
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from tradewind.model import Fill, Order, OrderReport, OrderStatus, Side
from tradewind.trading import order_state
from tradewind.trading.order_retry import BreakerPolicy, VenueCalls, _Breaker
from tradewind.trading.portfolio import Portfolio

from tests.faulty_venue import FaultyVenue, Stack
from tests.test_frozen_builders import _assert_same, _paper_orders


def _pairs(fn: Any, *args: Any) -> set[tuple[str, str]]:
    """(caller, callee) names of the Python calls made while ``fn(*args)`` runs."""
    pairs: set[tuple[str, str]] = set()

    def prof(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_back is not None:
            pairs.add((frame.f_back.f_code.co_name, frame.f_code.co_name))

    sys.setprofile(prof)
    try:
        fn(*args)
    finally:
        sys.setprofile(None)
    return pairs


def _every_answer_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    """The path before: ``_place`` finds no report applied last, so it applies each answer."""
    monkeypatch.setattr(
        order_state.OrderStateMachine,
        "_applied",
        property(lambda self: (None, None), lambda self, value: None),
    )


def _every_breaker_reset(monkeypatch: pytest.MonkeyPatch, resets: list[int]) -> None:
    """The path before: ``_success`` after every create answered, whatever the breaker."""
    real_call = VenueCalls._call
    real_success = VenueCalls._success

    def counted(self: VenueCalls, br: _Breaker) -> None:
        resets.append(1)
        real_success(self, br)

    async def call(self: VenueCalls, venue: Any, key: str, fn: Any, **kw: Any) -> Any:
        result = await real_call(self, venue, key, fn, **kw)
        if kw.get("create"):
            self._success(self._breakers[key])  # (after a reset, a second changes nothing)
        return result

    monkeypatch.setattr(VenueCalls, "_success", counted)
    monkeypatch.setattr(VenueCalls, "_call", call)


def test_the_paper_orders_journal_the_same_rows_as_with_every_answer_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Random market and limit orders (fills whole and partial, rejections, cancels): the
    journal's tables (orders, order events, fills, positions, events) are the path before's
    row for row, and the simulated venue's answer is never applied again (nor the breaker
    reset) on this path, while the path before does both for every create."""
    pairs = _pairs(_paper_orders, tmp_path / "cut.duckdb")
    assert ("_place", "_apply") not in pairs and ("_call", "_success") not in pairs
    assert ("on_report", "_apply") in pairs  # the venue's report is taken (the wrapper's)
    with monkeypatch.context() as m:
        _every_answer_applied(m)
        resets: list[int] = []
        _every_breaker_reset(m, resets)
        before = _pairs(_paper_orders, tmp_path / "before.duckdb")
    assert ("_place", "_apply") in before and len(resets) > 10
    _assert_same(tmp_path / "cut.duckdb", tmp_path / "before.duckdb")


class _FillsBeforeAnswering(FaultyVenue):
    """Reports the acknowledgement, fills the whole order, then answers the acknowledgement:
    the answer is stale by then (the order moved on), not a repeat."""

    async def submit_order(self, order: Order) -> OrderReport:
        report = await self.inner.submit_order(order)  # reported through on_report
        self.on_fill(
            Fill(
                client_order_id=order.client_order_id,
                instrument=order.instrument,
                side=order.side,
                quantity=order.quantity,
                price=Decimal("50000.0"),
                fee=Decimal("0.2"),
                ts_ns=report.ts_ns,
                trade_id=f"x-{order.client_order_id}",
            )
        )
        return report


class _AnswersWithoutReporting(FaultyVenue):
    """Answers the acknowledgement without reporting it first (as most real venues do)."""

    async def submit_order(self, order: Order) -> OrderReport:
        sink, self._sink = self._sink, None
        try:
            return await self.inner.submit_order(order)
        finally:
            self._sink = sink


def _order_events(path: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT seq, client_order_id, kind, from_status, to_status, filled_quantity, detail "
            "FROM order_events ORDER BY seq"
        ).fetchall()
    finally:
        con.close()


def _venue_run(path: Path, venue_class: type[FaultyVenue]) -> tuple[list[str], list[str]]:
    """Three orders through ``venue_class``: each order's last state, and the events."""
    stack = Stack(path, run_id="run1")
    stack.venue = venue_class(stack.sim)
    stack.venue.set_sink(stack.orders)
    try:
        cids = []
        for i, side in enumerate((Side.BUY, Side.SELL, Side.BUY)):
            order = stack.order(side=side)
            cids.append(order.client_order_id)
            stack.submit(order, at_ms=10 * (i + 1))
            stack.publish()
            stack.journal.commit()
        states = [stack.orders.records[c].status.value for c in cids]
        events = [repr(e) for e in stack.events]
    finally:
        stack.journal.close()
    return states, events


@pytest.mark.parametrize("venue_class", [_FillsBeforeAnswering, _AnswersWithoutReporting])
def test_an_answer_that_is_not_the_repeat_of_the_record_is_still_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, venue_class: type[FaultyVenue]
):
    """The answer is left out only when it is the report applied last *and* the order's record
    is still the one that report left: an acknowledgement answered after the order filled is
    journaled as a stale report, one never reported moves the order to accepted — the same
    rows, states and events as when every answer is applied."""
    cut = _venue_run(tmp_path / "cut.duckdb", venue_class)
    with monkeypatch.context() as m:
        _every_answer_applied(m)
        before = _venue_run(tmp_path / "before.duckdb", venue_class)
    assert cut == before
    rows = _order_events(tmp_path / "cut.duckdb")
    assert rows == _order_events(tmp_path / "before.duckdb")
    kinds = [r[2] for r in rows]
    if venue_class is _FillsBeforeAnswering:
        assert kinds.count("stale") == 3 and cut[0] == ["filled"] * 3
    else:
        assert kinds.count("submit") == 3 and cut[0] == ["accepted"] * 3


def test_on_report_is_the_state_machines_apply_of_a_report():
    from tradewind.trading.orders import OrderManager

    assert OrderManager.on_report is order_state.OrderStateMachine._apply
    assert order_state.OrderStateMachine._apply.__defaults__ == ("report",)


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"failures": 3},
        {"failures": 5, "opened_at": 900.0},
        {"failures": 5, "opened_at": 900.0, "half_open_announced": True},
        {"half_open_announced": True},
    ],
)
def test_a_create_answered_leaves_the_breaker_as_a_reset_would(state: dict[str, Any]):
    """A successful create through ``_call``: the breaker and the events are those of the
    path before, which reset the breaker after every answered create (``_call`` followed by
    ``_success``: after a reset a second one changes nothing), whatever the breaker's state
    (closed and clean: untouched; counted failures, open, half-open: reset, and closed with
    its event)."""

    class Calls(VenueCalls):
        def __init__(self) -> None:
            from tradewind.trading.order_retry import OrderSettings

            self.settings = OrderSettings(breaker=BreakerPolicy(cooldown_s=10.0))
            self.pending = []
            self._clock = lambda: 1_000.0
            self._breakers = {}
            self._ts = 7
            self.submitters = {}

    class Venue:
        instance = "v"

    async def answer() -> str:
        return "ok"

    cut, ref = Calls(), Calls()
    for calls in (cut, ref):
        calls._breakers["v"] = _Breaker(name="venue:v", policy=calls.settings.breaker, **state)
    for calls in (cut, ref):
        got = anyio.run(partial(calls._call, Venue(), "v", answer, create=True, trial=True))
        assert got == "ok"
    ref._success(ref._breakers["v"])
    assert repr(cut._breakers["v"]) == repr(ref._breakers["v"])
    assert [repr(e) for e in cut.pending] == [repr(e) for e in ref.pending]
    assert cut._breakers["v"].failures == 0 and cut._breakers["v"].opened_at is None
    assert bool(cut.pending) == ("opened_at" in state)  # half-open announced and/or closed


def test_the_portfolios_fill_booking_makes_no_helper_call():
    """``apply_fill`` keeps the open instruments and reads the P&L currency and the account
    without ``_track_open``, ``is_flat``, ``pnl_currency`` or ``Accounts.get`` (what it keeps
    is the code before's: tests/test_sim_fill_fast_path.py compares them fill by fill)."""
    from tradewind.venues.sim import default_instrument

    inst = default_instrument()
    p = Portfolio({inst.key: inst}, Decimal("1000"))
    fills = [
        Fill(
            client_order_id=f"c{i}",
            instrument=inst.key,
            side=side,
            quantity=Decimal("0.010"),
            price=Decimal("50000.0"),
            fee=Decimal("0.2"),
            ts_ns=i,
            trade_id=f"t{i}",
        )
        for i, side in enumerate((Side.BUY, Side.SELL, Side.SELL, Side.BUY))
    ]

    def book() -> None:
        for f in fills:
            p.apply_fill(f)

    pairs = _pairs(book)
    assert ("apply_fill", "apply") in pairs
    called = {callee for caller, callee in pairs if caller == "apply_fill"}
    assert not called & {"_track_open", "is_flat", "pnl_currency", "get"}
    assert p.position(inst.key).quantity == 0 and not p._open and p._open_keys == ()
    assert OrderStatus.FILLED.is_terminal  # (the states the cuts read are members' attributes)


def test_a_fill_applied_again_to_the_very_position_is_answered_without_a_comparison_call():
    """The fill booking applies the simulated venue's fill to the position the venue has just
    applied it to (the same object, once the portfolio holds the venue's result): the kept
    result is given by the identity test alone, ``_same_position`` (which begins with that
    test) is not called; a position of equal fields but other objects still is, and gets
    the kept result only when its fields are the very same objects."""
    from tradewind.model import Position
    from tradewind.model import portfolio as portfolio_module

    fill = Fill(
        client_order_id="c",
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        quantity=Decimal("0.010"),
        price=Decimal("50000.0"),
        fee=Decimal("0.2"),
        ts_ns=5,
        trade_id="t",
    )
    pos = Position(instrument="sim:BTCUSDT")
    first = pos.apply(fill)
    pairs = _pairs(pos.apply, fill)
    assert pos.apply(fill) is first and ("apply", "_same_position") not in pairs
    twin = Position(instrument="sim:BTCUSDT")  # the same default objects: the same result
    pairs = _pairs(twin.apply, fill)
    assert twin.apply(fill) is first and ("apply", "_same_position") in pairs
    other = Position(instrument="sim:BTCUSDT", quantity=Decimal("0.0"))  # equal, not same
    assert other.apply(fill) is not first and other.apply(fill).quantity == first.quantity
    portfolio_module._last_apply = (None, None, None, 0, "", None)
