"""The paper fill path's shortcuts of the eleventh session (issue 19, docs/performance.md)
change no value: ``Position.apply`` gives the very Decimals (digits and exponents) the code
before it gave, and the simulated venue forgets the same finished orders, in the same order,
as its dict did."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal, getcontext, localcontext
from typing import Any

import anyio
import attrs
import pytest
from tradewind.model import Fill, Order, OrderStatus, OrderType, Side
from tradewind.model import portfolio as portfolio_module
from tradewind.model.portfolio import ZERO, Position
from tradewind.venues.sim import SimulatedVenue, SimVenueConfig

from tests.faulty_venue import INST


def _reference_apply(self: Position, fill: Fill) -> Position:
    """``Position.apply`` as it was before the shortcut (without its memo), verbatim."""
    signed = fill.net_quantity * fill.side.sign
    q = self.quantity
    realized = self.realized_pnl
    opened = self.opened_ts_ns
    lots = list(self.lots)
    if q == 0 or (q > 0) == (signed > 0):
        if q == 0:
            opened = fill.ts_ns
        lots.append((signed, fill.price))
    else:
        remaining = signed  # opposite sign to the lots
        while lots and remaining != 0:
            lot_q, lot_p = lots[0]
            take = min(abs(lot_q), abs(remaining))
            sign = 1 if lot_q > 0 else -1
            realized += (fill.price - lot_p) * take * sign
            lot_q -= take * sign
            remaining += take * sign
            if lot_q == 0:
                lots.pop(0)
            else:
                lots[0] = (lot_q, lot_p)
        if remaining != 0:
            lots = [(remaining, fill.price)]
            opened = fill.ts_ns
    new_q = sum((lq for lq, _ in lots), ZERO)
    avg = sum((lq * lp for lq, lp in lots), ZERO) / new_q if new_q else ZERO
    return Position(
        instrument=self.instrument,
        quantity=new_q,
        avg_price=avg,
        realized_pnl=realized,
        fees=self.fees + fill.fee_in_quote,
        opened_ts_ns=opened,
        lots=tuple(lots),
    )


def _bits(value: Any) -> Any:
    """A value with its type and, for a Decimal, its sign, digits and exponent."""
    if isinstance(value, Decimal):
        return (type(value), value.as_tuple())
    if isinstance(value, tuple):
        return tuple(_bits(v) for v in value)
    return (type(value), value)


def _position_bits(p: Position) -> tuple[Any, ...]:
    return (
        p.instrument,
        _bits(p.quantity),
        _bits(p.avg_price),
        _bits(p.realized_pnl),
        _bits(p.fees),
        _bits(p.opened_ts_ns),
        _bits(p.lots),
    )


def _fresh(position: Position, fill: Fill) -> Position:
    portfolio_module._last_apply = (None, None, None, 0, "", None)
    return position.apply(fill)


_QUANTITIES = ["0.001", "0.002", "0.0010", "1", "1E+1", "0.5", "2.50", "0", "0.000", "-0"]
_PRICES = ["100.1", "100.10", "99.7", "1E+2", "0.0001", "123456.789", "100"]


def _random_fill(rng: random.Random, ts: int) -> Fill:
    asset = rng.choice(["quote", "quote", "base", "other"])
    return Fill(
        client_order_id="c",
        instrument="I",
        side=rng.choice([Side.BUY, Side.SELL]),
        quantity=Decimal(rng.choice(_QUANTITIES)),
        price=Decimal(rng.choice(_PRICES)),
        fee=Decimal(rng.choice(["0.04", "0", "0.0001", "1E-8"])),
        ts_ns=ts,
        fee_asset=asset,
        fee_currency="BNB" if asset == "other" else "",
    )


@pytest.mark.parametrize("seed", range(8))
def test_applying_random_fills_gives_the_reference_positions_bit_for_bit(seed: int):
    """Random runs of fills (openings, increases into several lots, partial and whole
    reductions, flips, zero and signed-zero quantities, quantities and prices of several
    exponents, fees from the bought asset) in two decimal contexts: every field of every
    position, digits and exponents, is the code before's."""
    rng = random.Random(seed)
    for prec, rounding in ((28, ROUND_HALF_EVEN), (9, ROUND_UP)):
        with localcontext() as ctx:
            ctx.prec = prec
            ctx.rounding = rounding
            fast = ref = Position(instrument="I")
            lots_seen = set()
            for ts in range(400):
                fill = _random_fill(rng, ts)
                if ref.quantity and rng.random() < 0.15:  # closed exactly: flat again
                    fill = attrs.evolve(
                        fill,
                        side=Side.SELL if ref.quantity > 0 else Side.BUY,
                        quantity=abs(ref.quantity),
                        fee_asset="quote",
                        fee_currency="",
                    )
                fast, ref = _fresh(fast, fill), _reference_apply(ref, fill)
                assert _position_bits(fast) == _position_bits(ref), (seed, ts, fill)
                lots_seen.add(len(ref.lots))
            assert {0, 1, 2} <= lots_seen  # flat, one lot and several lots were all met


def test_quantities_of_other_types_keep_the_reference_types():
    """An int quantity (outside the declared type) signs as before: an int lot stays an int."""
    pos = Position(instrument="I")
    for side, qty in ((Side.BUY, 3), (Side.BUY, 2), (Side.SELL, 4), (Side.SELL, 5)):
        fill = Fill(
            client_order_id="c",
            instrument="I",
            side=side,
            quantity=qty,  # type: ignore[arg-type]
            price=Decimal("10.5"),
            fee=Decimal("0.01"),
            ts_ns=1,
        )
        fast, ref = _fresh(pos, fill), _reference_apply(pos, fill)
        assert _position_bits(fast) == _position_bits(ref)
        pos = ref


def test_the_memo_is_still_served_for_the_same_fill_and_position():
    fill = Fill(
        client_order_id="c",
        instrument="I",
        side=Side.SELL,
        quantity=Decimal("0.002"),
        price=Decimal("100.3"),
        fee=Decimal("0.04"),
        ts_ns=5,
    )
    pos = _fresh(Position(instrument="I"), fill)
    after = _fresh(pos, fill)
    assert pos.apply(fill) is after  # served: the same object
    with localcontext() as ctx:
        ctx.prec = getcontext().prec - 1
        assert pos.apply(fill) is not after  # another context: computed again
    assert _position_bits(pos.apply(fill)) == _position_bits(_reference_apply(pos, fill))


def _order(i: int, qty: str = "0.001") -> Order:
    return Order(
        client_order_id=f"o-{i}",
        instrument=INST.key,
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal(qty),
        price=Decimal("100.0"),
        created_ts_ns=1,
    )


def test_the_venue_forgets_the_same_finished_orders_in_the_same_order_as_a_dict(monkeypatch):
    """Orders finished in a random order (cancelled, and rejected at once), some ids sent
    again after they were forgotten: after each step the orders the venue still knows are
    those a dict of finished ids kept (the code before), and a lookup of each id answers
    as then."""
    monkeypatch.setattr(SimulatedVenue, "KEEP_FINISHED", 7)
    rng = random.Random(3)
    venue = SimulatedVenue(SimVenueConfig(latency_ms=0), instruments=[INST])
    known: set[str] = set()  # the reference: what the venue knows
    finished: dict[str, None] = {}  # the reference's finished ids, a dict as before

    def retire(cid: str) -> None:
        finished[cid] = None
        while len(finished) > 7:
            oldest = next(iter(finished))
            del finished[oldest]
            known.discard(oldest)

    async def main() -> None:
        open_ids: list[str] = []
        for step in range(300):
            i = rng.randrange(60)  # ids repeat: some sent again after they were forgotten
            cid = f"o-{i}"
            action = rng.random()
            if action < 0.45:
                rejected = rng.random() < 0.3
                report = await venue.submit_order(_order(i, "0.1005" if rejected else "0.1"))
                if cid in known:
                    continue  # its current state answered
                known.add(cid)
                if rejected:
                    assert report.status is OrderStatus.REJECTED
                    retire(cid)
                else:
                    assert report.status is OrderStatus.ACCEPTED
                    open_ids.append(cid)
            elif open_ids:
                cid = open_ids.pop(rng.randrange(len(open_ids)))
                report = await venue.cancel_order(INST.key, cid)
                assert report.status is OrderStatus.CANCELLED
                retire(cid)
            assert set(venue._orders) == known, step
            assert list(venue._finished) == list(finished), step
        assert len(finished) == 7  # ids were forgotten
        for i in range(60):
            report = await venue.fetch_order(INST.key, f"o-{i}")
            assert (report is None) is (f"o-{i}" not in known)

    anyio.run(main)


_SPECIAL = ["0", "-0", "0E+3", "-0E-9", "NaN", "-NaN", "sNaN", "NaN123", "-sNaN7", "Infinity"]
_SPECIAL += ["-Infinity", "1E+1", "1.000", "1E-7", "0.000001", "0.0000001", "-1.5E+10"]


@pytest.mark.parametrize("capitals", [0, 1])
def test_a_decimals_str_is_the_text_its_empty_format_spec_gave(capitals: int):
    """The journal's inline writers put a Decimal into f-strings as ``{value!s}`` (its
    ``str``) where ``{value}`` (``Decimal.__format__`` with an empty spec) wrote it before:
    the same text for signed zeros, NaNs with payloads, infinities, exponents either side of
    the scientific notation's thresholds and random values, in either exponent case."""
    rng = random.Random(capitals)
    texts = list(_SPECIAL)
    for _ in range(5000):
        digits = rng.randrange(10 ** rng.randrange(1, 30))
        texts.append(f"{rng.choice(['', '-'])}{digits}E{rng.randrange(-40, 40)}")
    with localcontext() as ctx:
        ctx.capitals = capitals
        for text in texts:
            value = Decimal(text)
            assert f"{value!s}" == f"{value}" == format(value, ""), text


def test_a_fill_key_without_a_trade_id_and_the_payloads_are_the_texts_before():
    """The key of a fill without a trade id, and the direct payloads and lots of a fill and a
    position, against the same texts built with ``Decimal.__format__`` as before."""
    from tradewind.journal import store
    from tradewind.model import FillEvent, PositionChanged

    fill = Fill(
        client_order_id="c",
        instrument="I",
        side=Side.SELL,
        quantity=Decimal("0.0020"),
        price=Decimal("1E+2"),
        fee=Decimal("-0"),
        ts_ns=9,
        fee_rate=Decimal("0.000001"),
    )
    q, p, fee, rate = fill.quantity, fill.price, fill.fee, fill.fee_rate
    assert store.fill_key(fill) == f"~{fill.ts_ns}:{fill.side.value}:{q}:{p}"
    pos = _fresh(Position(instrument="I"), fill)
    lots = f'[["{pos.lots[0][0]}", "{pos.lots[0][1]}"]]'
    assert store._lots_json(pos.lots) == lots
    assert store._payload(PositionChanged(ts_ns=1, position=pos)) == (
        f'{{"position": {{"instrument": "I", "quantity": "{pos.quantity}", '
        f'"avg_price": "{pos.avg_price}", "realized_pnl": "{pos.realized_pnl}", '
        f'"fees": "{pos.fees}", "opened_ts_ns": 9, "lots": {lots}}}}}'
    )
    event = FillEvent(ts_ns=1, fill=fill, realized_pnl=Decimal("-0.00"), pnl_currency="USDT")
    assert store._payload(event) == (
        f'{{"fill": {{"client_order_id": "c", "instrument": "I", "side": "sell", '
        f'"quantity": "{q}", "price": "{p}", "fee": "{fee}", "ts_ns": 9, '
        f'"liquidity": "taker", "trade_id": "", "fee_currency": "", "fee_asset": "quote", '
        f'"fee_rate": "{rate}"}}, "realized_pnl": "-0.00", "pnl_currency": "USDT"}}'
    )


@pytest.mark.parametrize("min_notional", ["0", "5"])
def test_a_market_orders_min_notional_is_checked_at_the_last_print_as_before(min_notional: str):
    """A market order's notional is checked at the last print (made a Decimal) where the
    instrument has a minimum; without one, no reference price is needed and the order is
    accepted, as the check always let it be."""
    from tests.test_sim_venue import INST as SIM_INST
    from tests.test_sim_venue import tape

    inst = attrs.evolve(SIM_INST, min_notional=Decimal(min_notional))
    venue = SimulatedVenue(SimVenueConfig(latency_ms=0), instruments=[inst])
    venue.on_trades(tape([(1, 1000.3, 1.0)]))
    order = Order(
        client_order_id="m1",
        instrument=inst.key,
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.001"),
        created_ts_ns=1,
    )
    report = anyio.run(venue.submit_order, order)
    if min_notional == "0":
        assert report.status is OrderStatus.ACCEPTED
    else:
        assert report.status is OrderStatus.REJECTED
        notional = Decimal(repr(1000.3)) * Decimal("0.001")
        assert report.reason == f"notional {notional} is below min notional 5"
