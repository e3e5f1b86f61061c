"""The objects a decision makes through their slots (``tradewind.trading.engine``'s order
builder) against their keyword constructors: the same fields, values and types, and the
same refusals."""

from __future__ import annotations

import random
from decimal import Decimal

import attrs
import pytest
from tradewind.model import Order, OrderType, Side, TimeInForce
from tradewind.trading import engine


def _random_fields(rng: random.Random) -> dict[str, object]:
    kind = rng.choice(list(OrderType))
    price = rng.choice([None, Decimal(rng.randint(1, 10**7)) / 10])
    return {
        "client_order_id": f"c{rng.randint(0, 10**9)}",
        "instrument": rng.choice(["sim:BTCUSDT", "binance:ETHUSDT"]),
        "side": rng.choice(list(Side)),
        "type": kind,
        "quantity": rng.choice([Decimal(0), Decimal(-1), Decimal(rng.randint(1, 10**6)) / 1000]),
        "price": price,
        "stop_price": rng.choice([None, price, Decimal("1.5")]),
        "time_in_force": rng.choice(list(TimeInForce)),
        "reduce_only": rng.random() < 0.5,
        "created_ts_ns": rng.randint(0, 2**62),
        "tag": rng.choice(["entry", "", "maxhold: held 30 s"]),
        "intent": rng.choice(["entry", "add", "reduce", "close", "flip", "bogus"]),
    }


def test_the_order_builder_makes_the_constructor_s_orders_and_refusals() -> None:
    rng = random.Random(23)
    made = refused = 0
    for _ in range(5000):
        fields = _random_fields(rng)
        try:
            want = Order(**fields)  # type: ignore[arg-type]
        except ValueError as exc:
            with pytest.raises(ValueError) as got_exc:
                engine._build_order(*(fields[name] for name in engine._ORDER_FIELDS))
            assert str(got_exc.value) == str(exc)
            refused += 1
            continue
        got = engine._build_order(*(fields[name] for name in engine._ORDER_FIELDS))
        assert type(got) is Order and got == want and hash(got) == hash(want)
        assert [type(v) for v in attrs.astuple(got, recurse=False)] == [
            type(v) for v in attrs.astuple(want, recurse=False)
        ]
        made += 1
    assert made > 500 and refused > 500


def test_the_order_builder_takes_every_field_of_order_in_its_order() -> None:
    """The builder's fields are Order's; a class it does not expect gets its constructor."""
    assert tuple(a.name for a in attrs.fields(Order)) == engine._ORDER_FIELDS
    assert engine._build_order.__name__ == "build"  # the slots path, not the fallback


def test_the_order_builder_holds_the_class_not_the_module_s_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wrapper put over ``engine.Order`` (a profiler's, a benchmark's sections) leaves the
    builder making Orders."""
    monkeypatch.setattr(engine, "Order", lambda **kw: Order(**kw))
    fields = _random_fields(random.Random(1))
    fields.update(quantity=Decimal(1), type=OrderType.MARKET, intent="entry")
    got = engine._build_order(*(fields[name] for name in engine._ORDER_FIELDS))
    assert type(got) is Order and got == Order(**fields)  # type: ignore[arg-type]
