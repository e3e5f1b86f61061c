"""The positional builders of the objects made per fill (tradewind.model.frozen) make the objects
their classes' constructors make, field for field, and a paper and a backtest journal are the
same rows with them as with the constructors."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.journal import store
from tradewind.journal.store import TABLES, OrderRecord
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
    Side,
    TimeInForce,
)
from tradewind.model import portfolio as model_portfolio
from tradewind.model.frozen import builder
from tradewind.trading import fill_booking, order_state, orders
from tradewind.trading.engine import Engine
from tradewind.venues import sim

from tests.faulty_venue import INST, Stack
from tests.test_determinism import _rows
from tests.test_engine import demo_config_text

#: Every builder on the fill path: (module, name, class, its fields in the builder's order).
BUILDERS: list[tuple[Any, str, type, tuple[str, ...]]] = [
    (
        store,
        "new_record",
        OrderRecord,
        (
            "client_order_id",
            "instrument",
            "venue",
            "order",
            "status",
            "filled_quantity",
            "venue_order_id",
            "reason",
            "origin",
            "updated_ts_ns",
            "id_seq",
            "run_id",
        ),
    ),
    (
        store,
        "_new_report",
        OrderReport,
        (
            "client_order_id",
            "instrument",
            "status",
            "ts_ns",
            "filled_quantity",
            "venue_order_id",
            "reason",
        ),
    ),
    (fill_booking, "_fill_event", FillEvent, ("ts_ns", "fill", "realized_pnl", "pnl_currency")),
    (fill_booking, "_order_updated", OrderUpdated, ("ts_ns", "report")),
    (fill_booking, "_position_changed", PositionChanged, ("ts_ns", "position")),
    (order_state, "_order_updated", OrderUpdated, ("ts_ns", "report")),
    (orders, "_order_submitted", OrderSubmitted, ("ts_ns", "order")),
    (
        sim,
        "_new_fill",
        Fill,
        (
            "client_order_id",
            "instrument",
            "side",
            "quantity",
            "price",
            "fee",
            "ts_ns",
            "liquidity",
            "trade_id",
            "fee_currency",
            "fee_asset",
            "fee_rate",
        ),
    ),
    (
        sim,
        "_new_report",
        OrderReport,
        (
            "client_order_id",
            "instrument",
            "status",
            "ts_ns",
            "filled_quantity",
            "venue_order_id",
            "reason",
        ),
    ),
    (
        model_portfolio,
        "_new_position",
        Position,
        ("instrument", "quantity", "avg_price", "realized_pnl", "fees", "opened_ts_ns", "lots"),
    ),
]


def test_an_opened_record_is_the_constructors_record_with_its_defaults():
    """The order manager's new record (:func:`store.opened_record`): what the class's own
    constructor makes of the same seven fields, every other at its default."""
    order = Order(
        client_order_id="c7",
        instrument=INST.key,
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.010"),
    )
    for seq in (None, 0, 41):
        made = store.opened_record("c7", INST.key, "sim", order, 5, seq, "run")
        expected = OrderRecord(
            client_order_id="c7",
            instrument=INST.key,
            venue="sim",
            order=order,
            updated_ts_ns=5,
            id_seq=seq,
            run_id="run",
        )
        assert type(made) is OrderRecord and made == expected
        for f in attrs.fields(OrderRecord):
            assert getattr(made, f.name) is getattr(expected, f.name) or f.name in (
                "client_order_id",
                "updated_ts_ns",
                "id_seq",
                "run_id",
                "instrument",
                "venue",
            ), f.name


def _constructor(cls: type, fields: tuple[str, ...]) -> Any:
    """The class's own constructor, called as the builder is (the path before the builders)."""

    def make(*values: Any) -> Any:
        return cls(**dict(zip(fields, values, strict=True)))

    return make


def _value(rng: random.Random, name: str) -> Any:
    """A value for a field of that name (several types and shapes, shared objects too)."""
    order = Order(
        client_order_id=f"c{rng.randrange(99)}",
        instrument=INST.key,
        side=rng.choice(list(Side)),
        type=OrderType.MARKET,
        quantity=Decimal(rng.choice(["0.001", "1E+2", "5.000"])),
        time_in_force=rng.choice(list(TimeInForce)),
    )
    fill = Fill(
        client_order_id="c1",
        instrument=INST.key,
        side=Side.SELL,
        quantity=Decimal("0.010"),
        price=Decimal("50000.5"),
        fee=Decimal("-0.0"),
        ts_ns=rng.randrange(1 << 62),
    )
    options: dict[str, list[Any]] = {
        "status": list(OrderStatus),
        "filled_quantity": [Decimal(0), Decimal("0.000"), Decimal("-0"), Decimal("1.5E-7")],
        "order": [None, order],
        "id_seq": [None, 0, rng.randrange(10**6)],
        "realized_pnl": [None, Decimal("-12.50"), Decimal("-Infinity")],
        "fill": [fill],
        "report": [
            OrderReport(client_order_id="c", instrument="i", status=OrderStatus.NEW, ts_ns=1)
        ],
        "position": [Position(instrument=INST.key), Position(instrument="x", quantity=Decimal(2))],
        "ts_ns": [0, rng.randrange(1 << 63)],
        "opened_ts_ns": [0, rng.randrange(1 << 63)],
        "side": list(Side),
        "quantity": [Decimal("0.010"), Decimal("-2.5E+3"), Decimal("0E-8"), 3],
        "price": [Decimal("50000.5"), Decimal("1E+1")],
        "avg_price": [Decimal(0), Decimal("50000.50")],
        "fee": [Decimal("-0.0"), Decimal("0.0200")],
        "fees": [Decimal(0), Decimal("12.000")],
        "fee_rate": [None, Decimal("612.5")],
        "fee_asset": ["quote", "base", "other"],
        "lots": [(), ((Decimal("0.010"), Decimal("50000.5")),)],
        "updated_ts_ns": [0, rng.randrange(1 << 63)],
    }
    if name in options:
        return rng.choice(options[name])
    return rng.choice(["", "sim", "tw-abc-7", "é"]) + str(rng.randrange(3))


@pytest.mark.parametrize("seed", range(5))
def test_each_builder_makes_what_its_class_makes_field_for_field(seed: int):
    rng = random.Random(seed)
    for module, name, cls, fields in BUILDERS:
        build = getattr(module, name)
        for _ in range(200):
            values = [_value(rng, f) for f in fields]
            built, made = build(*values), cls(**dict(zip(fields, values, strict=True)))
            assert type(built) is cls
            assert built == made and hash(built) == hash(made)
            for f, v in zip(fields, values, strict=True):
                assert getattr(built, f) is v, (cls.__name__, f)
            assert attrs.asdict(built, recurse=False) == attrs.asdict(made, recurse=False)
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                setattr(built, fields[0], values[0])


def test_the_record_moved_and_its_report_are_what_the_constructors_make():
    rng = random.Random(3)
    rec = OrderRecord(client_order_id="c1", instrument="i", venue="v", id_seq=4, run_id="r")
    for _ in range(300):
        status = rng.choice(list(OrderStatus))
        qty = _value(rng, "filled_quantity")
        vid = rng.choice([None, "", "v-9"])
        reason = rng.choice([None, "", "why"])
        moved = rec.moved(status=status, filled_quantity=qty, updated_ts_ns=9, venue_order_id=vid)
        assert moved == attrs.evolve(
            rec,
            status=status,
            filled_quantity=qty,
            updated_ts_ns=9,
            venue_order_id=rec.venue_order_id if vid is None else vid,
        )
        moved = moved.moved(status=status, filled_quantity=qty, updated_ts_ns=10, reason=reason)
        assert moved.reason == (rec.reason if reason is None else reason)
        report = moved.report()
        assert report == OrderReport(
            client_order_id=moved.client_order_id,
            instrument=moved.instrument,
            status=moved.status,
            ts_ns=moved.updated_ts_ns,
            filled_quantity=moved.filled_quantity,
            venue_order_id=moved.venue_order_id,
            reason=moved.reason,
        )
        assert report.filled_quantity is qty
        rec = moved


def test_a_builder_refuses_a_class_whose_constructor_does_more_than_set_fields():
    @attrs.frozen
    class Checked:
        a: int = attrs.field(validator=attrs.validators.instance_of(int))

    @attrs.frozen
    class Converted:
        a: int = attrs.field(converter=int)

    @attrs.frozen(cache_hash=True)
    class Hashed:
        a: int

    @attrs.frozen(slots=False)
    class Unslotted:
        a: int

    @attrs.frozen
    class Plain:
        a: int
        b: str = ""

    for cls in (Checked, Converted, Hashed, Unslotted):
        with pytest.raises(TypeError):
            builder(cls, ("a",))
    with pytest.raises(TypeError):  # __attrs_post_init__ checks the quantity
        builder(Order, tuple(a.name for a in attrs.fields(Order)))
    for fields in (("a",), ("a", "b", "b"), ("a", "c")):
        with pytest.raises(TypeError):
            builder(Plain, fields)
    assert builder(Plain, ("b", "a"))("x", 1) == Plain(a=1, b="x")


def _with_constructors(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name, cls, fields in BUILDERS:
        monkeypatch.setattr(module, name, _constructor(cls, fields))


def _paper_orders(journal_path: Path) -> None:
    """Random market and limit orders through a paper order manager on the simulated venue:
    fills whole and partial, rejections, cancels, and the repeated reports of the venue."""
    rng = random.Random(11)
    stack = Stack(journal_path, run_id="run1")
    try:
        ms = 0
        for _ in range(30):
            ms += rng.randrange(1, 50)
            kind = rng.random()
            if kind < 0.6:
                order = stack.order(
                    side=rng.choice(list(Side)), qty=rng.choice(["0.010", "0.020", "0.0105"])
                )
            else:
                price = rng.choice(["49990.0", "50000.0", "50010.0"])
                order = stack.order(
                    side=rng.choice(list(Side)), qty="0.010", type_=OrderType.LIMIT, price=price
                )
            try:
                stack.submit(order, at_ms=ms)
            except Exception:  # a rejection (a quantity off the lot size) is journaled too
                pass
            ms += 1
            stack.trades(
                [
                    (ms, 50_000.0 + rng.randrange(-20, 20), rng.choice([0.005, 0.015, 1.0]), s)
                    for s in (1, -1)
                ]
            )
            stack.publish()
            for cid, rec in list(stack.orders.records.items()):
                if rec.is_open and rng.random() < 0.2:
                    anyio.run(stack.orders.cancel, stack.venue, cid, ms * 1_000_000)
            stack.publish()
            stack.journal.commit()
    finally:
        stack.journal.close()


def _assert_same(a_path: Path, b_path: Path) -> None:
    a, b = _rows(a_path), _rows(b_path)
    assert a["fills"] and a["orders"] and a["order_events"] and a["events"]
    for table in TABLES:
        assert a[table] == b[table], table


def test_a_paper_order_managers_journal_is_the_same_with_the_builders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _paper_orders(tmp_path / "built.duckdb")
    _with_constructors(monkeypatch)
    _paper_orders(tmp_path / "made.duckdb")
    _assert_same(tmp_path / "built.duckdb", tmp_path / "made.duckdb")
    con = duckdb.connect(str(tmp_path / "made.duckdb"), read_only=True)
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM order_events").fetchall()}
    states = {s for (s,) in con.execute("SELECT DISTINCT to_status FROM order_events").fetchall()}
    con.close()
    assert {"submitted", "report", "fill", "illegal"} <= kinds
    assert {"accepted", "partially_filled", "filled", "cancelled", "rejected"} <= states


def test_a_backtests_journal_is_the_same_with_the_builders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "built.duckdb")).run)
    _with_constructors(monkeypatch)
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "made.duckdb")).run)
    _assert_same(tmp_path / "built.duckdb", tmp_path / "made.duckdb")
