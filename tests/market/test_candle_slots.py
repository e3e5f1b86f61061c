"""Candles made from CANDLE_DTYPE records with their slots set directly
(``tradewind.market.candles._candle``) are the objects ``Candle(...)`` makes; a class whose
``__init__`` does more is refused and made through its ``__init__``."""

from __future__ import annotations

import math
import pickle
from typing import Any

import attrs
import numpy as np
import pytest
from tradewind.market import candles
from tradewind.market.candles import _CANDLE_FIELDS, CANDLE_DTYPE, _slot_setters
from tradewind.model.market import Candle


def _records(rng: np.random.Generator, n: int) -> list[tuple[Any, ...]]:
    arr = np.zeros(n, dtype=CANDLE_DTYPE)
    for name in CANDLE_DTYPE.names:
        kind = CANDLE_DTYPE[name].kind
        if kind == "f":
            v = rng.normal(100.0, 50.0, size=n)
            v[rng.random(n) < 0.05] = np.nan
            v[rng.random(n) < 0.02] = -0.0
            v[rng.random(n) < 0.02] = np.inf
        else:
            v = rng.integers(-(2**62), 2**62, size=n)
        arr[name] = v
    return arr.tolist()  # type: ignore[no-any-return]


@pytest.mark.parametrize("compiled", [True, False])
def test_slot_made_candles_are_the_init_made_ones(compiled: bool) -> None:
    # Candle qualifies: the direct path is taken, its slots written in C where the core's
    # compiled builder is built, else by one setter per slot.
    if compiled:
        make = candles._candle
        assert make.__name__ == ("built" if candles._slots is not None else "slots")
    else:
        make = candles._candle_maker(compiled=False)
        assert make.__name__ == "slots"
    rng = np.random.default_rng(23)
    tfs = [60_000_000_000, 300_000_000_000, 900_000_000_000, 1]
    for k, rec in enumerate(_records(rng, 3000)):
        inst, tf = f"I{k % 7}USDT", tfs[k % len(tfs)]
        got = make(inst, tf, rec)
        ts, o, h, lo, c, v, bv, sv, n, nb, ns, vwap = rec
        want = Candle(
            instrument=inst,
            timeframe_ns=tf,
            open_ts_ns=ts,
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=v,
            buy_volume=bv,
            sell_volume=sv,
            trades=n,
            buy_trades=nb,
            sell_trades=ns,
            vwap=vwap,
        )
        assert type(got) is Candle
        for name in _CANDLE_FIELDS:
            a, b = getattr(got, name), getattr(want, name)
            assert type(a) is type(b) and (a is b or a == b or (math.isnan(a) and math.isnan(b)))
            if isinstance(a, float):
                assert math.copysign(1.0, a) == math.copysign(1.0, b)
        assert repr(got) == repr(want)
        assert hash(got) == hash(want)
        if not any(isinstance(x, float) and math.isnan(x) for x in rec):
            assert got == want
        assert got.close_ts_ns == want.close_ts_ns
        assert repr(pickle.loads(pickle.dumps(got))) == repr(want)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        got.close = 1.0  # type: ignore[misc]


def _fields() -> dict[str, Any]:
    return {name: attrs.field() for name in ("a", "b")}


@pytest.mark.parametrize(
    "make",
    [
        lambda: attrs.make_class(
            "V",
            {"a": attrs.field(validator=attrs.validators.gt(0)), "b": attrs.field()},
            frozen=True,
        ),
        lambda: attrs.make_class(
            "C", {"a": attrs.field(converter=float), "b": attrs.field()}, frozen=True
        ),
        lambda: attrs.make_class(
            "D", {"a": attrs.field(), "b": attrs.field(default=1)}, frozen=True
        ),
        lambda: attrs.make_class("H", _fields(), frozen=True, cache_hash=True),
        lambda: attrs.make_class("N", _fields(), frozen=True, slots=False),
        lambda: attrs.make_class("O", {"b": attrs.field(), "a": attrs.field()}, frozen=True),
        lambda: attrs.make_class("E", {**_fields(), "c": attrs.field()}, frozen=True),
        lambda: type("P", (), {"__slots__": ("a", "b")}),
    ],
)
def test_a_class_whose_init_does_more_is_refused(make: Any) -> None:
    assert _slot_setters(make(), ("a", "b")) is None


def test_a_class_with_a_post_init_is_refused() -> None:
    @attrs.frozen
    class Post:
        a: int
        b: int

        def __attrs_post_init__(self) -> None:
            pass

    @attrs.frozen
    class Plain:
        a: int
        b: int

    assert _slot_setters(Post, ("a", "b")) is None
    setters = _slot_setters(Plain, ("a", "b"))
    assert setters is not None
    x = object.__new__(Plain)
    setters[0](x, 1)
    setters[1](x, 2)
    assert x == Plain(1, 2)
