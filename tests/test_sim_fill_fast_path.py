"""The simulated venue's market-order path and the portfolio's fill booking as the engine
calls them per fill (issues 17 and 19, twelfth session) change no value: random orders of
every kind over random tapes (partial fills, both sides, min notional, NaN prices and sizes,
cancels, engine steps and whole batches) give the same reports, fills, cash and positions as
the code before, kept here verbatim; random fills with fees in the quote, the base and a
third currency, with and without a venue account, leave the same portfolio."""

from __future__ import annotations

import random
from decimal import Decimal

import anyio
import numpy as np
import pytest
from tradewind.model import (
    Fill,
    Instrument,
    InstrumentKind,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TickBatch,
    TimeInForce,
)
from tradewind.trading.accounts import ConversionError
from tradewind.trading.pnl import fee_amount, fee_value, pnl_currency, unpriced_fee
from tradewind.trading.portfolio import ZERO, Portfolio
from tradewind.venues import sim as sim_module
from tradewind.venues.sim import (
    SimulatedVenue,
    SimVenueConfig,
    _dec,
    _first_at,
    _first_of_side,
    _SimOrder,
)

MS = 1_000_000

PERP = Instrument(
    venue="sim",
    symbol="BTCUSDT",
    kind=InstrumentKind.PERP,
    tick_size="0.1",
    lot_size="0.001",
    min_notional="5",
    maker_fee="0.0002",
    taker_fee="0.0004",
    base="BTC",
    quote="USDT",
)
#: No minimum notional (a market order's reference price is not made) and a lot that is not a
#: power of ten (``round_size``'s quotient path).
ODD = Instrument(
    venue="sim",
    symbol="ETHUSDT",
    kind=InstrumentKind.PERP,
    tick_size="0.05",
    lot_size="0.002",
    maker_fee="-0.0001",
    taker_fee="0.00075",
    base="ETH",
    quote="USDT",
)


class _OldVenue(SimulatedVenue):
    """The simulated venue's next fill time, matching and fill booking as they were before
    (verbatim)."""

    def next_fill_ts(self, batch: TickBatch) -> int | None:
        """The earliest trade time in ``batch`` at which an open order could fill, or None.

        Conservative (never later than the true first fill): the engine feeds the tape up to
        this time, then re-checks exits, so a position opened by a fill is watched from the
        very next trade, exactly as if the tape were fed one trade at a time.
        """
        orders = self._open.get(batch.instrument)
        if not orders or len(batch) == 0:
            return None
        best: int | None = None
        for so in orders:
            start = _first_at(batch.ts_ns, so.arrival_ns)
            if start >= len(batch):
                continue
            t = int(batch.ts_ns[start])
            kind = so.order.type
            if so.resting or (kind in (OrderType.STOP, OrderType.STOP_LIMIT) and not so.triggered):
                hit = self._resting_hits(so, batch.price[start:])
                idx = np.flatnonzero(hit)
                if len(idx) == 0:
                    continue
                t = int(batch.ts_ns[start + int(idx[0])])
            elif so.cancel_at_ns is None and (
                kind is OrderType.MARKET or (kind is OrderType.STOP and so.triggered)
            ):
                # A market order takes only prints initiated on its side (``_sweep``): none
                # can fill it before the first of them.
                k = _first_of_side(batch.side[start:], 1 if so.order.side is Side.BUY else -1)
                if k < 0:
                    continue
                t = int(batch.ts_ns[start + k])
            if best is None or t < best:
                best = t
        return best

    def on_trades(self, batch: TickBatch) -> None:
        """Match open orders of ``batch.instrument`` against its trades."""
        if len(batch) == 0:
            return
        self._settle_funding(batch)
        key = batch.instrument
        self._now = max(self._now, batch.last_ts)
        self._clock[key] = max(self._clock.get(key, 0), batch.last_ts)
        orders = self._open.get(batch.instrument)
        if orders:
            for so in list(orders):
                self._match(so, batch)
            self._open[batch.instrument] = [so for so in orders if not so.status.is_terminal]
        self._last[batch.instrument] = batch.last_price

    def _match(self, so: _SimOrder, batch: TickBatch) -> None:
        """Match one order against the trades of ``batch`` that printed after its arrival.

        Split-invariant: feeding a tape in any batches (never splitting trades of one
        timestamp) gives the same fills. Market orders walk the prints until filled; a
        limit order's first contact is the group of prints at the first timestamp after
        arrival; after that it rests.
        """
        order = so.order
        start = _first_at(batch.ts_ns, so.arrival_ns)
        stop = len(batch)
        if so.cancel_at_ns is not None:
            stop = int(np.searchsorted(batch.ts_ns, so.cancel_at_ns, side="left"))
        if start < stop:
            prices = batch.price[start:stop]
            sizes = batch.size[start:stop]
            ts = batch.ts_ns[start:stop]
            sides = batch.side[start:stop]
            i0 = 0
            if order.type in (OrderType.STOP, OrderType.STOP_LIMIT) and not so.triggered:
                idx = np.flatnonzero(self._resting_hits(so, prices))
                if len(idx) == 0:
                    self._expire_cancel(so, batch)
                    return
                so.triggered = True
                i0 = int(idx[0])
            if order.type in (OrderType.MARKET, OrderType.STOP):
                self._sweep(so, prices[i0:], sizes[i0:], ts[i0:], sides[i0:])
            else:
                if not so.resting:
                    i0 = self._first_contact(so, prices, sizes, ts, sides, i0)
                if so.resting and not so.status.is_terminal and i0 < len(prices):
                    self._rest(so, prices[i0:], sizes[i0:], ts[i0:])
        if not so.status.is_terminal:
            self._expire_cancel(so, batch)

    def _sweep_few(
        self,
        so: _SimOrder,
        inst: Instrument,
        prices: list[float],
        sizes: list[float],
        ts: list[int],
        sides: list[int],
    ) -> None:
        """:meth:`_sweep` of a GTC or IOC order over a few prints, as Python lists: the same
        fills (the running sum is the same sequence of float additions as ``np.cumsum``; a
        print is taken while the sizes before it fall short of what the order needs; an IOC
        meets only the prints of the first instant on its side), without the fixed cost of
        the numpy calls, which a few prints do not repay. FOK (its size check is numpy's
        ``sum``, whose order of additions differs from a running sum) stays with
        :meth:`_sweep`."""
        code = 1 if so.order.side is Side.BUY else -1
        ioc = so.order.time_in_force is TimeInForce.IOC
        part = self.config.participation
        need = float(so.remaining)
        taken = 0.0
        first: int | None = None
        for p, q, t, d in zip(prices, sizes, ts, sides, strict=True):
            if d != code:
                continue
            if first is None:
                first = t
            elif ioc and t != first:
                break
            if taken >= need:
                break
            avail = q * part
            taken += avail
            qty = inst.round_size(min(avail, float(so.remaining)))
            if qty <= 0:
                continue
            self._book_fill(so, qty, _dec(p), t, inst.taker_fee, "taker")
            if so.remaining <= 0:
                self._finish(so, OrderStatus.FILLED)
                return
        if ioc and first is not None:
            self._finish(
                so,
                OrderStatus.EXPIRED if so.filled == 0 else OrderStatus.CANCELLED,
                "immediate-or-cancel: the rest found no size at arrival",
            )

    def _book_fill(
        self, so: _SimOrder, qty: Decimal, price: Decimal, ts: int, rate: Decimal, liquidity: str
    ) -> None:
        order = so.order
        fee = qty * price * rate
        self._fills += 1
        fill = Fill(
            client_order_id=order.client_order_id,
            instrument=order.instrument,
            side=order.side,
            quantity=qty,
            price=price,
            fee=fee,
            ts_ns=ts,
            liquidity=liquidity,
            trade_id=f"{self.instance}-fill-{self._fills}",
        )
        so.filled += qty
        so.status = OrderStatus.FILLED if so.remaining <= 0 else OrderStatus.PARTIALLY_FILLED
        before = self._positions.get(order.instrument)
        if before is None:
            before = Position(instrument=order.instrument)
        after = before.apply(fill)
        self._positions[order.instrument] = after
        self._cash += after.realized_pnl - before.realized_pnl - fee
        if self._sink is not None:
            self._sink.on_fill(fill)
            if so.status is OrderStatus.PARTIALLY_FILLED:
                # ``_report`` at the fill's time, built directly (attrs.evolve's generic copy
                # costs more than the report itself).
                self._sink.on_report(
                    OrderReport(
                        client_order_id=order.client_order_id,
                        instrument=order.instrument,
                        status=so.status,
                        ts_ns=ts,
                        filled_quantity=so.filled,
                        venue_order_id=so.venue_order_id,
                    )
                )


class _Sink:
    def __init__(self) -> None:
        self.got: list[str] = []

    def on_report(self, report: OrderReport) -> None:
        self.got.append(repr(report))

    def on_fill(self, fill: Fill) -> None:
        self.got.append(repr(fill))

    def on_event(self, event: object) -> None:
        self.got.append(repr(event))


def _random_tape(rnd: random.Random, inst: Instrument, t: int, nan: bool) -> tuple[TickBatch, int]:
    rows = []
    for _ in range(rnd.choice((1, 2, 3, 5, 8, 12, 30, 70))):
        t += rnd.choice((0, 0, 1, 2, 5))
        price = 100.0 + rnd.randint(-30, 30) / 10
        if nan and rnd.random() < 0.05:
            price = float("nan")
        size = rnd.choice((0.1, 0.7, 0.3, 0.011, 0.0015, 0.0004, 2.5, 0.003, rnd.random()))
        if nan and rnd.random() < 0.02:
            size = float("nan")
        rows.append((t * MS, price, size, rnd.choice((1, -1, 1, -1, 0))))
    ts, p, s, d = zip(*rows, strict=True)
    return TickBatch.from_arrays(inst.key, list(ts), list(p), list(s), list(d)), t + 1


def _random_order(rnd: random.Random, inst: Instrument, n: int) -> Order:
    kind = rnd.choice(
        (OrderType.MARKET,) * 6 + (OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT)
    )
    tif = rnd.choice(
        (TimeInForce.IOC,) * 4 + (TimeInForce.GTC, TimeInForce.FOK, TimeInForce.POST_ONLY)
    )
    if kind is OrderType.MARKET and tif is TimeInForce.POST_ONLY:
        tif = TimeInForce.IOC
    price = stop = None
    if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        price = Decimal(str(100 + rnd.randint(-20, 20) / 10)).quantize(inst.tick_size)
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        stop = Decimal(str(100 + rnd.randint(-20, 20) / 10)).quantize(inst.tick_size)
    qty = rnd.choice(("0.002", "0.004", "0.010", "0.05", "0.7", "1.234", "3"))
    if qty == "1.234" and inst is ODD:
        qty = "1.236"
    return Order(
        client_order_id=f"o{n}",
        instrument=inst.key,
        side=rnd.choice((Side.BUY, Side.SELL)),
        type=kind,
        quantity=Decimal(qty),
        price=price,
        stop_price=stop,
        time_in_force=tif,
        reduce_only=rnd.random() < 0.2,
    )


def _play(cls: type[SimulatedVenue], seed: int) -> list[str]:
    """Everything a venue of ``cls`` tells its sink and holds, over one random session."""
    rnd = random.Random(seed)
    inst = rnd.choice((PERP, ODD))
    nan = rnd.random() < 0.3
    venue = cls(
        SimVenueConfig(
            latency_ms=rnd.choice((0.0, 0.0, 1.0, 3.0)),
            participation=rnd.choice((1.0, 0.5, 0.3, 0.07)),
            queue=rnd.choice(("through", "touch", "position")),
        ),
        instruments=[inst],
    )
    sink = _Sink()
    venue.set_sink(sink)
    out = sink.got
    t = 10
    sent: list[str] = []
    for _ in range(25):
        venue.set_time(t * MS - rnd.choice((0, 0, 2 * MS)), inst.key)
        try:
            for _ in range(rnd.choice((1, 1, 1, 2))):
                order = _random_order(rnd, inst, len(sent))
                sent.append(order.client_order_id)
                out.append(repr(anyio.run(venue.submit_order, order)))
            if rnd.random() < 0.15:
                out.append(repr(anyio.run(venue.cancel_order, inst.key, rnd.choice(sent))))
        except ArithmeticError as exc:  # a NaN last print against a minimum notional
            out.append(f"refused: {type(exc).__name__}")
        tape, t = _random_tape(rnd, inst, t, nan)
        rest = tape
        try:
            if rnd.random() < 0.3:
                venue.on_trades(rest)  # the whole batch at once
            else:
                while len(rest):  # the engine's steps: up to each next possible fill
                    end = len(rest)
                    at = venue.next_fill_ts(rest)
                    out.append(f"next fill at {at}")
                    if at is not None:
                        end = int(rest.ts_ns.searchsorted(at, side="right"))
                    venue.on_trades(rest.slice(0, end))
                    rest = rest.slice(end, len(rest))
        except ArithmeticError as exc:
            out.append(f"refused: {type(exc).__name__}")
        out.append(f"cash {venue._cash!r} fills {venue._fills} last {venue._last!r}")
        out.append(repr(sorted(venue._positions.items())))
        out.append(repr(anyio.run(venue.fetch_open_orders)))
    return out


def test_the_market_order_path_books_what_the_code_before_booked():
    """200 random sessions (both instruments, every order type and time in force, partial
    fills, participation 1 to 0.07, latency, cancels, NaN prices and sizes, engine steps and whole
    batches): every report, fill, cash and position of the venue is the code before's, with
    the same digits and exponents (compared as text, so a NaN price compares too)."""
    swept = few = refused = partial = 0
    real_few = SimulatedVenue._sweep_few

    def counted(self, *args):  # type: ignore[no-untyped-def]
        nonlocal few
        few += 1
        return real_few(self, *args)

    for seed in range(200):
        before = _play(_OldVenue, seed)
        sim_module.SimulatedVenue._sweep_few = counted  # type: ignore[method-assign]
        try:
            after = _play(SimulatedVenue, seed)
        finally:
            sim_module.SimulatedVenue._sweep_few = real_few  # type: ignore[method-assign]
        assert after == before, seed
        swept += sum("taker" in x for x in after)
        refused += sum(x.startswith("refused") for x in after)
        partial += sum("PARTIALLY_FILLED" in x for x in after)
    assert few > 1000  # the market orders took the list path
    assert swept > 1000 and partial > 100 and refused > 0


def test_a_market_order_over_more_prints_than_few_takes_numpys_sweep_as_before(monkeypatch):
    """With the list path off (``_FEW`` = 0) every market order goes through ``_sweep``'s
    numpy path, the same as before: the sessions above give the same output either way."""
    monkeypatch.setattr(sim_module, "_FEW", 0)
    for seed in range(40):
        assert _play(SimulatedVenue, seed) == _play(_OldVenue, seed), seed


class _OldPortfolio(Portfolio):
    """The portfolio's fill booking as it was before (verbatim)."""

    def apply_fill(self, fill: Fill, after: Position | None = None) -> Position:
        """Book ``fill``: position, and realised P&L and fee into cash (a simulated venue) or
        the venue's account balances. ``after``: ``position(fill.instrument).apply(fill)``
        when the caller has computed it already (it is not computed twice)."""
        before = self.position(fill.instrument)
        if after is None:
            after = before.apply(fill)
        fee = fill.fee_in_quote
        realized = after.realized_pnl - before.realized_pnl
        inst = self._instruments.get(fill.instrument)
        account = self.accounts.get(inst.venue) if inst is not None else None
        if account is not None and inst is not None:
            account.apply_fill(fill, inst, realized)
        else:
            self.cash += realized - fee
        rep = self.accounts.reporting_currency
        pnl_cur = pnl_currency(inst, rep) if inst is not None else rep
        fee_cur, fee_amt = fee_amount(fill, pnl_cur)
        self.fees_by_currency[fee_cur] = self.fees_by_currency.get(fee_cur, ZERO) + fee_amt
        value = fee_value(fill, pnl_cur)
        if value is None:
            self.fees_unpriced.append(unpriced_fee(fill, pnl_cur))
        else:
            self.fees_valued[pnl_cur] = self.fees_valued.get(pnl_cur, ZERO) + value[1]
        self._positions[fill.instrument] = after
        self.changes += 1
        self._track_open(after)
        return after


SPOT = Instrument(
    venue="acct",
    symbol="ETHBTC",
    kind=InstrumentKind.SPOT,
    tick_size="0.00001",
    lot_size="0.001",
    maker_fee="0.001",
    taker_fee="0.001",
    base="ETH",
    quote="BTC",
)
NOQUOTE = Instrument(
    venue="sim",
    symbol="XYZ",
    kind=InstrumentKind.PERP,
    tick_size="0.1",
    lot_size="0.001",
    maker_fee="0.0002",
    taker_fee="0.0004",
)


def _portfolio_state(p: Portfolio) -> str:
    return repr(
        (
            p.cash,
            sorted(p.fees_by_currency.items()),
            sorted(p.fees_valued.items()),
            p.fees_unpriced,
            sorted(p._positions.items()),
            p._open_keys,
            p.changes,
            sorted((k, sorted(a.balances.items())) for k, a in p.accounts.by_venue.items()),
        )
    )


def _random_fill(rnd: random.Random, n: int) -> Fill:
    inst = rnd.choice((PERP, ODD, SPOT, NOQUOTE, None))
    asset = rnd.choice(("quote", "quote", "base", "other", "quote"))
    currency = ""
    if asset == "other" or rnd.random() < 0.2:
        currency = rnd.choice(("BNB", "", "USDT"))
    return Fill(
        client_order_id=f"c{n}",
        instrument=inst.key if inst is not None else "other:UNKNOWN",
        side=rnd.choice((Side.BUY, Side.SELL)),
        quantity=Decimal(rnd.choice(("0.001", "0.010", "0.5", "1.25", "3"))),
        price=Decimal(rnd.choice(("100.1", "99.95", "0.05321", "101", "1E+2"))),
        fee=Decimal(rnd.choice(("0.01", "0.0004", "0", "-0.002", "0.00012345"))),
        ts_ns=n * MS,
        fee_currency=currency,
        fee_asset=asset,
        fee_rate=rnd.choice((None, Decimal("0.0123"), Decimal("2"))),
    )


@pytest.mark.parametrize("accounts", [False, True])
def test_the_portfolios_fill_booking_is_the_code_befores(accounts):
    """Random fills of four instruments and an unknown one, fees in the quote (the simulated
    venue's), the base and a third currency (with and without its price), perpetual and spot,
    with and without a venue account: after every fill the portfolio (cash, fees per currency
    and valued, unpriced fees, positions, open instruments, balances) is the code before's;
    a fee in a third currency without its name raises the same error at the same point."""
    instruments = {i.key: i for i in (PERP, ODD, SPOT, NOQUOTE)}
    quote_fills = 0
    for seed in range(40):
        rnd = random.Random(seed)
        new, old = (cls(instruments, Decimal("10000")) for cls in (Portfolio, _OldPortfolio))
        if accounts:
            for p in (new, old):
                p.seed_account("acct", {"BTC": Decimal("2"), "ETH": Decimal("10")})
        for n in range(150):
            fill = _random_fill(rnd, n)
            quote_fills += fill.fee_asset == "quote"
            got = []
            for p in (new, old):
                handed = p.position(fill.instrument).apply(fill) if rnd.random() < 0.5 else None
                try:
                    after = p.apply_fill(fill, handed)
                    got.append(repr(after))
                except (ValueError, ConversionError) as exc:
                    got.append(f"{type(exc).__name__}: {exc}")
                got.append(_portfolio_state(p))
            assert got[0:2] == got[2:4], (seed, n)
    assert quote_fills > 2000


def _equity_before(p: Portfolio) -> Decimal:
    """``Portfolio.equity`` as it was before (verbatim, with ``Position.unrealized_pnl`` and
    ``cost`` written out as they were): computed afresh at every call."""
    eq = p.cash
    accounts = p.accounts
    positions = p._positions
    for key in p._open_keys:
        pos = positions[key]
        if pos.is_flat or key not in p._last:
            continue
        inst = p._instruments.get(key)
        if inst is not None and inst.venue in accounts:
            continue  # valued by its account below
        mark = Decimal(repr(p._last[key]))
        eq += mark * pos.quantity - sum((q * p for q, p in pos.lots), ZERO)
    if accounts:
        eq += accounts.equity(p.last_price, p._positions.values())
    return eq


def test_the_kept_equity_is_the_equity_computed_afresh():
    """3,000 random steps per seed over marks (NaN and repeated prices too), fills opening,
    adding to, reducing and flipping positions (one lot and several), restored positions,
    funding, cash set from outside, venue accounts seeded, and the decimal context's precision
    and rounding changed: after each, and read several times, :meth:`Portfolio.equity` is the
    equity computed afresh by the code before, digit for digit; the kept answer was given."""
    import decimal

    instruments = {i.key: i for i in (PERP, ODD, SPOT, NOQUOTE)}
    kept_given = 0
    real = Portfolio.equity
    for seed in range(6):
        rnd = random.Random(seed)
        p = Portfolio(instruments, Decimal("10000"))
        with decimal.localcontext() as ctx:
            for n in range(3000):
                op = rnd.random()
                key = rnd.choice(list(instruments))
                if op < 0.4:
                    price = rnd.choice((100.1, 99.95, 101.0, 0.1 + 0.2, float("nan"), 1e-9))
                    p.mark(key, price, n * MS)
                elif op < 0.7:
                    f = _random_fill(rnd, n)
                    if f.fee_asset == "other" and not f.fee_currency:
                        continue
                    p.apply_fill(f)
                elif op < 0.75:
                    p.restore_position(
                        Position(
                            instrument=key,
                            quantity=Decimal("0.5"),
                            avg_price=Decimal("100"),
                            lots=(
                                (Decimal("0.2"), Decimal("99")),
                                (Decimal("0.3"), Decimal("101")),
                            ),
                        )
                    )
                elif op < 0.8:
                    p.apply_funding(key, Decimal(rnd.choice(("0.01", "-0.3", "0"))))
                elif op < 0.84:
                    p.cash = Decimal(rnd.choice(("10000", "9999.5", "10000.00")))
                elif op < 0.86:
                    ctx.prec = rnd.choice((28, 28, 12, 40))
                elif op < 0.88:
                    ctx.rounding = rnd.choice((decimal.ROUND_HALF_EVEN, decimal.ROUND_DOWN))
                elif op < 0.885 and not p.accounts:
                    p.seed_account("acct", {"BTC": Decimal("2"), "ETH": Decimal("10")})
                for _ in range(rnd.choice((1, 2, 3))):
                    kept = p._equity_kept
                    try:
                        want = repr(_equity_before(p))
                    except ConversionError as exc:
                        want = f"ConversionError: {exc}"
                    try:
                        got = repr(real(p))
                    except ConversionError as exc:
                        got = f"ConversionError: {exc}"
                    kept_given += not p.accounts and kept is not None and p._equity_kept is kept
                    assert got == want, (seed, n)
    assert kept_given > 800


def test_a_piece_end_after_a_time_is_numpys_searchsorted():
    """The engine's step end after the venue's next fill time (``_after``) is numpy's
    ``searchsorted(..., side="right")`` over sorted times with repeats, at and around the
    size where it leaves the list for numpy."""
    from tradewind.trading.engine import _FEW_TRADES, _after

    rnd = random.Random(3)
    for n in (0, 1, 2, 9, _FEW_TRADES - 1, _FEW_TRADES, _FEW_TRADES + 1, 300):
        for _ in range(30):
            ts = np.array(sorted(rnd.randint(0, 40) * MS for _ in range(n)), dtype=np.int64)
            for t in [-1, 0, 41 * MS, *(int(x) for x in ts[:5]), rnd.randint(0, 40) * MS]:
                assert _after(ts, t) == int(ts.searchsorted(t, side="right")), (n, t)


@pytest.mark.parametrize("scheduler", [True, False])
def test_a_backtest_journals_the_same_rows_as_with_the_code_before(
    tmp_path, monkeypatch, scheduler
):
    """Every table of a backtest's journal (the shipped sample, the default exits; the event
    scheduler and the stepped closes), row by row, is the same with this piece's paths as with
    the code before: the venue's matching and fill booking, the portfolio's fill booking and
    equity computed afresh, the step ends by numpy's search."""
    from tradewind.config import load_config
    from tradewind.trading import engine as engine_module
    from tradewind.trading.engine import Engine

    from tests.test_engine import demo_config_text
    from tests.test_paper_fast_paths import _assert_same_journals

    cfg = tmp_path / "demo.toml"
    text = demo_config_text(tmp_path)
    if not scheduler:
        assert "[run]" in text
        text = text.replace("[run]", "[run]\nevent_scheduler = false", 1)
    cfg.write_text(text)
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "after.duckdb")).run)
    for name in ("next_fill_ts", "on_trades", "_match", "_sweep_few", "_book_fill"):
        monkeypatch.setattr(SimulatedVenue, name, getattr(_OldVenue, name))
    monkeypatch.setattr(Portfolio, "apply_fill", _OldPortfolio.apply_fill)
    monkeypatch.setattr(Portfolio, "equity", _equity_before)
    monkeypatch.setattr(
        engine_module, "_after", lambda ts, t: int(ts.searchsorted(t, side="right"))
    )
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "before.duckdb")).run)
    _assert_same_journals(tmp_path / "after.duckdb", tmp_path / "before.duckdb")
