"""The paper fill path's journal staging and bus hand-over written in one body per call (issue
19): ``Journal.record_fill`` and ``Journal.record_order`` stage the rows the staging methods
staged, with the same sequence numbers; the fills read back from the journal are the
constructor's objects; a subscriber of every event gets each event of ``publish_many`` as
``_call`` gave it, failures included. Each is compared with the path it replaces, and the
path is checked to be the one-body one (no helper call per fill, per order, per event)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import anyio
import pytest
from tradewind.bus import EventBus, Subscription
from tradewind.journal import store
from tradewind.journal.store import Journal, OrderRecord
from tradewind.model import (
    Event,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Position,
    RunStarted,
    Side,
    SystemError,
)

from tests.faulty_venue import INST

D = Decimal

#: The helpers the one-body calls no longer make.
_HELPERS = {"_stage_fill", "_stage_position", "_stage_order", "_order_event", "_next", "_add"}


@contextmanager
def _calls(everywhere: bool = False) -> Iterator[list[str]]:
    """The names of the Python functions of the journal's module (``everywhere``: of any
    module, as ``file:name``) called meanwhile."""
    names: list[str] = []

    def prof(frame: Any, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        if everywhere:
            names.append(f"{code.co_filename}:{code.co_name}")
        elif code.co_filename == store.__file__:
            names.append(code.co_name)

    sys.setprofile(prof)
    try:
        yield names
    finally:
        sys.setprofile(None)


def _journal(path: str, *, group_commit: bool = True) -> Journal:
    j = Journal(path, "r1")
    j.start("paper", "cfg.toml", 0, session_id="s1")
    j.group_commit = group_commit
    j.simulated_venues = frozenset({"sim"})
    j.set_pnl_currencies({INST.key: "USDT"})
    return j


def _order(cid: str, side: Side = Side.BUY, qty: str = "0.010") -> Order:
    return Order(
        client_order_id=cid,
        instrument=INST.key,
        side=side,
        type=OrderType.MARKET,
        quantity=D(qty),
    )


def _fills() -> list[tuple[Fill, OrderRecord | None, OrderStatus | None, str]]:
    """Fills of every shape the booking journals: with and without a trade id (the key
    derived), a fee rate, a fee in the base asset, a partial and a late fill, no order."""
    out: list[tuple[Fill, OrderRecord | None, OrderStatus | None, str]] = []
    specs = [
        ("c-1", Side.BUY, "0.010", "100.5", "0.0004", "t1", "quote", None, "", OrderStatus.FILLED),
        (
            "c-2",
            Side.SELL,
            "0.004",
            "101.25",
            "0",
            "",
            "quote",
            None,
            "",
            OrderStatus.PARTIALLY_FILLED,
        ),
        (
            "c-2",
            Side.SELL,
            "0.016",
            "99.0",
            "0.01",
            "t3",
            "other",
            D("600.5"),
            "BNB",
            OrderStatus.FILLED,
        ),
        (
            "c-3",
            Side.BUY,
            "0.002",
            "98.7",
            "0.000001",
            "t4",
            "base",
            None,
            "BTC",
            OrderStatus.FILLED,
        ),
    ]
    for i, (cid, side, qty, price, fee, tid, asset, rate, cur, status) in enumerate(specs):
        fill = Fill(
            client_order_id=cid,
            instrument=INST.key,
            side=side,
            quantity=D(qty),
            price=D(price),
            fee=D(fee),
            ts_ns=10 + i,
            liquidity="maker" if i % 2 else "taker",
            trade_id=tid,
            fee_currency=cur,
            fee_asset=asset,
            fee_rate=rate,
        )
        rec = OrderRecord(
            client_order_id=cid,
            instrument=INST.key,
            venue="sim",
            order=_order(cid, side, "0.020"),
            status=status,
            filled_quantity=D(qty) * 2,
            venue_order_id=f"v-{i}",
            reason="late" if i == 3 else "",
            updated_ts_ns=10 + i,
        )
        prev = OrderStatus.ACCEPTED if i != 3 else OrderStatus.FILLED
        out.append((fill, rec, prev, "late_fill" if i == 3 else "fill"))
    out.append((out[0][0], None, None, "fill"))  # a fill of an unknown order
    return out


def _record_fill_before(
    j: Journal,
    fill: Fill,
    position: Position,
    rec: OrderRecord | None,
    from_status: OrderStatus | None,
    kind: str,
) -> None:
    """``Journal.record_fill`` as it was: the staging methods, one after the other."""
    key = store.fill_key(fill)
    j._stage_fill(fill, key)
    j._stage_position(position, fill.ts_ns, "fill")
    if rec is not None:
        j._stage_order(rec, fill.ts_ns, kind, from_status, f"fill {key} {fill.quantity!s}")
    j._step_done()


def _record_order_before(
    j: Journal, rec: OrderRecord, ts_ns: int, kind: str, from_status: Any, detail: str
) -> None:
    """``Journal.record_order`` as it was (a simulated venue's order: no intent log)."""
    j._stage_order(rec, ts_ns, kind, from_status, detail)
    j._step_done(before_send=False)


def _staged(j: Journal) -> tuple[Any, ...]:
    return (
        {t: list(rows) for t, rows in j._pending.items()},
        j._seq,
        j._npending,
        dict(j._order_seq),
        dict(j._dirty_orders),
    )


def _tables(j: Journal) -> dict[str, list[tuple[Any, ...]]]:
    cols = {
        "fills": "seq, client_order_id, trade_id, fill_key, side, quantity, price, fee, ts_ns, "
        "liquidity, fee_currency, fee_asset, fee_rate",
        "positions": "seq, ts_ns, instrument, quantity, avg_price, realized_pnl, fees, "
        "opened_ts_ns, lots, reason, pnl_currency",
        "order_events": "seq, ts_ns, client_order_id, kind, from_status, to_status, filled, "
        "venue_order_id, detail",
        "orders": "client_order_id, status, filled_quantity, venue_order_id, reason, "
        "updated_ts_ns, last_seq",
    }
    out = {}
    for table, c in cols.items():
        try:
            out[table] = j.query(f"SELECT {c} FROM {table} ORDER BY 1")
        except Exception:  # a column named otherwise: every column
            out[table] = j.query(f"SELECT * EXCLUDE (run_id, session_id) FROM {table} ORDER BY 1")
    return out


def _book(j: Journal, record: Callable[..., None]) -> None:
    pos = Position(instrument=INST.key)
    for fill, rec, prev, kind in _fills():
        pos = pos.apply(fill)
        record(j, fill, pos, rec, prev, kind)


def test_record_fill_stages_the_rows_the_staging_methods_staged(tmp_path):
    new, old = _journal(str(tmp_path / "new.duckdb")), _journal(str(tmp_path / "old.duckdb"))
    new.pnl_currencies = old.pnl_currencies = {INST.key: "USDT"}
    _book(new, lambda j, f, p, r, s, k: j.record_fill(f, p, r, from_status=s, kind=k))
    _book(old, _record_fill_before)
    assert _staged(new) == _staged(old)
    assert _staged(new)[0]["fills"] and _staged(new)[0]["order_events"]
    new.flush(), old.flush()
    assert _tables(new) == _tables(old)
    new.close(), old.close()


def test_record_fill_of_a_journal_without_group_commit_writes_at_once_as_before(tmp_path):
    new = _journal(str(tmp_path / "new.duckdb"), group_commit=False)
    old = _journal(str(tmp_path / "old.duckdb"), group_commit=False)
    _book(new, lambda j, f, p, r, s, k: j.record_fill(f, p, r, from_status=s, kind=k))
    _book(old, _record_fill_before)
    assert new._npending == old._npending == 0  # each fill its own durable write
    # (the fill of an unknown order repeats the first one: one row by its key)
    assert _tables(new) == _tables(old) and len(_tables(new)["fills"]) == 4
    new.close(), old.close()


@pytest.mark.parametrize("detail", ["", "why"])
def test_record_order_stages_the_rows_the_staging_methods_staged(tmp_path, detail):
    new, old = _journal(str(tmp_path / "new.duckdb")), _journal(str(tmp_path / "old.duckdb"))
    steps = [
        ("c-1", OrderStatus.NEW, None, "submitted", ""),
        ("c-1", OrderStatus.ACCEPTED, OrderStatus.NEW, "report", ""),
        ("c-2", OrderStatus.NEW, None, "submitted", ""),
        ("c-2", OrderStatus.REJECTED, OrderStatus.NEW, "report", "too small"),
        ("c-1", OrderStatus.CANCELLED, OrderStatus.ACCEPTED, "report", "ioc"),
    ]
    for i, (cid, status, prev, kind, reason) in enumerate(steps):
        rec = OrderRecord(
            client_order_id=cid,
            instrument=INST.key,
            venue="sim",
            order=_order(cid),
            status=status,
            filled_quantity=D(i) / 1000,
            venue_order_id=f"v-{cid}" if i else "",
            reason=reason,
            updated_ts_ns=i,
        )
        new.record_order(rec, ts_ns=i, kind=kind, from_status=prev, detail=detail)
        _record_order_before(old, rec, i, kind, prev, detail)
    assert _staged(new) == _staged(old)
    new.flush(), old.flush()
    assert _tables(new) == _tables(old)
    new.close(), old.close()


def test_record_fill_and_record_order_make_no_helper_call(tmp_path):
    j = _journal(str(tmp_path / "j.duckdb"))
    fill, rec, prev, kind = _fills()[0]
    pos = Position(instrument=INST.key).apply(fill)
    with _calls() as names:
        j.record_order(rec, ts_ns=1, kind="report", from_status=OrderStatus.NEW)
        j.record_fill(fill, pos, rec, from_status=prev, kind=kind)
    assert names[0] == "record_order" and "record_fill" in names
    assert not _HELPERS & set(names), names
    j.close()


def test_the_fills_read_back_are_the_constructors_objects_built_through_the_slots(tmp_path):
    j = _journal(str(tmp_path / "j.duckdb"))
    _book(j, lambda j, f, p, r, s, k: j.record_fill(f, p, r, from_status=s, kind=k))
    j.flush()
    want = [f for f, _, _, _ in _fills()][:4]  # (the fifth repeats the first: one row)
    with _calls(everywhere=True) as names:
        got = j.fills()
    assert got == want
    for a, b in zip(got, want, strict=True):
        assert type(a) is Fill and a.side is b.side
        for name in Fill.__slots__:
            x, y = getattr(a, name, None), getattr(b, name, None)
            assert type(x) is type(y) and str(x) == str(y), name
    assert got[2].fee_rate == D("600.5") and got[1].trade_id == ""
    # No constructor per fill (attrs' generated ``__init__``), nor ``Side``'s ``__call__``.
    assert not [n for n in names if "Fill" in n and n.endswith(":__init__")], names
    assert not [n for n in names if n.endswith("enum.py:__call__")], names
    j.close()


def _ev(i: int) -> RunStarted:
    return RunStarted(ts_ns=i, run_id="r", mode="backtest")


def _run_bus(takes_all: bool) -> tuple[Subscription, list[Any], list[SystemError]]:
    got: list[Any] = []
    errors: list[SystemError] = []

    def journal(e: Event) -> Any:
        if e.ts_ns in (3, 7):
            raise OSError(f"disk gone at {e.ts_ns}")
        if e.ts_ns == 5:
            return _coro()  # an awaitable: refused, closed, reported
        got.append(e.ts_ns)
        return None

    async def _coro() -> None:
        pass

    async def watcher(e: Event) -> None:
        if isinstance(e, SystemError):
            errors.append(e)

    async def main() -> Subscription:
        async with EventBus(capacity=64) as bus:
            accepts = None if takes_all else (lambda cls: True)
            sub = bus.subscribe("journal", journal, inline=True, accepts=accepts)
            bus.subscribe("watcher", watcher)
            bus.hold()
            await bus.publish_many([_ev(i) for i in range(1, 6)])
            await bus.publish_many([_ev(i) for i in range(6, 10)])
            await bus.release()
        return sub

    sub = anyio.run(main)
    return sub, got, errors


def test_a_subscriber_of_every_event_gets_publish_many_as_call_gave_it():
    """The one-body loop against the per-event ``_call`` (a subscriber with ``accepts`` still
    goes through it): the same events in order, counts and failure reports."""
    fast, got_fast, err_fast = _run_bus(takes_all=True)
    slow, got_slow, err_slow = _run_bus(takes_all=False)
    assert got_fast == got_slow == [1, 2, 4, 6, 8, 9]
    assert (fast.delivered, fast.failed) == (slow.delivered, slow.failed) == (6, 3)
    assert [(e.ts_ns, e.source, e.error) for e in err_fast] == [
        (e.ts_ns, e.source, e.error) for e in err_slow
    ]
    assert len(err_fast) == 3 and "returned an awaitable" in err_fast[1].error


def test_a_subscriber_of_every_event_is_not_called_through_call_per_event(monkeypatch):
    calls: list[int] = []
    real = EventBus._call

    def counted(self: EventBus, sub: Subscription, event: Event) -> None:
        calls.append(event.ts_ns)
        real(self, sub, event)

    monkeypatch.setattr(EventBus, "_call", counted)
    sub, got, _ = _run_bus(takes_all=True)
    assert got == [1, 2, 4, 6, 8, 9] and calls == [] and sub.delivered == 6
    _, got, _ = _run_bus(takes_all=False)
    assert got == [1, 2, 4, 6, 8, 9] and len(calls) == 9  # the general path, compared above


class _AlwaysTrue(set):  # type: ignore[type-arg]
    """A set whose truth is always True: the guards before ``_settled`` let every call
    through, as the code before them called it for every fill and transition."""

    def __bool__(self) -> bool:
        return True


def test_a_paper_order_managers_journal_is_the_same_without_the_settled_calls(
    tmp_path, monkeypatch
):
    """``FillBooking.on_fill`` and ``OrderStateMachine._apply`` call ``_settled`` only while
    an order is in doubt (its own first test), and read ``is_flat`` as ``quantity == 0``: the
    random paper orders of tests/test_frozen_builders.py journal the same rows as with every
    ``_settled`` call made, and none of those calls is made."""
    from tradewind.trading.orders import OrderManager

    from tests.test_fill_path_repeats import _pairs
    from tests.test_frozen_builders import _assert_same, _paper_orders

    pairs = _pairs(_paper_orders, tmp_path / "guarded.duckdb")
    assert ("on_fill", "apply_fill") in pairs and ("_apply", "_store") in pairs
    assert not {("on_fill", "_settled"), ("_apply", "_settled"), ("on_fill", "is_flat")} & pairs

    init = OrderManager.__init__

    def every_call(self: OrderManager, *a: Any, **k: Any) -> None:
        init(self, *a, **k)
        self._alerted = _AlwaysTrue()

    monkeypatch.setattr(OrderManager, "__init__", every_call)
    _paper_orders(tmp_path / "every.duckdb")
    _assert_same(tmp_path / "guarded.duckdb", tmp_path / "every.duckdb")
