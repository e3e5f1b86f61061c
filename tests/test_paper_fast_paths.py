"""The paper path's per-fill shortcuts (issue 19, docs/performance.md) change no value: the
events' journal payloads are the converter's JSON, a market order's next possible fill is
its first print on its side, a GTC market order sweeping a few prints as Python lists fills
as numpy's sweep does, the simulated venue is called without a timeout scope while a venue
that can wait keeps its timeout, and the order manager's reports are its records'."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import anyio
import attrs
import duckdb
import pytest
from tradewind._serde import unstructure
from tradewind.config import load_config
from tradewind.errors import VenueTimeoutError
from tradewind.journal import store
from tradewind.journal.store import Journal
from tradewind.model import (
    Event,
    Fill,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Side,
    TickBatch,
    TimeInForce,
)
from tradewind.trading import order_retry
from tradewind.trading.engine import Engine
from tradewind.trading.orders import OrderManager
from tradewind.trading.portfolio import Portfolio
from tradewind.venues import sim as sim_module
from tradewind.venues.sim import SimulatedVenue, SimVenueConfig

from tests.faulty_venue import INST, settings
from tests.test_engine import demo_config_text

MS = 1_000_000


def _reference_payload(event: Event) -> str:
    """The payload as the journal wrote it before the shortcut: every field but ``ts_ns``
    through the converter, then ``json.dumps``."""
    data = {
        f.name: unstructure(getattr(event, f.name))
        for f in attrs.fields(type(event))
        if f.name != "ts_ns"
    }
    return json.dumps(data, default=str, allow_nan=True)


def test_every_journaled_event_payload_of_a_backtest_is_the_converters_json(tmp_path: Path):
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    engine = Engine(load_config(cfg), journal_path=str(tmp_path / "j.duckdb"))
    seen: list[Event] = []

    async def keep(event: Event) -> None:
        seen.append(event)

    async def main() -> None:
        engine.bus.subscribe("test-keep", keep, lossless=True)
        await engine.run()

    anyio.run(main)
    con = duckdb.connect(str(tmp_path / "j.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT type, payload FROM events ORDER BY seq").fetchall()
    finally:
        con.close()
    kinds = {type(e).__name__ for e in seen}
    # The run traded: orders, fills, positions and signals are among the events compared.
    assert {"FillEvent", "OrderUpdated", "PositionChanged", "OrderSubmitted"} <= kinds
    journaled = {(t, p) for t, p in rows}
    for event in seen:
        assert store._payload(event) == _reference_payload(event), type(event).__name__
        assert (type(event).__name__, _reference_payload(event)) in journaled


def test_payload_of_values_the_shortcut_passes_through_and_of_nested_ones():
    fill = Fill(
        client_order_id="c1",
        instrument=INST.key,
        side=Side.SELL,
        quantity=Decimal("0.010"),
        price=Decimal("50000.5"),
        fee=Decimal("0.2000020"),
        ts_ns=5,
        trade_id="t1",
    )
    from tradewind.model import (
        FillEvent,
        OrderSubmitted,
        OrderUpdated,
        Position,
        PositionChanged,
        SystemError,
    )

    lots = ((Decimal("0.010"), Decimal("50000.5")), (Decimal("0.005"), Decimal("49999")))
    position = Position(instrument=INST.key, quantity=Decimal("0.015"), lots=lots, fees=fill.fee)
    limit = Order(
        client_order_id="c2",
        instrument=INST.key,
        side=Side.BUY,
        type=OrderType.STOP_LIMIT,
        quantity=Decimal("1E-3"),
        price=Decimal("50000.0"),
        stop_price=Decimal("49990"),
        time_in_force=TimeInForce.POST_ONLY,
        reduce_only=True,
        tag="trailing: hit",
        intent="close",
    )
    report = OrderReport(
        client_order_id="c2",
        instrument=INST.key,
        status=OrderStatus.CANCELLED,
        ts_ns=9,
        filled_quantity=Decimal("0.0005"),
        reason="cancelled by the operator",
    )
    for event in (
        FillEvent(ts_ns=5, fill=fill, realized_pnl=Decimal("-1.50")),
        SystemError(ts_ns=6, source="orders", error='quote " and \\ and é'),
        PositionChanged(ts_ns=7, position=position),
        OrderSubmitted(ts_ns=8, order=limit),
        OrderSubmitted(ts_ns=8, order=_market(Side.SELL, TimeInForce.IOC)),
        OrderUpdated(ts_ns=9, report=report),
    ):
        assert store._payload(event) == _reference_payload(event)


def _per_fill_events() -> list[Event]:
    """The events of orders, fills and positions, over values that exercise every branch of
    their directly written payloads: None and set optional values, escapes, several lots."""
    from tradewind.model import (
        FillEvent,
        OrderSubmitted,
        OrderUpdated,
        Position,
        PositionChanged,
        PositionClosed,
    )

    fills = [
        Fill(
            client_order_id="tw-0123456789ab-7",
            instrument=INST.key,
            side=Side.BUY,
            quantity=Decimal("0.001"),
            price=Decimal("1E+5"),
            fee=Decimal("-0.0000"),
            ts_ns=1_700_000_000_123_456_789,
        ),
        Fill(
            client_order_id='quote " back \\ slash',
            instrument="venue:ÉTH/€",
            side=Side.SELL,
            quantity=Decimal("12.50"),
            price=Decimal("0.00001234"),
            fee=Decimal("0.5"),
            ts_ns=0,
            liquidity="maker",
            trade_id="t\n1",
            fee_currency="BNB",
            fee_asset="other",
            fee_rate=Decimal("612.3"),
        ),
    ]
    positions = [
        Position(instrument=INST.key),
        Position(
            instrument=INST.key,
            quantity=Decimal("0.001"),
            avg_price=Decimal("50000.5"),
            opened_ts_ns=1,
            lots=((Decimal("0.001"), Decimal("50000.5")),),
        ),
        Position(
            instrument=INST.key,
            quantity=Decimal("-0.015"),
            avg_price=Decimal("50000.33333333333333333333333"),
            realized_pnl=Decimal("-1.25"),
            fees=Decimal("0.02"),
            opened_ts_ns=42,
            lots=((Decimal("-0.010"), Decimal("50000.5")), (Decimal("-0.005"), Decimal("49999"))),
        ),
    ]
    orders = [
        _market(Side.BUY, TimeInForce.IOC),
        Order(
            client_order_id="c2",
            instrument=INST.key,
            side=Side.SELL,
            type=OrderType.STOP_LIMIT,
            quantity=Decimal("1E-3"),
            price=Decimal("50000.0"),
            stop_price=Decimal("49990"),
            time_in_force=TimeInForce.POST_ONLY,
            reduce_only=True,
            created_ts_ns=77,
            tag='trailing: "hit" é',
            intent="close",
        ),
    ]
    reports = [
        OrderReport(client_order_id="c2", instrument=INST.key, status=s, ts_ns=9)
        for s in OrderStatus
    ] + [
        OrderReport(
            client_order_id="c2",
            instrument=INST.key,
            status=OrderStatus.CANCELLED,
            ts_ns=9,
            filled_quantity=Decimal("0.0005"),
            venue_order_id="v-1",
            reason='cancelled by the operator: "late"',
        )
    ]
    events: list[Event] = []
    for fill in fills:
        for pnl in (None, Decimal("0"), Decimal("-1.50")):
            events.append(FillEvent(ts_ns=5, fill=fill, realized_pnl=pnl, pnl_currency="USDT"))
    for position in positions:
        events.append(PositionChanged(ts_ns=7, position=position))
        events.append(PositionClosed(ts_ns=7, position=position, reason="stop", pnl_currency=""))
    events += [OrderSubmitted(ts_ns=8, order=o) for o in orders]
    events += [OrderUpdated(ts_ns=9, report=r) for r in reports]
    return events


def test_the_payloads_of_order_fill_and_position_events_are_written_as_the_converters_json():
    events = _per_fill_events()
    for event in events:
        assert type(event) in store._DIRECT_JSON  # the direct path, not the general one
        direct = store._DIRECT_JSON[type(event)](event)
        assert direct == _reference_payload(event), type(event).__name__
        assert store._payload(event) == direct
        json.loads(direct)  # and valid JSON


def test_a_value_of_an_unexpected_type_takes_the_general_payload_path():
    import numpy as np
    from tradewind.model import FillEvent, OrderSubmitted, Position, PositionChanged

    fill = _per_fill_events()[0].fill  # type: ignore[attr-defined]
    odd = [
        # A numpy integer where an int is declared (the general path writes what it always
        # did), a float where a Decimal is, a subclass of a domain value.
        FillEvent(ts_ns=5, fill=attrs.evolve(fill, ts_ns=np.int64(5))),
        FillEvent(ts_ns=5, fill=attrs.evolve(fill, fee=0.25)),  # type: ignore[arg-type]
        PositionChanged(
            ts_ns=7,
            position=Position(instrument=INST.key, lots=((Decimal(1), 2.5),)),  # type: ignore[arg-type]
        ),
        OrderSubmitted(
            ts_ns=8, order=attrs.evolve(_market(Side.BUY, TimeInForce.GTC), reduce_only=1)
        ),
    ]
    for event in odd:
        with pytest.raises(TypeError):
            store._DIRECT_JSON[type(event)](event)
        assert store._payload(event) == _reference_payload(event), type(event).__name__


def _tape(rows: list[tuple[int, float, float, int]]) -> TickBatch:
    return TickBatch.from_arrays(
        INST.key,
        [r[0] * MS for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


class _Sink:
    def __init__(self) -> None:
        self.got: list[object] = []

    def on_report(self, report: OrderReport) -> None:
        self.got.append(report)

    def on_fill(self, fill: Fill) -> None:
        self.got.append(fill)


def _market(side: Side, tif: TimeInForce) -> Order:
    return Order(
        client_order_id="m1",
        instrument=INST.key,
        side=side,
        type=OrderType.MARKET,
        quantity=Decimal("0.010"),
        time_in_force=tif,
    )


# Sellers hit the bid twice before a buyer lifts the offer, then more of both.
ROWS = [(10, 100.0, 1.0, -1), (11, 99.9, 1.0, -1), (12, 100.1, 0.004, 1), (12, 100.2, 1.0, 1)]
ROWS += [(13, 100.0, 1.0, -1), (14, 100.3, 1.0, 1)]


@pytest.mark.parametrize("tif", [TimeInForce.GTC, TimeInForce.IOC])
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_a_market_orders_next_fill_is_its_first_print_on_its_side(side, tif):
    v = SimulatedVenue(SimVenueConfig(latency_ms=0), instruments=[INST])
    sink = _Sink()
    v.set_sink(sink)
    v.set_time(5 * MS)
    anyio.run(v.submit_order, _market(side, tif))
    batch = _tape(ROWS)
    first_mine = 12 if side is Side.BUY else 10
    assert v.next_fill_ts(batch) == first_mine * MS
    # Never later than the true first fill: the tape up to it fills nothing, the rest does.
    cut = int(batch.ts_ns.searchsorted(first_mine * MS, side="left"))
    v.on_trades(batch.slice(0, cut))
    assert not [x for x in sink.got if isinstance(x, Fill)]
    v.on_trades(batch.slice(cut, len(batch)))
    fills = [x for x in sink.got if isinstance(x, Fill)]
    assert fills and fills[0].ts_ns == first_mine * MS


def _fed(split: str, side: Side, tif: TimeInForce) -> list[object]:
    """Fills and reports of one market order fed the tape one trade at a time, or in the
    steps the engine takes (up to each next possible fill)."""
    v = SimulatedVenue(SimVenueConfig(latency_ms=0, participation=0.5), instruments=[INST])
    sink = _Sink()
    v.set_sink(sink)
    v.set_time(5 * MS)
    anyio.run(v.submit_order, _market(side, tif))
    rest = _tape(ROWS)
    while len(rest):
        if split == "one":
            end = int(rest.ts_ns.searchsorted(rest.ts_ns[0], side="right"))
        else:
            end = len(rest)
            t = v.next_fill_ts(rest)
            if t is not None:
                end = int(rest.ts_ns.searchsorted(t, side="right"))
        v.on_trades(rest.slice(0, end))
        rest = rest.slice(end, len(rest))
    return sink.got


@pytest.mark.parametrize("tif", [TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK])
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_market_fills_and_reports_are_the_same_in_engine_steps_as_trade_by_trade(side, tif):
    stepped, single = _fed("steps", side, tif), _fed("one", side, tif)
    assert stepped == single
    assert any(isinstance(x, OrderReport) for x in single)


def _swept(
    few: int, monkeypatch: pytest.MonkeyPatch, side: Side, qty: str, part: float, sizes: tuple
) -> list:
    """Fills and reports of one GTC market order swept over a whole tape at once, with the
    list sweep for tapes of up to ``few`` prints (0: always numpy's)."""
    monkeypatch.setattr(sim_module, "_FEW", few)
    v = SimulatedVenue(SimVenueConfig(latency_ms=0, participation=part), instruments=[INST])
    sink = _Sink()
    v.set_sink(sink)
    v.set_time(5 * MS)
    order = attrs.evolve(_market(side, TimeInForce.GTC), quantity=Decimal(qty))
    anyio.run(v.submit_order, order)
    # Prints of both sides with sizes whose running sums are not exact in binary.
    rows = [(10 + i, 100.0 + i / 10, sizes[i % len(sizes)], (1, -1)[i % 2]) for i in range(40)]
    v.on_trades(_tape(rows))
    return sink.got


# Sizes whose running sums are not exact in binary; sizes below the lot that round down
# (the sweep stops where the sizes taken reach what the order needs, filled or not).
MIXED, SUBLOT = (0.1, 0.7, 0.7, 0.3, 0.011, 0.3), (0.0015,)


@pytest.mark.parametrize(
    ("sizes", "part"), [(MIXED, 1.0), (MIXED, 0.5), (MIXED, 0.3), (SUBLOT, 1.0)]
)
@pytest.mark.parametrize("qty", ["0.001", "0.003", "0.7", "1.234", "50"])
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_a_gtc_market_order_swept_over_a_few_prints_fills_as_numpys_sweep(
    monkeypatch, side, qty, part, sizes
):
    listed = _swept(64, monkeypatch, side, qty, part, sizes)
    numpy_swept = _swept(0, monkeypatch, side, qty, part, sizes)
    assert listed == numpy_swept
    assert any(isinstance(x, Fill) for x in listed)


def _random_sweep(
    few: int, monkeypatch: pytest.MonkeyPatch, seed: int, tif: TimeInForce
) -> tuple[list, int]:
    """Fills and reports of market orders (long and short, GTC or IOC) each swept over a
    random book of a few prints (instants of several prints, both sides, sizes whose sums
    are inexact in binary, sizes below the lot), with the list sweep for up to ``few``
    prints; and how many sweeps took the list path."""
    import random

    monkeypatch.setattr(sim_module, "_FEW", few)
    listed = 0
    sweep_few = SimulatedVenue._sweep_few

    def counted(self, *args):  # type: ignore[no-untyped-def]
        nonlocal listed
        listed += 1
        return sweep_few(self, *args)

    monkeypatch.setattr(SimulatedVenue, "_sweep_few", counted)
    rnd = random.Random(seed)
    v = SimulatedVenue(
        SimVenueConfig(latency_ms=0, participation=rnd.choice((1.0, 0.5, 0.3, 0.07))),
        instruments=[INST],
    )
    sink = _Sink()
    v.set_sink(sink)
    t = 10
    for n in range(6):
        v.set_time(t * MS)
        qty = rnd.choice(("0.001", "0.003", "0.010", "0.7", "1.234", "50"))
        side = rnd.choice((Side.BUY, Side.SELL))
        order = attrs.evolve(_market(side, tif), client_order_id=f"m{n}", quantity=Decimal(qty))
        anyio.run(v.submit_order, order)
        rows = []
        for _ in range(rnd.randint(1, 40)):
            t += rnd.choice((0, 0, 1, 2))
            size = rnd.choice((0.1, 0.7, 0.3, 0.011, 0.0015, 0.0004, 2.5, rnd.random()))
            rows.append((t, 100.0 + rnd.randint(-20, 20) / 10, size, rnd.choice((1, -1))))
        v.on_trades(_tape(rows))
        t += 1
    return sink.got, listed


@pytest.mark.parametrize("tif", [TimeInForce.GTC, TimeInForce.IOC])
def test_market_orders_swept_over_random_few_print_books_fill_as_numpys_sweep(monkeypatch, tif):
    """The list sweep (GTC, and IOC at the first instant of its side) gives every fill
    (quantity, price, fee: the same Decimals) and report of numpy's sweep."""
    some_partial = some_listed = 0
    for seed in range(200):
        listed, n_listed = _random_sweep(64, monkeypatch, seed, tif)
        numpy_swept, n_numpy = _random_sweep(0, monkeypatch, seed, tif)
        assert listed == numpy_swept, seed
        assert n_numpy == 0
        some_listed += n_listed
        some_partial += any(
            isinstance(x, OrderReport) and x.status is OrderStatus.PARTIALLY_FILLED for x in listed
        )
    assert some_listed >= 500  # the list path ran (several sweeps per seed)
    assert some_partial > 20  # partial fills and their reports were compared too


class _HangingSim(SimulatedVenue):
    """A simulated venue whose create never answers (a subclass: not 'answers at once')."""

    async def submit_order(self, order: Order) -> OrderReport:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


def _manager(tmp_path: Path, venue: SimulatedVenue) -> OrderManager:
    portfolio = Portfolio({INST.key: INST}, Decimal("10000"))
    journal = Journal(tmp_path / "j.duckdb", "run1")
    journal.start("paper", "paper.toml", 0)
    om = OrderManager(portfolio, "run1", settings=settings(timeout=0.05), journal=journal)
    venue.set_sink(om)
    return om


def test_a_venue_that_can_wait_keeps_its_timeout_even_as_a_simulated_venue_subclass(tmp_path):
    venue = _HangingSim(SimVenueConfig(latency_ms=0), instruments=[INST])
    om = _manager(tmp_path, venue)
    order = _market(Side.BUY, TimeInForce.IOC)

    async def main() -> None:
        with pytest.raises(VenueTimeoutError, match=r"did not answer within 0\.05 s"):
            await om.submit(venue, order, 1)

    anyio.run(main)
    assert om.unresolved() == ["m1"]  # outcome unknown: never resent


def test_the_simulated_venue_is_called_without_a_timeout_scope(tmp_path, monkeypatch):
    def no_scope(*_a: object, **_k: object) -> None:
        raise AssertionError("a timeout scope around a call of the simulated venue")

    monkeypatch.setattr(order_retry.anyio, "fail_after", no_scope)
    venue = SimulatedVenue(SimVenueConfig(latency_ms=0), instruments=[INST])
    om = _manager(tmp_path, venue)
    report = anyio.run(om.submit, venue, _market(Side.BUY, TimeInForce.IOC), 1)
    assert report.status is OrderStatus.ACCEPTED
    venue.on_trades(_tape(ROWS))
    rec = om.records["m1"]
    assert rec.status is OrderStatus.FILLED
    # The reports are built from the records when asked, and say the same.
    assert om.reports == {"m1": rec.report()}
    assert om.reports["m1"].filled_quantity == Decimal("0.010")


def _fill(trade_id: str) -> Fill:
    return Fill(
        client_order_id="c1",
        instrument=INST.key,
        side=Side.BUY,
        quantity=Decimal("0.010"),
        price=Decimal("50000.5"),
        fee=Decimal("0.2"),
        ts_ns=7,
        trade_id=trade_id,
    )


@pytest.mark.parametrize("same_write", [False, True])
def test_a_fill_journaled_twice_is_one_row_and_the_rest_of_the_write_lands(tmp_path, same_write):
    from tradewind.model import Position

    j = Journal(tmp_path / "j.duckdb", "run1", durable=True)
    j.start("paper", "paper.toml", 0)
    pos = Position(instrument=INST.key)
    j.record_fill(_fill("t1"), pos)  # durable, no group commit: written at once
    if same_write:
        j.group_commit = True  # both in one write below
        j.record_fill(_fill("t2"), pos)
        j.record_fill(_fill("t2"), pos)
    else:
        j.record_fill(_fill("t1"), pos)  # a retried write whose first commit landed
        j.group_commit = True
        j.record_fill(_fill("t2"), pos)
    j.commit()
    assert j.error is None
    keys = sorted(k for (k,) in j.query("SELECT fill_key FROM fills"))
    assert keys == ["t1", "t2"]
    assert j.count("positions") == 3  # every position row of the writes landed
    j.close()


def test_an_order_record_moved_is_the_record_attrs_evolve_gives():
    """``OrderRecord.moved`` (built directly, per transition and fill) against ``attrs.evolve``
    with the same changes, with every field set away from its default: a field added to the
    record and not carried over by ``moved`` fails this."""
    from tradewind.journal.store import OrderRecord
    from tradewind.model import Order, OrderStatus, OrderType, Side

    order = Order(
        client_order_id="tw-1",
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.003"),
    )
    rec = OrderRecord(
        client_order_id="tw-1",
        instrument="sim:BTCUSDT",
        venue="sim",
        order=order,
        status=OrderStatus.ACCEPTED,
        filled_quantity=Decimal("0.001"),
        venue_order_id="v-9",
        reason="why",
        origin="adopted",
        updated_ts_ns=5,
        id_seq=7,
        run_id="run-x",
    )
    defaults = OrderRecord(client_order_id="x", instrument="y")
    for f in attrs.fields(OrderRecord):
        if f.name not in ("client_order_id", "instrument"):
            assert getattr(rec, f.name) != getattr(defaults, f.name), f.name
    cases = [
        dict(status=OrderStatus.FILLED, filled_quantity=Decimal("0.003"), updated_ts_ns=9),
        dict(
            status=OrderStatus.PARTIALLY_FILLED,
            filled_quantity=Decimal("0.002"),
            updated_ts_ns=8,
            venue_order_id="v-10",
            reason="",
        ),
        dict(
            status=OrderStatus.CANCELLED,
            filled_quantity=Decimal("0.001"),
            updated_ts_ns=6,
            reason="gone",
        ),
    ]
    for changes in cases:
        assert rec.moved(**changes) == attrs.evolve(rec, **changes)  # type: ignore[arg-type]


def test_the_first_print_of_a_side_is_numpys_first_match_for_few_and_many_prints():
    """``next_fill_ts``'s search for a market order's first print on its side: a list's
    ``index`` over a few prints, numpy over many; both give numpy's first match (or none)."""
    import numpy as np
    from tradewind.venues.sim import _FEW, _first_of_side

    rng = np.random.default_rng(19)
    for n in (0, 1, 2, 9, 10, _FEW - 1, _FEW, _FEW + 1, 500):
        for p_buy in (0.0, 0.1, 0.5, 1.0):
            sides = np.where(rng.random(n) < p_buy, 1, -1).astype(np.int8)
            for code in (1, -1):
                idx = np.flatnonzero(sides == code)
                want = int(idx[0]) if len(idx) else -1
                assert _first_of_side(sides, code) == want, (n, p_buy, code)


def _assert_same_journals(fast_path: Path, general_path: Path) -> None:
    """The two runs' journals hold the same rows, table by table, and the run traded."""
    from tests.test_determinism import _rows

    fast, general = _rows(fast_path), _rows(general_path)
    assert fast["fills"] and fast["positions"] and fast["events"]  # the run traded
    assert fast.keys() == general.keys()
    for table in fast:
        assert fast[table] == general[table], table


def test_a_backtest_journals_the_same_rows_with_the_per_fill_shortcuts_as_without(
    tmp_path: Path, monkeypatch
):
    """Every table of a backtest's journal, row by row, with the events' payloads written
    directly, the order manager's events not derived again and the positions' lots written
    directly — and with each of those turned off (the general paths they replaced)."""

    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    taken: dict[type, int] = {}
    direct = dict(store._DIRECT_JSON)

    def counting(cls: type) -> object:
        def write(event: Event) -> str:
            taken[cls] = taken.get(cls, 0) + 1
            return direct[cls](event)

        return write

    monkeypatch.setattr(store, "_DIRECT_JSON", {cls: counting(cls) for cls in direct})
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "fast.duckdb")).run)
    assert {cls.__name__ for cls in taken} >= {
        "FillEvent",
        "OrderSubmitted",
        "OrderUpdated",
        "PositionChanged",
    }

    def no_lots(lots: object) -> str:
        raise TypeError(lots)

    monkeypatch.setattr(store, "_DIRECT_JSON", {})
    monkeypatch.setattr(store, "_OWN_TABLES", (Event,))  # every event to _derive
    monkeypatch.setattr(store, "_lots_json", no_lots)
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "general.duckdb")).run)
    _assert_same_journals(tmp_path / "fast.duckdb", tmp_path / "general.duckdb")


def _applied_fresh(position: object, fill: Fill) -> object:
    """``position.apply(fill)`` computed, never taken from the last call's memo."""
    from tradewind.model import portfolio as portfolio_module

    portfolio_module._last_apply = (None, None, None, 0, "", None)
    return position.apply(fill)  # type: ignore[attr-defined]


def _fill_of(side: Side, qty: str, price: str, fee: str = "0.01", ts: int = 7) -> Fill:
    return Fill(
        client_order_id="c1",
        instrument=INST.key,
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        ts_ns=ts,
        liquidity="taker",
        trade_id="t1",
    )


def test_a_fill_applied_again_to_an_identical_position_is_the_last_result():
    """The simulated venue's :meth:`Position.apply` handed to the fill booking: the same fill
    on a position of the very same field objects returns the same object, which is the
    position computed afresh (every field, with the Decimals' exponents)."""
    from tradewind.model.portfolio import Position

    fill = _fill_of(Side.SELL, "0.005", "100.10")
    venue_pos = Position(instrument=INST.key)  # two flat positions, as venue and portfolio
    book_pos = Position(instrument=INST.key)
    first = venue_pos.apply(fill)
    assert book_pos.apply(fill) is first
    fresh = _applied_fresh(book_pos, fill)
    assert fresh is not first and fresh == first
    assert repr(attrs.astuple(fresh)) == repr(attrs.astuple(first))
    # The shared result: the next fill on it (both hold it now) is served again.
    nxt = _fill_of(Side.BUY, "0.012", "99.9", ts=9)
    second = first.apply(nxt)
    assert first.apply(nxt) is second
    assert repr(attrs.astuple(_applied_fresh(first, nxt))) == repr(attrs.astuple(second))


def test_the_last_result_is_not_given_for_an_equal_but_not_identical_position_or_context():
    """Equal Decimals of other exponents (``1.0`` and ``1.00``), another fill object, or
    another decimal context: the position is computed, never the memo's."""
    import decimal

    from tradewind.model.portfolio import Position

    fill = _fill_of(Side.BUY, "0.5", "100.0")
    a = Position(
        instrument=INST.key,
        quantity=Decimal("-1.0"),
        avg_price=Decimal("99"),
        lots=((Decimal("-1.0"), Decimal("99")),),
    )
    b = Position(
        instrument=INST.key,
        quantity=Decimal("-1.00"),
        avg_price=Decimal("99"),
        lots=((Decimal("-1.00"), Decimal("99")),),
    )
    assert a == b
    ra = a.apply(fill)
    rb = b.apply(fill)
    assert rb is not ra and str(rb.quantity) == "-0.50" and str(ra.quantity) == "-0.5"
    assert a.apply(attrs.evolve(fill)) is not a.apply(fill)  # another (equal) fill object
    c = Position(
        instrument=INST.key,
        quantity=Decimal("2"),
        lots=((Decimal("1"), Decimal("1")), (Decimal("1"), Decimal("2"))),
    )
    buy = _fill_of(Side.BUY, "1", "3.5")  # the average 6.5 / 3: rounded by the context
    wide = c.apply(buy)
    with decimal.localcontext() as ctx:
        ctx.prec = 5
        narrow = c.apply(buy)
        assert narrow is not wide and narrow.avg_price != wide.avg_price
        ctx.rounding = decimal.ROUND_DOWN
        assert c.apply(buy).avg_price != narrow.avg_price  # the rounding is in the key too
    assert c.apply(buy).avg_price == wide.avg_price


def test_the_first_print_at_or_after_a_time_is_numpys_searchsorted():
    """``_first_at`` (no call when the batch starts at or after the time, a list's bisect
    over a few prints, numpy over many) gives ``np.searchsorted(side="left")`` on sorted
    times with repeats, for times before, inside, at and after the batch."""
    import numpy as np
    from tradewind.venues.sim import _FEW, _first_at

    rng = np.random.default_rng(1919)
    for n in (0, 1, 2, 9, 10, _FEW - 1, _FEW, _FEW + 1, 300):
        ts = np.cumsum(rng.choice([0, 0, 1, 3], size=n)).astype(np.int64) + 1000
        probes = [0, 999, 1000, 1001, int(ts[-1]) if n else 5, (int(ts[-1]) + 1) if n else 6]
        probes += [int(x) for x in rng.integers(990, 1000 + 3 * n + 10, size=40)]
        for at in probes:
            assert _first_at(ts, at) == int(np.searchsorted(ts, at, side="left")), (n, at)


def test_a_backtest_journals_the_same_rows_with_the_venues_position_handed_over_as_without(
    tmp_path: Path, monkeypatch
):
    """Every table of a backtest's journal, row by row: with the fill booking served the
    simulated venue's :meth:`Position.apply` result and the venue's time searches without
    numpy, and with both turned off (each apply computed, ``np.searchsorted``)."""
    import numpy as np
    from tradewind.model import portfolio as portfolio_module
    from tradewind.model.portfolio import Position

    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    apply = Position.apply
    served = computed = 0

    def counted(self: Position, fill: Fill) -> Position:
        nonlocal served, computed
        last = portfolio_module._last_apply
        out = apply(self, fill)
        if out is last[5]:
            served += 1
        else:
            computed += 1
        return out

    monkeypatch.setattr(Position, "apply", counted)
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "fast.duckdb")).run)
    assert served > 0 and computed > 0

    def never_served(self: Position, fill: Fill) -> Position:
        portfolio_module._last_apply = (None, None, None, 0, "", None)
        return apply(self, fill)

    def searched(ts: np.ndarray, at: int) -> int:
        return int(np.searchsorted(ts, at, side="left"))

    monkeypatch.setattr(Position, "apply", never_served)
    monkeypatch.setattr(sim_module, "_first_at", searched)
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "general.duckdb")).run)
    _assert_same_journals(tmp_path / "fast.duckdb", tmp_path / "general.duckdb")


class _SubDecimal(Decimal):
    """A Decimal subclass: the direct payloads send it down the general path."""


def test_every_checked_field_of_an_unexpected_type_takes_the_general_payload_path():
    """The direct payloads of fills, positions and orders check each Decimal and time field's
    exact type before writing it inline: each such field in turn as a Decimal subclass, a
    float, a numpy integer or a bool raises TypeError there, and the journal's payload is
    the converter's JSON all the same."""
    import numpy as np
    from tradewind.model import FillEvent, OrderSubmitted, OrderUpdated, PositionChanged

    events = _per_fill_events()
    fill = next(e.fill for e in events if isinstance(e, FillEvent))  # type: ignore[attr-defined]
    position = next(e.position for e in events if isinstance(e, PositionChanged))  # type: ignore[attr-defined]
    order = next(e.order for e in events if isinstance(e, OrderSubmitted) and e.order.price)  # type: ignore[attr-defined]
    report = next(e.report for e in events if isinstance(e, OrderUpdated))  # type: ignore[attr-defined]
    odd_decimals = (_SubDecimal("1.5"), 1.5)
    odd_ints = (np.int64(5), True)
    odd: list[Event] = []
    for name in ("quantity", "price", "fee", "fee_rate"):
        for value in odd_decimals:
            odd.append(FillEvent(ts_ns=5, fill=attrs.evolve(fill, **{name: value})))
    for value in odd_ints:
        odd.append(FillEvent(ts_ns=5, fill=attrs.evolve(fill, ts_ns=value)))
    for value in odd_decimals:
        odd.append(FillEvent(ts_ns=5, fill=fill, realized_pnl=value))  # type: ignore[arg-type]
    for name in ("quantity", "avg_price", "realized_pnl", "fees"):
        for value in odd_decimals:
            odd.append(PositionChanged(ts_ns=7, position=attrs.evolve(position, **{name: value})))
    for value in odd_ints:
        odd.append(PositionChanged(ts_ns=7, position=attrs.evolve(position, opened_ts_ns=value)))
    for value in odd_decimals:
        one = ((value, Decimal("50000.5")),)
        odd.append(PositionChanged(ts_ns=7, position=attrs.evolve(position, lots=one)))
        one = ((Decimal("0.001"), value),)
        odd.append(PositionChanged(ts_ns=7, position=attrs.evolve(position, lots=one)))
    for name in ("quantity", "price", "stop_price"):
        for value in odd_decimals:
            odd.append(OrderSubmitted(ts_ns=8, order=attrs.evolve(order, **{name: value})))
    for value in odd_ints:
        odd.append(OrderSubmitted(ts_ns=8, order=attrs.evolve(order, created_ts_ns=value)))
    for value in odd_decimals:
        odd.append(OrderUpdated(ts_ns=9, report=attrs.evolve(report, filled_quantity=value)))
    for value in odd_ints:
        odd.append(OrderUpdated(ts_ns=9, report=attrs.evolve(report, ts_ns=value)))
    assert len(odd) == 38
    for event in odd:
        with pytest.raises(TypeError):
            store._DIRECT_JSON[type(event)](event)
        assert store._payload(event) == _reference_payload(event), event


@pytest.mark.parametrize(
    "text", ["0", "-0", "0E-8", "1E+2", "-1.50", "1.000000000000000000000000001", "NaN", "-Inf"]
)
def test_decimals_written_inline_are_the_converters_text(text: str):
    """A Decimal written inline in a direct payload (exponents, signed zero, special values)
    is the converter's text for it, in every field of the per-fill events."""
    from tradewind.model import FillEvent, OrderSubmitted, OrderUpdated, PositionChanged

    d = Decimal(text)
    for event in _per_fill_events():
        if isinstance(event, FillEvent):
            f = attrs.evolve(event.fill, quantity=d, price=d, fee=d, fee_rate=d)
            event = FillEvent(ts_ns=5, fill=f, realized_pnl=d)
        elif isinstance(event, PositionChanged):
            p = event.position
            lots = tuple((d, d) for _ in p.lots)
            p = attrs.evolve(p, quantity=d, avg_price=d, realized_pnl=d, fees=d, lots=lots)
            event = PositionChanged(ts_ns=7, position=p)
        elif isinstance(event, OrderSubmitted):
            qty = d if d.is_finite() and d > 0 else event.order.quantity  # must be positive
            o = attrs.evolve(event.order, quantity=qty, price=d, stop_price=d)
            event = OrderSubmitted(ts_ns=8, order=o)
        elif isinstance(event, OrderUpdated):
            event = OrderUpdated(ts_ns=9, report=attrs.evolve(event.report, filled_quantity=d))
        direct = store._DIRECT_JSON[type(event)](event)
        assert direct == _reference_payload(event), (text, type(event).__name__)
