"""A signal's journal rows written directly (issue 17): the ``events`` payload and the
``signals`` row's reasons are the converter's JSON and ``json.dumps``' text, whatever the
values (NaN, the infinities, ints, text, None among the reasons; a quantity or none; either
side and intent), and a value of another type than the direct writer takes goes down the
general path, which writes what it always did."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import duckdb
import numpy as np
import pytest
from tradewind.journal import store
from tradewind.journal.store import Journal
from tradewind.model import Side, Signal, SignalEvent

from tests.test_paper_fast_paths import _reference_payload

INF = float("inf")


def _signal(**changes: Any) -> Signal:
    base = Signal(
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        entry=Decimal("9672.70"),
        stop=Decimal("9624.34"),
        score=5.0,
        ts_ns=1_700_007_780_000_000_000,
        reasons={
            "orderflow.imbalance_1m": 7.544364508393286,
            "profile.demand_strength": float("nan"),
            "micro.autocorr": -0.027449179298964045,
            "up": INF,
            "down": -INF,
            "tiny": 5e-324,
            "big": 1.7976931348623157e308,
            "negative zero": -0.0,
            "count": 3,
            "flag": True,
            "note": 'a "quoted" \\ é',
            "none": None,
        },
        quantity=Decimal("1.033"),
    )
    return attrs.evolve(base, **changes)


SIGNALS = [
    _signal(),
    _signal(side=Side.SELL, quantity=None, intent="close", score=-INF),
    _signal(score=float("nan"), reasons={}),
    _signal(score=0.1 + 0.2, entry=Decimal("1E+3"), stop=Decimal("-0.000"), quantity=Decimal("0")),
]


@pytest.mark.parametrize("signal", SIGNALS)
def test_a_signal_events_payload_is_the_converters_json(signal: Signal):
    event = SignalEvent(ts_ns=signal.ts_ns, signal=signal)
    assert store._DIRECT_JSON[SignalEvent] is store._signal_json  # the direct path
    direct = store._signal_json(event)
    assert direct == _reference_payload(event)
    assert store._payload(event) == direct
    # Written from the items of the reasons when the journal staged them: the same text;
    # the ``signals`` row's reasons, after that row (the text kept) and alone.
    items = tuple(signal.reasons.items())
    assert store._signal_json(event, items) == direct
    reference = json.dumps(dict(signal.reasons), default=str, allow_nan=True)
    assert store._last_reasons[0] is items
    assert store._signal_reasons_json(items) == reference
    assert store._last_reasons == (None, "")  # taken once, then let go
    assert store._signal_reasons_json(items) == reference


@pytest.mark.parametrize(
    "signal",
    [
        _signal(reasons={"numpy": np.float64(1.5)}),  # a float subclass
        _signal(reasons={"decimal": Decimal("1.5")}),
        _signal(reasons={"nested": {"a": 1.0}}),
        _signal(reasons={7: 1.0}),  # a key JSON turns into text
        _signal(score=3),  # an int where a float is declared
        _signal(score=np.float64(2.5)),
        _signal(entry=9672.7),  # a float where a Decimal is
        _signal(ts_ns=np.int64(5)),
        _signal(quantity=1),
    ],
)
def test_a_value_the_direct_writer_does_not_take_goes_down_the_general_path(signal: Signal):
    event = SignalEvent(ts_ns=5, signal=signal)
    with pytest.raises(TypeError):
        store._signal_json(event)
    assert store._payload(event) == _reference_payload(event)
    items = tuple(signal.reasons.items())
    assert store._signal_reasons_json(items) == json.dumps(dict(items), default=str, allow_nan=True)


def test_a_signal_journals_its_rows_as_published_whatever_its_reasons_became(tmp_path: Path):
    """Staged unencoded (a backtest), the rows are written from the reasons as they were when
    the signal was recorded, not as its strategy changed them afterwards."""
    kept = {"a": 1.0, "b": float("nan")}
    signal = _signal(reasons=kept)
    odd = _signal(reasons={"numpy": np.float64(2.5), "n": 1.0}, side=Side.SELL)
    path = tmp_path / "j.duckdb"
    j = Journal(path, "run")
    j.start("backtest", "cfg.toml", 1)
    events = [SignalEvent(ts_ns=2, signal=signal), SignalEvent(ts_ns=3, signal=odd)]
    for event in events:
        j.record(event)
    as_recorded = [_reference_payload(e) for e in events]
    reasons_then = [json.dumps(dict(e.signal.reasons), default=str, allow_nan=True) for e in events]
    kept["a"] = 2.0  # the strategy's dict changed after the signal was recorded
    kept["c"] = 3.0
    j.commit()
    j.finish(4, {"done": True})
    j.close()
    con = duckdb.connect(str(path), read_only=True)
    try:
        payloads = con.execute(
            "SELECT payload FROM events WHERE type = 'SignalEvent' ORDER BY seq"
        ).fetchall()
        reasons = con.execute("SELECT reasons FROM signals ORDER BY seq").fetchall()
    finally:
        con.close()
    assert [p for (p,) in payloads] == as_recorded
    assert [r for (r,) in reasons] == reasons_then
