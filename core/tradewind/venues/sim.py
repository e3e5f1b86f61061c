"""The simulated execution venue (backtest and paper).

It fills orders only against trades that printed after the order arrived, and it keeps time
per instrument: what one instrument's tape has reached never delays or advances another's orders.

- An order sent at engine time ``t`` arrives at ``t + latency_ns``; trades before that are
  never used for it.
- Market orders take liquidity from the trades initiated on their side at or after arrival (a
  buy from buyer-initiated prints, which show where the offer was lifted; a sell from
  seller-initiated ones), at those trades' prices, at most ``participation`` of each trade's
  size (volume-limited partial fills). IOC takes only the first instant of such prints and
  cancels the rest; FOK fills in full at that instant or not at all; GTC keeps taking until
  filled.
- Limit orders that are marketable on the first trade after arrival take liquidity like a
  market order capped at the limit; otherwise they rest and fill at the limit price when the
  tape trades through it (``queue = "through"``, the default, conservative: a print strictly
  beyond the price) or at it (``queue = "touch"``: we were first in the queue).
- Stop orders trigger on the first trade at or through the stop price and then fill as market
  (stop) or as limit (stop-limit).
- Post-only orders that would take liquidity on arrival are rejected; reduce-only orders that
  would increase the position are rejected.

Fees are the instrument's maker/taker rates on notional, exact in Decimal.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import numpy as np

from tradewind.config_check import path_option
from tradewind.errors import VenueError
from tradewind.hookspecs import hookimpl
from tradewind.model import (
    Fill,
    FundingPayment,
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
from tradewind.model.orders import new_fill, new_report
from tradewind.protocols import EventSink

#: Largest starting balance a config may give (beyond it, exact Decimal cash math overflows
#: the float analytics).
MAX_BALANCE = Decimal(10) ** 15
#: Largest simulated latency: a day.
MAX_LATENCY_MS = 86_400_000.0


def _decimal(value: Any) -> Decimal:
    """``Decimal(value)``: the field's converter as a function, whose signature attrs reads
    without parsing a builtin's text signature (that parse compiles the tokenizer's patterns,
    ~6 ms of every process's start-up)."""
    return Decimal(value)


@attrs.frozen(kw_only=True)
class SimVenueConfig:
    """Options of the simulated venue."""

    #: Starting cash in quote currency.
    starting_balance: Decimal = attrs.field(default=Decimal("10000"), converter=_decimal)
    #: Quote currency name for balances.
    quote_currency: str = "USDT"
    #: Time from sending an order (or a cancel) to the venue acting on it.
    latency_ms: float = 25.0
    #: Largest fraction of each printed trade's size an order may fill against.
    participation: float = 1.0
    #: Resting limit fill rule: "through" (a print beyond the price), "touch" (at it: first in
    #: the queue) or "position" (a print beyond the price, or prints at it once the size
    #: printed at that price since the order started resting exceeds ``queue_ahead`` × the
    #: size printed at it on the order's first contact: an estimate of the queue in front).
    queue: str = "through"
    #: With ``queue = "position"``: multiple of the first-contact size at the price assumed
    #: to be queued ahead of the order.
    queue_ahead: float = 1.0
    #: Funding of perps: a constant rate per interval (0.0001 = 0.01 %), or a CSV file of
    #: ``ts_ms,rate`` rows (a funding series; rates apply at their timestamps). Longs pay a
    #: positive rate on quantity × the last trade price at the funding time.
    funding_rate: float | None = None
    funding_file: str | None = path_option("file")
    #: Hours between funding times (UTC-aligned: 00:00, 08:00, 16:00 for 8).
    funding_interval_h: int = 8

    def __attrs_post_init__(self) -> None:
        if self.queue not in ("through", "touch", "position"):
            raise ValueError(f"queue must be 'through', 'touch' or 'position', got {self.queue!r}")
        if self.queue_ahead < 0:
            raise ValueError(f"queue_ahead must be >= 0, got {self.queue_ahead}")
        if not 0 <= self.starting_balance <= MAX_BALANCE:
            raise ValueError(
                f"starting_balance must be between 0 and {MAX_BALANCE:,}, got "
                f"{self.starting_balance} @ $.starting_balance"
            )
        if not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise ValueError(
                f"latency_ms must be between 0 and {MAX_LATENCY_MS:,} (a day), got "
                f"{self.latency_ms} @ $.latency_ms"
            )
        if not 0 < self.participation <= 1:
            raise ValueError(f"participation must be in (0, 1], got {self.participation}")
        if self.funding_rate is not None and self.funding_file is not None:
            raise ValueError("set at most one of funding_rate and funding_file")
        if not 0 < self.funding_interval_h <= 24 or 24 % self.funding_interval_h:
            raise ValueError("funding_interval_h must divide 24")


@attrs.define
class _SimOrder:
    order: Order
    arrival_ns: int
    status: OrderStatus = OrderStatus.ACCEPTED
    filled: Decimal = Decimal(0)
    triggered: bool = False
    resting: bool = False  # True once it has rested past its first trade (maker)
    cancel_at_ns: int | None = None
    venue_order_id: str = ""
    #: ``queue = "position"``: size still queued ahead at the limit price (None: not known yet).
    queue_ahead: float | None = None
    #: Among the venue's finished orders (:meth:`SimulatedVenue._retire`).
    retired: bool = False

    @property
    def remaining(self) -> Decimal:
        return self.order.quantity - self.filled


#: The states a fill moves an order to, looked up once (an enum's attribute look-up is a
#: Python call).
_FILLED = OrderStatus.FILLED
_PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED

#: Up to this many prints, a market order sweeps Python lists (:meth:`SimulatedVenue._sweep_few`).
_FEW = 64


#: A fill and a report, built through their slots (:func:`~tradewind.model.frozen.builder`):
#: each fill makes one of each, each order two reports (its acknowledgement and its end).
_new_fill = new_fill
_new_report = new_report  # (by this name: tests put the constructor back)


def _dec(price: float) -> Decimal:
    return Decimal(repr(float(price)))


def default_instrument() -> Instrument:
    """A BTCUSDT perp on a venue called 'sim' with Binance futures' fees (what a bare sim
    venue trades)."""
    return Instrument(
        venue="sim",
        symbol="BTCUSDT",
        kind=InstrumentKind.PERP,
        tick_size=Decimal("0.1"),
        lot_size=Decimal("0.001"),
        min_notional=Decimal("5"),
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0004"),
        base="BTC",
        quote="USDT",
    )


class SimulatedVenue:
    """An execution venue that fills against the tape the engine feeds it."""

    name: ClassVar[str] = "sim"
    config_class: ClassVar[type] = SimVenueConfig
    #: Finished orders the venue still answers lookups of (the most recent ones).
    KEEP_FINISHED: ClassVar[int] = 1000
    #: Its calls answer without waiting for anything (no I/O, no sleep): the order manager
    #: needs no timeout around them (trading/order_retry.py).
    answers_at_once: ClassVar[bool] = True
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            "execution",
            "simulated",
            "order:market",
            "order:limit",
            "order:stop",
            "order:stop_limit",
            "tif:gtc",
            "tif:ioc",
            "tif:fok",
            "tif:post_only",
            "reduce_only",
        }
    )

    def __init__(
        self,
        config: SimVenueConfig,
        instance: str = "sim",
        instruments: Sequence[Instrument] = (),
    ) -> None:
        self.config = config
        self.instance = instance
        self._instruments = {i.key: i for i in instruments}
        self._orders: dict[str, _SimOrder] = {}
        self._open: dict[str, list[_SimOrder]] = {}
        # Client order ids of finished orders, oldest first: the venue answers lookups of the
        # last KEEP_FINISHED of them (as an exchange keeps recent history); older ones are
        # forgotten, so a long run's memory does not grow with every order.
        #: Finished orders' client order ids, oldest first (a deque: a dict used as a FIFO
        #: makes ``next(iter(...))`` skip the slots its deletions left at its front).
        self._finished: deque[str] = deque()
        self._positions: dict[str, Position] = {}
        self._cash = config.starting_balance
        self._last: dict[str, float] = {}
        self._now = 0  # the latest time seen on any instrument (for nothing but bookkeeping)
        self._clock: dict[str, int] = {}  # per instrument: its last trade or engine time
        self._floor = 0  # set_time without an instrument: a floor under every clock
        self._seq = 0
        self._fills = 0
        self._funding_seen: dict[str, int] = {}
        self._funding_series: tuple[list[int], list[Decimal]] | None = None
        self._sink: EventSink | None = None
        self._latency_ns = int(config.latency_ms * 1_000_000)

    # -- lifecycle ------------------------------------------------------------------------
    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Declare the instruments this venue trades (from the host config)."""
        for inst in instruments:
            self._instruments[inst.key] = inst

    async def connect(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release."""

    async def instruments(self) -> Sequence[Instrument]:
        """The configured instruments."""
        if not self._instruments:
            # A bare sim venue (conformance tests) trades the default instrument.
            self.add_instruments([default_instrument()])
        return list(self._instruments.values())

    def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """The simulated venue has no feed of its own."""
        raise VenueError(f"venue '{self.instance}' (sim) has no market data; use a data venue")

    def set_sink(self, sink: EventSink) -> None:
        """Where order reports and fills go."""
        self._sink = sink

    def starting_cash(self) -> Decimal:
        """The paper account's cash at the start of a session (``starting_balance``)."""
        return self.config.starting_balance

    def set_time(self, ts_ns: int, instrument: str | None = None) -> None:
        """Engine time of ``instrument`` (or of all); its orders sent now arrive at
        ``ts_ns + latency``. Each instrument keeps its own clock, so one instrument's tape never
        moves another's orders."""
        self._now = max(self._now, ts_ns)
        if instrument is None:
            self._floor = max(self._floor, ts_ns)
        else:
            self._clock[instrument] = max(self._clock.get(instrument, 0), ts_ns)

    def time_of(self, instrument: str) -> int:
        """The venue's current time for ``instrument``."""
        return max(self._floor, self._clock.get(instrument, 0))

    def restore(
        self,
        positions: Sequence[Position],
        open_orders: Sequence[tuple[Order, OrderReport]],
        cash: Decimal,
        *,
        id_floor: int = 0,
    ) -> None:
        """Reload a paper account's state (from the journal) before trading resumes.

        Replaces positions, cash and resting orders. Each open order keeps its client order id,
        filled quantity and venue order id; it is eligible for the first trade fed after the
        restore. A restored limit order rests (it fills as maker when the tape trades through
        it), a partly filled stop counts as triggered. ``id_floor``: venue order and trade ids
        continue above it, so no id issued before the restart is issued again.
        """
        self._positions = {p.instrument: p for p in positions}
        self._cash = Decimal(cash)
        self._orders.clear()
        self._open.clear()
        self._finished.clear()
        self._seq = max(self._seq, id_floor)
        self._fills = max(self._fills, id_floor)
        for order, report in open_orders:
            if report.status.is_terminal:
                continue
            self._seq += 1
            filled = report.filled_quantity
            so = _SimOrder(
                order=order,
                arrival_ns=0,
                status=OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED,
                filled=filled,
                triggered=filled > 0,
                resting=order.type is OrderType.LIMIT
                or (order.type is OrderType.STOP_LIMIT and filled > 0),
                venue_order_id=report.venue_order_id or f"{self.instance}-{self._seq}",
            )
            self._orders[order.client_order_id] = so
            self._open.setdefault(order.instrument, []).append(so)

    # -- execution ------------------------------------------------------------------------
    def _report(self, so: _SimOrder, reason: str = "") -> OrderReport:
        order = so.order
        key = order.instrument
        return _new_report(  # type: ignore[no-any-return]
            order.client_order_id,
            key,
            so.status,
            max(self._floor, self._clock.get(key, 0)),  # :meth:`time_of`
            so.filled,
            so.venue_order_id,
            reason,
        )

    def _emit(self, report: OrderReport) -> None:
        if self._sink is not None:
            self._sink.on_report(report)

    async def submit_order(self, order: Order) -> OrderReport:
        """Accept (or reject) an order; a known client order id returns its current state."""
        known = self._orders.get(order.client_order_id)
        if known is not None:
            return self._report(known)
        key = order.instrument
        inst = self._instruments.get(key)
        self._seq += 1
        so = _SimOrder(
            order=order,
            arrival_ns=max(self._floor, self._clock.get(key, 0)) + self._latency_ns,  # time_of
            venue_order_id=f"{self.instance}-{self._seq}",
        )
        self._orders[order.client_order_id] = so
        reason = ""
        if inst is None:
            reason = f"unknown instrument {order.instrument}"
        elif order.quantity % inst.lot_size:
            reason = f"quantity {order.quantity} is not a multiple of lot size {inst.lot_size}"
        elif order.price is not None and order.price % inst.tick_size:
            reason = f"price {order.price} is not a multiple of tick size {inst.tick_size}"
        elif order.reduce_only and not self._reduces(order):
            reason = "reduce-only order would increase the position"
        else:
            # The reference price only for an instrument with a minimum notional (a market
            # order's is the last print made a Decimal, on the path of every paper order).
            ref = (
                None
                if not inst.min_notional
                else order.price
                if order.price is not None
                else (
                    _dec(self._last[order.instrument]) if order.instrument in self._last else None
                )
            )
            if ref is not None and ref * order.quantity < inst.min_notional:
                reason = (
                    f"notional {ref * order.quantity} is below min notional {inst.min_notional}"
                )
            elif (
                order.time_in_force is TimeInForce.POST_ONLY
                and order.price is not None
                and order.instrument in self._last
                and self._crosses(order.side, order.price, self._last[order.instrument])
            ):
                reason = "post-only order would take liquidity"
        if reason:
            so.status = OrderStatus.REJECTED
            report = self._report(so, reason)
            self._emit(report)
            self._retire(so)
            return report
        self._open.setdefault(order.instrument, []).append(so)
        report = self._report(so)
        self._emit(report)
        return report

    async def cancel_order(self, instrument: str, client_order_id: str) -> OrderReport:
        """Cancel: takes effect after the latency, so fills before that still happen."""
        so = self._orders.get(client_order_id)
        if so is None:
            return OrderReport(
                client_order_id=client_order_id,
                instrument=instrument,
                status=OrderStatus.REJECTED,
                ts_ns=self.time_of(instrument),
                reason="unknown client order id",
            )
        if so.status.is_terminal:
            return self._report(so)
        if self._latency_ns == 0:
            self._finish(so, OrderStatus.CANCELLED)
        else:
            so.cancel_at_ns = self.time_of(so.order.instrument) + self._latency_ns
        return attrs.evolve(self._report(so), status=OrderStatus.CANCELLED)

    async def fetch_order(self, instrument: str, client_order_id: str) -> OrderReport | None:
        """The order's state, or None if never received."""
        so = self._orders.get(client_order_id)
        return None if so is None else self._report(so)

    async def fetch_open_orders(self) -> Sequence[OrderReport]:
        """Orders not yet terminal (and not cancelled)."""
        return [
            self._report(so)
            for lst in self._open.values()
            for so in lst
            if so.cancel_at_ns is None and not so.status.is_terminal
        ]

    async def fetch_positions(self) -> Sequence[Position]:
        """Non-flat positions."""
        return [p for p in self._positions.values() if not p.is_flat]

    async def fetch_balances(self) -> Mapping[str, Decimal]:
        """Cash in the quote currency (realised P&L and fees included)."""
        return {self.config.quote_currency: self._cash}

    # -- matching -------------------------------------------------------------------------
    def _funding_schedule(self) -> tuple[list[int], list[Decimal]] | None:
        """Funding times (ns) and rates from the file; None for a constant rate or none."""
        if self.config.funding_file is None:
            return None
        if self._funding_series is None:
            import csv

            times: list[int] = []
            rates: list[Decimal] = []
            path = self.config.funding_file
            with open(path, encoding="utf-8", newline="") as fh:
                for n, row in enumerate(csv.reader(fh), 1):
                    if not row or row[0].strip().lower() in ("ts_ms", "timestamp"):
                        continue
                    try:
                        times.append(int(row[0]) * 1_000_000)
                        rates.append(Decimal(row[1].strip()))
                    except (ValueError, IndexError, ArithmeticError):
                        raise VenueError(
                            f"funding file {path} line {n}: expected ts_ms,rate, got {row!r}"
                        ) from None
            order = sorted(range(len(times)), key=times.__getitem__)
            self._funding_series = ([times[i] for i in order], [rates[i] for i in order])
        return self._funding_series

    def next_funding_ts(self, instrument: str) -> int | None:
        """The next funding time of ``instrument`` after the last trade fed (None: no funding
        to come; 0 before the first trade, when the count has not started). The batch whose
        last trade reaches it pays it (see :meth:`on_trades`)."""
        inst = self._instruments.get(instrument)
        if inst is None or inst.kind is not InstrumentKind.PERP:
            return None
        cfg = self.config
        if cfg.funding_rate is None and cfg.funding_file is None:
            return None
        prev = self._funding_seen.get(instrument)
        if prev is None:
            return 0
        schedule = self._funding_schedule()
        if schedule is None:
            step = cfg.funding_interval_h * 3_600_000_000_000
            return (prev // step + 1) * step
        times = schedule[0]
        lo = bisect.bisect_right(times, prev)
        return times[lo] if lo < len(times) else None

    def _settle_funding(self, batch: TickBatch) -> None:
        """Pay or receive funding for every funding time in (last trade seen, batch end]."""
        inst = self._instruments.get(batch.instrument)
        if inst is None or inst.kind is not InstrumentKind.PERP:
            return
        cfg = self.config
        if cfg.funding_rate is None and cfg.funding_file is None:
            return
        prev = self._funding_seen.get(batch.instrument)
        self._funding_seen[batch.instrument] = batch.last_ts
        if prev is None:
            return
        schedule = self._funding_schedule()
        if schedule is None:
            step = cfg.funding_interval_h * 3_600_000_000_000
            t = (prev // step + 1) * step
            due = []
            while t <= batch.last_ts:
                due.append((t, Decimal(repr(cfg.funding_rate))))
                t += step
        else:
            times, rates = schedule
            lo = bisect.bisect_right(times, prev)
            hi = bisect.bisect_right(times, batch.last_ts)
            due = list(zip(times[lo:hi], rates[lo:hi], strict=True))
        for t, rate in due:
            pos = self._positions.get(batch.instrument)
            if pos is None or pos.is_flat:
                continue
            i = int(np.searchsorted(batch.ts_ns, t, side="right"))
            mark = _dec(batch.price[i - 1]) if i > 0 else _dec(self._last[batch.instrument])
            amount = pos.quantity * mark * rate
            self._cash -= amount
            if self._sink is not None:
                self._sink.on_event(
                    FundingPayment(
                        ts_ns=t,
                        instrument=batch.instrument,
                        rate=rate,
                        mark_price=mark,
                        quantity=pos.quantity,
                        amount=amount,
                    )
                )

    def on_trades(self, batch: TickBatch) -> None:
        """Match open orders of ``batch.instrument`` against its trades."""
        ts = batch.ts_ns
        if len(ts) == 0:
            return
        cfg = self.config
        if cfg.funding_rate is not None or cfg.funding_file is not None:
            # (Without either, ``_settle_funding`` returns before it reads or writes anything.)
            self._settle_funding(batch)
        key = batch.instrument
        last_ts = ts.item(-1)
        if last_ts > self._now:
            self._now = last_ts
        clock = self._clock
        if last_ts > clock.get(key, 0):
            clock[key] = last_ts
        orders = self._open.get(key)
        if orders:
            if len(orders) == 1:
                # One open order (the engine's usual one): no copy to iterate, and the list
                # is rebuilt only when that would change it (the order finished, one was
                # added, or the list was replaced meanwhile).
                so = orders[0]
                self._match(so, batch)
                if len(orders) != 1 or so.status.is_terminal or self._open.get(key) is not orders:
                    self._open[key] = [o for o in orders if not o.status.is_terminal]
            else:
                for so in list(orders):
                    self._match(so, batch)
                self._open[key] = [so for so in orders if not so.status.is_terminal]
        self._last[key] = batch.price.item(-1)

    def fill_at(self, client_order_id: str, price: float, ts_ns: int) -> None:
        """Fill what is left of an open order at ``price`` (a print), as taker, at ``ts_ns``.

        For data gaps only (docs/data.md): an exit that triggers on the first trade after a
        gap fills at that trade, as a stop resting at the exchange through the gap would; a
        ``flatten`` closes at the last price before the gap. Nothing else fills off the tape.
        """
        so = self._orders.get(client_order_id)
        if so is None or so.status.is_terminal:
            return
        inst = self._instruments[so.order.instrument]
        qty = so.remaining
        if qty > 0:
            self._book_fill(so, qty, _dec(price), ts_ns, inst.taker_fee, "taker")
            self._finish(so, OrderStatus.FILLED)
        key = so.order.instrument
        self._open[key] = [o for o in self._open.get(key, []) if not o.status.is_terminal]

    def next_fill_ts(self, batch: TickBatch) -> int | None:
        """The earliest trade time in ``batch`` at which an open order could fill, or None.

        Conservative (never later than the true first fill): the engine feeds the tape up to
        this time, then re-checks exits, so a position opened by a fill is watched from the
        very next trade, exactly as if the tape were fed one trade at a time.
        """
        orders = self._open.get(batch.instrument)
        ts = batch.ts_ns
        n = len(ts)
        if not orders or n == 0:
            return None
        best: int | None = None
        for so in orders:
            start = _first_at(ts, so.arrival_ns)
            if start >= n:
                continue
            t = int(ts[start])
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
                sides = batch.side if start == 0 else batch.side[start:]
                k = _first_of_side(sides, 1 if so.order.side is Side.BUY else -1)
                if k < 0:
                    continue
                if k:
                    t = int(ts[start + k])
            if best is None or t < best:
                best = t
        return best

    def _resting_hits(self, so: _SimOrder, prices: np.ndarray) -> np.ndarray:
        order = so.order
        if order.type in (OrderType.STOP, OrderType.STOP_LIMIT) and not so.triggered:
            sp = float(order.stop_price)  # type: ignore[arg-type]
            return prices >= sp if order.side is Side.BUY else prices <= sp
        limit = float(order.price)  # type: ignore[arg-type]
        if self.config.queue == "through":
            return prices < limit if order.side is Side.BUY else prices > limit
        # "touch", and "position" where a print at the price may fill once the queue is gone.
        return prices <= limit if order.side is Side.BUY else prices >= limit

    def _match(self, so: _SimOrder, batch: TickBatch) -> None:
        """Match one order against the trades of ``batch`` that printed after its arrival.

        Split-invariant: feeding a tape in any batches (never splitting trades of one
        timestamp) gives the same fills. Market orders walk the prints until filled; a
        limit order's first contact is the group of prints at the first timestamp after
        arrival; after that it rests.
        """
        order = so.order
        ts_all = batch.ts_ns
        start = _first_at(ts_all, so.arrival_ns)
        stop = n = len(ts_all)
        if so.cancel_at_ns is not None:
            stop = int(np.searchsorted(ts_all, so.cancel_at_ns, side="left"))
        if (
            start < stop
            and stop - start <= _FEW
            and order.type is OrderType.MARKET
            and order.time_in_force is not TimeInForce.FOK
        ):
            # Every order the engine sends is a market IOC, and its step ends at its first
            # print: :meth:`_sweep_few` over the prints as lists, without the four slices and
            # the call of :meth:`_sweep` (whose first branch this is).
            inst = self._instruments[order.instrument]
            if start == 0 and stop == n:
                self._sweep_few(
                    so,
                    inst,
                    batch.price.tolist(),
                    batch.size.tolist(),
                    ts_all.tolist(),
                    batch.side.tolist(),
                )
            else:
                self._sweep_few(
                    so,
                    inst,
                    batch.price[start:stop].tolist(),
                    batch.size[start:stop].tolist(),
                    ts_all[start:stop].tolist(),
                    batch.side[start:stop].tolist(),
                )
        elif start < stop:
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

    def _expire_cancel(self, so: _SimOrder, batch: TickBatch) -> None:
        if so.cancel_at_ns is not None and so.cancel_at_ns <= batch.last_ts:
            self._finish(so, OrderStatus.CANCELLED)

    @staticmethod
    def _crosses(side: Side, limit: Decimal, price: float) -> bool:
        return price <= float(limit) if side is Side.BUY else price >= float(limit)

    def _sweep(
        self,
        so: _SimOrder,
        prices: np.ndarray,
        sizes: np.ndarray,
        ts: np.ndarray,
        sides: np.ndarray,
    ) -> None:
        """Take liquidity from the prints initiated on the order's side (at most
        ``participation`` of each): GTC until filled, IOC/FOK at the first such instant only.

        A buy meets buyer-initiated prints (the offers that were lifted), a sell
        seller-initiated ones: filling a buy at a seller-initiated print would buy at the bid.
        """
        order = so.order
        inst = self._instruments[order.instrument]
        tif = order.time_in_force
        if tif is not TimeInForce.FOK and len(sides) <= _FEW:
            self._sweep_few(so, inst, prices.tolist(), sizes.tolist(), ts.tolist(), sides.tolist())
            return
        mine = np.flatnonzero(sides == (1 if order.side is Side.BUY else -1))
        if len(mine) == 0:
            return  # no print on its side yet: even an IOC has not met the market
        if tif in (TimeInForce.IOC, TimeInForce.FOK):
            first = ts[mine[0]]
            mine = mine[ts[mine] == first]
        avail = sizes[mine] * self.config.participation
        if tif is TimeInForce.FOK and inst.round_size(float(avail.sum())) < so.remaining:
            self._finish(so, OrderStatus.EXPIRED, "fill-or-kill: not enough size at arrival")
            return
        need = float(so.remaining)
        last = int(np.searchsorted(np.cumsum(avail), need, side="left"))
        for k in range(min(last + 1, len(mine))):
            j = int(mine[k])
            qty = inst.round_size(min(float(avail[k]), float(so.remaining)))
            if qty <= 0:
                continue
            self._book_fill(so, qty, _dec(prices[j]), int(ts[j]), inst.taker_fee, "taker")
            if so.remaining <= 0:
                self._finish(so, OrderStatus.FILLED)
                return
        if tif is TimeInForce.IOC:
            self._finish(
                so,
                OrderStatus.EXPIRED if so.filled == 0 else OrderStatus.CANCELLED,
                "immediate-or-cancel: the rest found no size at arrival",
            )

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
        order = so.order
        code = 1 if order.side is Side.BUY else -1
        try:
            k = sides.index(code)
        except ValueError:
            return  # no print on its side: even an IOC has not met the market
        ioc = order.time_in_force is TimeInForce.IOC
        part = self.config.participation
        round_size = inst.round_size
        rate = inst.taker_fee
        remaining = so.remaining
        need = left = float(remaining)
        taken = 0.0
        first = ts[k]
        for j in range(k, len(sides)):
            if sides[j] != code:
                continue
            t = ts[j]
            if ioc and t != first:
                break
            if taken >= need:
                break
            avail = sizes[j] * part
            taken += avail
            qty = round_size(left if left < avail else avail)  # ``min(avail, left)``
            if qty <= 0:
                continue
            remaining = self._book_fill(so, qty, _dec(prices[j]), t, rate, "taker")
            if remaining <= 0:
                self._finish(so, OrderStatus.FILLED)
                return
            left = float(remaining)
        if ioc:
            self._finish(
                so,
                OrderStatus.EXPIRED if so.filled == 0 else OrderStatus.CANCELLED,
                "immediate-or-cancel: the rest found no size at arrival",
            )

    def _first_contact(
        self,
        so: _SimOrder,
        prices: np.ndarray,
        sizes: np.ndarray,
        ts: np.ndarray,
        sides: np.ndarray,
        i0: int,
    ) -> int:
        """A limit order meets the tape: the prints of the first timestamp after arrival.

        Marketable prints of that instant initiated on its side (a buy: buyer-initiated at or
        below the limit) fill it as taker; then GTC rests, IOC cancels its
        rest, FOK expires unless that instant could fill it all, post-only that would take
        is rejected. Returns the index after the first instant.
        """
        order = so.order
        inst = self._instruments[order.instrument]
        limit = float(order.price)  # type: ignore[arg-type]
        i1 = int(np.searchsorted(ts, ts[i0], side="right"))
        p, sz = prices[i0:i1], sizes[i0:i1]
        mine = sides[i0:i1] == (1 if order.side is Side.BUY else -1)
        ok = mine & (p <= limit if order.side is Side.BUY else p >= limit)
        avail = np.where(ok, sz * self.config.participation, 0.0)
        if ok.any() and order.time_in_force is TimeInForce.POST_ONLY:
            self._finish(so, OrderStatus.REJECTED, "post-only order would take liquidity")
            return i1
        if (
            order.time_in_force is TimeInForce.FOK
            and inst.round_size(float(avail.sum())) < so.remaining
        ):
            self._finish(so, OrderStatus.EXPIRED)
            return i1
        for j in np.flatnonzero(ok):
            qty = inst.round_size(min(float(avail[j]), float(so.remaining)))
            if qty <= 0:
                continue
            self._book_fill(so, qty, _dec(p[j]), int(ts[i0 + j]), inst.taker_fee, "taker")
            if so.remaining <= 0:
                self._finish(so, OrderStatus.FILLED)
                return i1
        if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            self._finish(so, OrderStatus.EXPIRED if so.filled == 0 else OrderStatus.CANCELLED)
        else:
            so.resting = True
            if self.config.queue == "position":
                at = p == limit
                so.queue_ahead = float(sz[at].sum()) * self.config.queue_ahead
            # It was on the book when this instant's other-side prints came: those strictly
            # through its price fill it as maker.
            through = ~mine & (p < limit if order.side is Side.BUY else p > limit)
            if through.any():
                self._rest(so, p[through], sz[through], ts[i0:i1][through])
        return i1

    def _rest(self, so: _SimOrder, prices: np.ndarray, sizes: np.ndarray, ts: np.ndarray) -> None:
        """A resting limit fills at its price, as maker, on prints through (or at) it."""
        order = so.order
        inst = self._instruments[order.instrument]
        limit = float(order.price)  # type: ignore[arg-type]
        queued = self.config.queue == "position"
        for j in np.flatnonzero(self._resting_hits(so, prices)):
            size = float(sizes[j])
            if queued and float(prices[j]) == limit:
                # A print at our price first trades against the queue in front of us.
                ahead = so.queue_ahead or 0.0
                so.queue_ahead = max(0.0, ahead - size)
                size = max(0.0, size - ahead)
            qty = inst.round_size(min(size * self.config.participation, float(so.remaining)))
            if qty <= 0:
                continue
            self._book_fill(so, qty, order.price, int(ts[j]), inst.maker_fee, "maker")  # type: ignore[arg-type]
            if so.remaining <= 0:
                self._finish(so, OrderStatus.FILLED)
                return

    def _book_fill(
        self, so: _SimOrder, qty: Decimal, price: Decimal, ts: int, rate: Decimal, liquidity: str
    ) -> Decimal:
        """Book a fill of ``qty`` at ``price``: the order's filled quantity and status, the
        venue's position and cash, the sink's fill (and report of a partial fill). Returns
        what remains of the order (``so.remaining``, the same subtraction)."""
        order = so.order
        key = order.instrument
        fee = qty * price * rate
        self._fills += 1
        cid = order.client_order_id
        fill: Fill = _new_fill(
            cid,
            key,
            order.side,
            qty,
            price,
            fee,
            ts,
            liquidity,
            f"{self.instance}-fill-{self._fills}",
            "",  # the fee in the quote currency (the class's defaults)
            "quote",
            None,
        )
        filled = so.filled = so.filled + qty
        remaining = order.quantity - filled
        partial = not remaining <= 0
        so.status = _PARTIALLY_FILLED if partial else _FILLED
        positions = self._positions
        before = positions.get(key)
        if before is None:
            before = Position(instrument=key)
        after = before.apply(fill)
        positions[key] = after
        self._cash += after.realized_pnl - before.realized_pnl - fee
        sink = self._sink
        if sink is not None:
            sink.on_fill(fill)
            if partial:
                # ``_report`` at the fill's time, built directly (attrs.evolve's generic copy
                # costs more than the report itself).
                sink.on_report(
                    _new_report(cid, key, _PARTIALLY_FILLED, ts, filled, so.venue_order_id, "")
                )
        return remaining

    def _finish(self, so: _SimOrder, status: OrderStatus, reason: str = "") -> None:
        so.status = status
        self._emit(self._report(so, reason))
        self._retire(so)

    def _retire(self, so: _SimOrder) -> None:
        """``so`` is finished: keep it for lookups among the last KEEP_FINISHED only."""
        if so.retired:
            return  # kept already, in its place (as a dict's key set again)
        so.retired = True
        finished = self._finished
        finished.append(so.order.client_order_id)
        while len(finished) > self.KEEP_FINISHED:
            self._orders.pop(finished.popleft(), None)

    def _reduces(self, order: Order) -> bool:
        pos = self._positions.get(order.instrument)
        if pos is None or pos.is_flat:
            return False
        return pos.side is order.side.opposite and order.quantity <= abs(pos.quantity)


def _first_at(ts: np.ndarray, at: int) -> int:
    """``np.searchsorted(ts, at, side="left")`` of a batch's (sorted) times: 0 without a call
    when the first print is at or after ``at`` (an order that arrived before the batch, the
    usual case); a few prints by :func:`bisect.bisect_left` over a list. Besides its fixed cost,
    numpy's search lets go of the GIL, so a thread loading the journal may take it for a
    switch interval in the middle of the engine's step."""
    n = len(ts)
    if n == 0:
        return 0
    if int(ts[0]) >= at:
        return 0
    if n <= _FEW:
        return bisect.bisect_left(ts.tolist(), at)
    return int(np.searchsorted(ts, at, side="left"))


def _first_of_side(sides: np.ndarray, code: int) -> int:
    """The index of the first print of aggressor side ``code`` in ``sides``, or -1. A few
    prints (the engine's steps end at the next possible fill) as a list's ``index``, without
    numpy's fixed cost per call (~0.25 against ~2.7 µs for ten prints); the same index."""
    if len(sides) <= _FEW:
        try:
            return sides.tolist().index(code)  # type: ignore[no-any-return]
        except ValueError:
            return -1
    idx = np.flatnonzero(sides == code)
    return int(idx[0]) if len(idx) else -1


@hookimpl
def tradewind_register_venues(registry):  # type: ignore[no-untyped-def]
    """Register the simulated venue."""
    registry.add(SimulatedVenue)
