"""The paper fill path's objects and rows made with less Python (issue 19, sixteenth session):
the compiled builders of the frozen classes made per fill (``tradewind._slots``), the ``events``
rows of the order, fill and position events written in one loop, the order states' terminal
flag read as an attribute. Each makes what the code before it made: the same objects, field
for field, and the same rows."""

from __future__ import annotations

import gc
import random
import sys
from decimal import Decimal
from typing import Any

import anyio
import attrs
import numpy as np
import pytest
from tradewind.config import load_config
from tradewind.journal import store
from tradewind.model import (
    Fill,
    FillEvent,
    Order,
    OrderReport,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    OrderUpdated,
    Position,
    PositionChanged,
    PositionClosed,
    Side,
)
from tradewind.model.frozen import _slot, builder
from tradewind.trading import engine
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text
from tests.test_frozen_builders import BUILDERS, _value


def test_every_builder_on_the_fill_path_is_the_compiled_one():
    """The builders the fill path calls are ``tradewind._slots``' (the code before made each a
    Python function writing its slots through their descriptors' ``__set__``)."""
    for module, name, cls, _ in BUILDERS:
        build = getattr(module, name)
        assert type(build).__name__ == "builtin_function_or_method", (module.__name__, name)
        assert build.__self__[0] is cls  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(3))
def test_the_compiled_builder_makes_the_python_builders_objects(seed: int):
    """Against the Python builder (the reference, ``compiled=False``): the same class, every
    slot holding the very object given, equal and hashing alike, frozen, tracked by the
    collector as the Python builder's objects are."""
    rng = random.Random(seed)
    for _, _, cls, fields in BUILDERS:
        fast, ref = builder(cls, fields), builder(cls, fields, compiled=False)
        assert type(ref).__name__ == "function"
        for _ in range(200):
            values = [_value(rng, f) for f in fields]
            a, b = fast(*values), ref(*values)
            assert type(a) is type(b) is cls
            for f, v in zip(fields, values, strict=True):
                assert getattr(a, f) is v and getattr(b, f) is v, (cls.__name__, f)
            assert a == b and hash(a) == hash(b)
            assert gc.is_tracked(a) == gc.is_tracked(b)
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                setattr(a, fields[0], values[0])


def test_the_compiled_builder_holds_one_reference_per_slot_and_frees_them():
    """Each value gains one reference per object built and loses it when the object goes:
    no leak, no early free."""
    fields = tuple(a.name for a in attrs.fields(OrderReport))
    build = builder(OrderReport, fields)
    # Objects of this test's own (a shared one's count moves with the process's garbage).
    values = ["c-" + str(random.random()), "i" + str(random.random()), object(), 10**30 + 7]
    values += [Decimal("1.5"), "v-" + str(random.random()), "why" + str(random.random())]
    gc.collect()
    before = [sys.getrefcount(v) for v in values]
    made = [build(*values) for _ in range(1000)]
    assert [sys.getrefcount(v) for v in values] == [n + 1000 for n in before]
    del made
    gc.collect()
    assert [sys.getrefcount(v) for v in values] == before


def test_the_compiled_builder_refuses_what_is_not_a_writable_slot_of_the_class():
    from tradewind import _slots

    @attrs.frozen
    class Plain:
        a: int
        b: str = ""

    slot_a, slot_b = _slot(Plain, "a"), _slot(Plain, "b")
    build = _slots.builder(Plain, (slot_b, slot_a))
    assert build("x", 1) == Plain(a=1, b="x")
    with pytest.raises(TypeError, match="takes 2 positional arguments"):
        build("x")
    with pytest.raises(TypeError, match="given twice"):
        _slots.builder(Plain, (slot_a, slot_a))
    with pytest.raises(TypeError, match="not a writable object slot of"):
        _slots.builder(Plain, (_slot(Position, "quantity"),))  # another class's slot
    with pytest.raises(TypeError, match="not a slot's member descriptor"):
        _slots.builder(Plain, (Plain.__dict__["__repr__"],))
    with pytest.raises(TypeError, match="not a writable object slot of"):
        _slots.builder(complex, (complex.__dict__["real"],))  # a read-only double
    with pytest.raises(TypeError):
        _slots.builder(Plain, [slot_a])  # a tuple of descriptors only


def test_the_order_builder_is_the_compiled_one_with_orders_checks():
    """``Engine._send``'s order: the compiled builder, then Order's own checks (which raise
    as its constructor does)."""
    fields = dict(
        client_order_id="c1",
        instrument="BTCUSDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.001"),
        price=None,
        stop_price=None,
        time_in_force=Order.__attrs_attrs__.time_in_force.default,  # type: ignore[attr-defined]
        reduce_only=False,
        created_ts_ns=5,
        tag="entry",
        intent="entry",
    )
    got = engine._build_order(*(fields[name] for name in engine._ORDER_FIELDS))
    assert got == Order(**fields)  # type: ignore[arg-type]
    assert engine._build_order.__code__.co_name == "build_compiled"
    with pytest.raises(ValueError) as exc:
        engine._build_order(
            *(dict(fields, quantity=Decimal(0))[name] for name in engine._ORDER_FIELDS)
        )
    with pytest.raises(ValueError) as want:
        Order(**dict(fields, quantity=Decimal(0)))  # type: ignore[arg-type]
    assert str(exc.value) == str(want.value)


def test_each_order_status_knows_whether_it_is_terminal_as_an_attribute():
    """A member's own attribute (the code before asked a property, a Python call per read):
    the same answers."""
    terminal = {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}
    terminal.add(OrderStatus.EXPIRED)
    for status in OrderStatus:
        assert status.__dict__["is_terminal"] is (status in terminal)
        assert status.is_terminal is (status in terminal)


def _staged_events(tmp_path: Any) -> list[tuple[Any, ...]]:
    """The rows a demo backtest's journal stages unencoded, as :meth:`Journal.record` staged
    them (``(run_id, seq, event)`` and a signal's ``(run_id, seq, event, reasons)``)."""
    staged: list[tuple[Any, ...]] = []
    real = store._event_rows

    def keep(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        staged.extend(rows)
        return real(rows)

    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(store, "_event_rows", keep)
        anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "j.duckdb")).run)
    return staged


def test_the_events_rows_are_event_row_s_of_each_staged_row(tmp_path):
    """:func:`store._event_rows` of a backtest's staged rows, and of events whose values send
    the direct writers down the general path, against :func:`store._event_row` of each."""
    staged = _staged_events(tmp_path)
    kinds = {type(r[2]).__name__ for r in staged}
    assert {"FillEvent", "OrderSubmitted", "OrderUpdated", "PositionChanged"} <= kinds
    assert any(len(r) == 4 for r in staged)  # a signal's row with its reasons
    fill = Fill(
        client_order_id="c1",
        instrument="BTCUSDT",
        side=Side.SELL,
        quantity=Decimal("0.010"),
        price=Decimal("50000.5"),
        fee=Decimal("0.2"),
        ts_ns=7,
    )
    odd = [
        # A numpy integer time, a float P&L, a subclass of a Decimal: the general path.
        FillEvent(ts_ns=1, fill=attrs.evolve(fill, ts_ns=np.int64(7)), realized_pnl=None),
        FillEvent(ts_ns=2, fill=fill, realized_pnl=1.5),  # type: ignore[arg-type]
        PositionChanged(
            ts_ns=3, position=Position(instrument="x", quantity=type("D", (Decimal,), {})(1))
        ),
        PositionClosed(ts_ns=4, position=Position(instrument="x"), reason="é\n"),
        OrderUpdated(
            ts_ns=5,
            report=OrderReport(
                client_order_id="c", instrument="i", status=OrderStatus.NEW, ts_ns=np.int64(5)
            ),
        ),
    ]
    order = Order(
        client_order_id="c", instrument="i", side=Side.BUY, type=OrderType.MARKET, quantity=1
    )  # type: ignore[arg-type]
    odd.append(OrderSubmitted(ts_ns=6, order=order))
    rows = staged + [("run", 10_000 + i, e) for i, e in enumerate(odd)]
    rows.append(("run", 1, 2, "Done", 20, "{}"))  # a row encoded already
    assert store._event_rows(rows) == [r if len(r) == 6 else store._event_row(r) for r in rows]


def test_a_tick_batchs_slice_is_built_by_the_compiled_builder(monkeypatch):
    """``TickBatch.slice`` through the compiled builder gives what its Python path (each slot
    through its descriptor) gives: the same instrument object and views of the same arrays."""
    from tradewind.model import TickBatch, ticks

    assert type(ticks._build_batch).__name__ == "builtin_function_or_method"
    n = 50
    batch = TickBatch.from_arrays(
        "BTCUSDT", np.arange(n), np.linspace(1, 2, n), np.ones(n), np.where(np.arange(n) % 2, 1, -1)
    )
    fast = [batch.slice(i, j) for i, j in ((0, n), (3, 17), (17, 3), (-5, n + 9), (n, n))]
    monkeypatch.setattr(ticks, "_build_batch", None)
    slow = [batch.slice(i, j) for i, j in ((0, n), (3, 17), (17, 3), (-5, n + 9), (n, n))]
    for a, b in zip(fast, slow, strict=True):
        assert type(a) is TickBatch and a.instrument is b.instrument
        for name in ("ts_ns", "price", "size", "side", "trade_id"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.base is y.base and x.shape == y.shape and x.strides == y.strides
            assert x.__array_interface__["data"] == y.__array_interface__["data"]
            assert x.flags.writeable == y.flags.writeable and x.dtype == y.dtype
