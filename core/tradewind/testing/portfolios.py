"""Builders for tests of filters and exits: a real portfolio, signals and orders.

:func:`portfolio_with` books positions through real :class:`~tradewind.model.Fill` objects on a
real :class:`~tradewind.trading.portfolio.Portfolio` (the
:class:`~tradewind.protocols.RiskContext` the
engine hands to filters), so cash, average prices and equity come out as in a run.
:func:`book_fill` books one more fill on it mid-test; :func:`make_signal` and :func:`make_order`
build the signals and pending orders a test checks against it. Quantities and prices may be
given as strings (``"0.01"``), ints or Decimals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from tradewind.model import Fill, Instrument, Order, OrderType, Side, Signal
from tradewind.trading.portfolio import Portfolio

#: The tests' clock origin: 2020-09-13 12:26:40 UTC, in ns since the epoch.
T0 = 1_600_000_000 * 10**9
#: One minute in ns; :func:`make_signal` stamps its signals at ``T0 + NS_MIN`` by default.
NS_MIN = 60 * 10**9

#: A number as a test writes it.
Num = Decimal | str | int
#: One booked position: ``(instrument, side, quantity, price)``.
Holding = tuple[Instrument, Side, Num, Num]

__all__ = [
    "NS_MIN",
    "T0",
    "Holding",
    "book_fill",
    "make_order",
    "make_signal",
    "portfolio_with",
]


def portfolio_with(
    positions: Iterable[Holding] = (),
    *,
    instruments: Iterable[Instrument] = (),
    cash: Num = 10_000,
    marks: Mapping[Instrument, float | Num] | None = None,
    ts_ns: int = T0,
) -> Portfolio:
    """A portfolio with ``cash`` of quote currency and each of ``positions`` filled and marked.

    The ``n``-th ``(instrument, side, quantity, price)`` is booked as a fill ``c{n}`` at
    ``price`` without fee at ``ts_ns + n``, and its instrument marked at ``price`` then: fills
    in one instrument add up (or reduce, or reverse) like real ones. ``marks`` then sets further
    last prices, at the time of the last fill (``ts_ns`` with none), e.g. an instrument that
    has traded without a position, or a move after the entries.

    The portfolio knows the instruments of ``positions`` and ``marks`` and every one in
    ``instruments`` (give those the test's signals use without a position).
    """
    positions = list(positions)
    marks = dict(marks or {})
    known = {i.key: i for i in instruments}
    known.update({inst.key: inst for inst, *_ in positions})
    known.update({inst.key: inst for inst in marks})
    pf = Portfolio(known, Decimal(cash))
    t = ts_ns
    for n, (inst, side, quantity, price) in enumerate(positions):
        t = ts_ns + n
        book_fill(pf, inst, side, quantity, price, ts_ns=t, client_order_id=f"c{n}")
    for inst, last in marks.items():
        pf.mark(inst.key, float(last), t)
    return pf


def book_fill(
    pf: Portfolio,
    instrument: Instrument | str,
    side: Side,
    quantity: Num,
    price: Num,
    *,
    ts_ns: int = T0,
    client_order_id: str = "fill",
    mark: bool = True,
) -> None:
    """Book a fill of ``quantity`` at ``price`` without fee on ``pf``, as the engine would.

    With ``mark`` (the default) the instrument's last price becomes ``price`` at ``ts_ns``
    too; without it the marks are left as they were (a fill that the tape has not printed).
    """
    key = instrument if isinstance(instrument, str) else instrument.key
    pf.apply_fill(
        Fill(
            client_order_id=client_order_id,
            instrument=key,
            side=side,
            quantity=Decimal(quantity),
            price=Decimal(price),
            fee=Decimal(0),
            ts_ns=ts_ns,
        )
    )
    if mark:
        pf.mark(key, float(price), ts_ns)


def make_signal(
    instrument: Instrument | str,
    side: Side = Side.BUY,
    entry: Num = "50000",
    *,
    stop: Num | None = None,
    stop_pct: Num = "0.005",
    quantity: Num | None = "0.01",
    score: float = 5.0,
    ts_ns: int = T0 + NS_MIN,
    intent: str = "open",
) -> Signal:
    """A signal for ``instrument`` (an Instrument or its key).

    The stop is ``stop`` if given, else ``stop_pct`` away from the entry on the protective side
    (below a buy, above a sell; 0.5 % by default). ``quantity=None`` makes an unsized signal.
    """
    e = Decimal(entry)
    if stop is None:
        pct = Decimal(stop_pct)
        s = e * (1 - pct) if side is Side.BUY else e * (1 + pct)
    else:
        s = Decimal(stop)
    return Signal(
        instrument=instrument if isinstance(instrument, str) else instrument.key,
        side=side,
        entry=e,
        stop=s,
        score=score,
        ts_ns=ts_ns,
        quantity=None if quantity is None else Decimal(quantity),
        intent=intent,
    )


def make_order(
    client_order_id: str,
    instrument: Instrument | str,
    side: Side,
    quantity: Num,
    price: Num | None = None,
    *,
    stop_price: Num | None = None,
    reduce_only: bool = False,
) -> Order:
    """An order as it rests at the venue, to open with ``Portfolio.order_opened``.

    Its type follows from the prices: a limit order with ``price``, a stop order with only
    ``stop_price``, a stop-limit order with both, a market order with neither.
    """
    if price is not None:
        kind = OrderType.STOP_LIMIT if stop_price is not None else OrderType.LIMIT
    else:
        kind = OrderType.STOP if stop_price is not None else OrderType.MARKET
    return Order(
        client_order_id=client_order_id,
        instrument=instrument if isinstance(instrument, str) else instrument.key,
        side=side,
        type=kind,
        quantity=Decimal(quantity),
        price=None if price is None else Decimal(price),
        stop_price=None if stop_price is None else Decimal(stop_price),
        reduce_only=reduce_only,
    )
