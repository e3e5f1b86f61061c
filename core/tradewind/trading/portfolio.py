"""The portfolio: cash, positions and marks, with exact Decimal accounting.

It is the :class:`~tradewind.protocols.RiskContext` that filters and exit monitors read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, getcontext
from typing import Any

import attrs

from tradewind.model import Fill, Instrument, Order, Position
from tradewind.trading.accounts import Accounts, ConversionError
from tradewind.trading.pnl import (
    MoneyTotal,
    fee_amount,
    fee_value,
    pnl_currency,
    priced_total,
    unpriced_fee,
)

NS_PER_DAY = 86_400 * 1_000_000_000
ZERO = Decimal(0)


class Portfolio:
    """Cash, accounts and positions, marked at the last traded prices.

    ``cash`` is the simulated venues' money (their ``starting_balance``, moved by realised P&L,
    fees and funding). Execution venues with an account
    (:mod:`tradewind.trading.accounts`) keep their
    balances per currency in :attr:`accounts`; equity sums both, in the reporting currency.
    """

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        cash: Decimal,
        *,
        reporting_currency: str = "USDT",
    ) -> None:
        self._instruments = dict(instruments)
        self.cash = Decimal(cash)
        self.accounts = Accounts(reporting_currency, self._instruments)
        self._start: Decimal | None = Decimal(cash)
        self._positions: dict[str, Position] = {}
        #: Instruments whose position is not flat (kept by apply_fill / restore_position).
        self._open: set[str] = set()
        #: The same instruments in the order of ``_positions`` (the order :meth:`equity` sums
        #: them in), rebuilt when one opens or closes: with 100 instruments equity walks the
        #: few open ones instead of every position.
        self._open_keys: tuple[str, ...] = ()
        self._last: dict[str, float] = {}
        #: Counts changes of what :meth:`equity` reads besides ``cash`` and the accounts (a
        #: mark, a position set): equal counts and the same ``cash`` object, the same equity.
        self.changes = 0
        #: :meth:`equity`'s last answer and what it read: ``(cash, changes, decimal context,
        #: its precision, its rounding, equity)``.
        self._equity_kept: tuple[Any, ...] | None = None
        self._orders: dict[str, Order] = {}
        self._day = -1
        self._day_start = Decimal(cash)
        #: Fees paid per currency (:func:`tradewind.trading.pnl.fee_amount`): the quote's
        #: for fees in the quote or the bought asset, a third currency's own. Never summed
        #: raw across currencies: :meth:`fees_total` converts them.
        self.fees_by_currency: dict[str, Decimal] = {}
        #: What the fees cost, per P&L currency (a third currency's at its price at the
        #: fill, :meth:`price_fee`), and the third-currency fees that had no price then.
        self.fees_valued: dict[str, Decimal] = {}
        self.fees_unpriced: list[str] = []
        self.funding_paid = Decimal(0)
        self.ts_ns = 0
        #: Adopted holdings without an entry price, priced at their first mark.
        self._unpriced: set[str] = set()
        #: Positions priced that way, for the engine to journal (:meth:`take_priced`).
        self._priced: list[Position] = []

    # -- RiskContext ----------------------------------------------------------------------
    def position(self, instrument: str) -> Position:
        """The position in ``instrument`` (flat if none)."""
        pos = self._positions.get(instrument)
        return pos if pos is not None else Position(instrument=instrument)

    def positions(self) -> Sequence[Position]:
        """All non-flat positions."""
        return [p for p in self._positions.values() if not p.is_flat]

    def every_position(self) -> Sequence[Position]:
        """Every position held, flat ones included (their realised P&L)."""
        return list(self._positions.values())

    def last_price(self, instrument: str) -> float:
        """The last traded price of ``instrument`` (NaN before the first trade)."""
        return self._last.get(instrument, float("nan"))

    def equity(self) -> Decimal:
        """Cash plus unrealised P&L of open positions at last prices, plus every venue
        account's balances in the reporting currency (raises
        :class:`~tradewind.trading.accounts.ConversionError` when a balance cannot be valued).

        Without a venue account, the equity read last is given again while what it reads is
        the same: the same ``cash`` object (a Decimal, replaced when it changes), the same
        :attr:`changes` count (every mark and every position set counts) and the same decimal
        context (its object, precision and rounding) — the stepped closes read it several
        times between two marks (the guard exit, the filters, the equity curve)."""
        accounts = self.accounts
        cash = self.cash
        kept = self._equity_kept
        ctx = getcontext()
        if (
            kept is not None
            and kept[0] is cash
            and kept[1] == self.changes
            and kept[2] is ctx
            and kept[3] == ctx.prec
            and kept[4] == ctx.rounding
            and not accounts.by_venue
        ):
            return kept[5]  # type: ignore[no-any-return]
        eq = cash
        positions = self._positions
        last = self._last
        by_venue = accounts.by_venue  # what ``venue in accounts`` and ``bool(accounts)`` read
        for key in self._open_keys:
            pos = positions[key]
            if pos.quantity == 0 or key not in last:  # ``pos.is_flat``
                continue
            if by_venue:
                inst = self._instruments.get(key)
                if inst is not None and inst.venue in by_venue:
                    continue  # valued by its account below
            # ``pos.unrealized_pnl(mark)``: the same operations, without the call.
            eq += Decimal(repr(last[key])) * pos.quantity - pos.cost
        if by_venue:
            eq += accounts.equity(self.last_price, self._positions.values())
        else:
            self._equity_kept = (cash, self.changes, ctx, ctx.prec, ctx.rounding, eq)
        return eq

    def starting_equity(self) -> Decimal:
        """Equity when the run started (for accounts seeded from a venue: at the first
        moment every balance could be valued, i.e. once the instruments that convert them
        have traded)."""
        if self._start is None:
            self._start = self.equity()
        return self._start

    def day_start_equity(self) -> Decimal:
        """Equity at the first mark of the current UTC day."""
        return self._day_start

    def open_orders(self) -> Sequence[Order]:
        """Orders sent and not yet terminal."""
        return list(self._orders.values())

    def has_open_order(self, instrument: str) -> bool:
        """Whether an order of ``instrument`` is sent and not yet terminal (no list made)."""
        orders = self._orders
        return bool(orders) and any(o.instrument == instrument for o in orders.values())

    @property
    def priced_pending(self) -> bool:
        """Whether :meth:`take_priced` has positions to hand over."""
        return bool(self._priced)

    def instrument(self, key: str) -> Instrument:
        """The instrument with ``key``."""
        return self._instruments[key]

    # -- updates --------------------------------------------------------------------------
    def mark(self, instrument: str, price: float, ts_ns: int) -> None:
        """Record the last trade price; rolls the day-start equity at UTC midnight."""
        self._last[instrument] = price
        self.changes += 1
        self.ts_ns = ts_ns
        if self._unpriced and instrument in self._unpriced:
            self._price_adopted(instrument, price, ts_ns)
        if self._start is None:
            self._value_start()
        day = ts_ns // NS_PER_DAY
        if day != self._day:
            try:
                start = self.equity()
            except ConversionError:
                return  # not valued yet (a balance without a price): try at the next mark
            self._day = day
            self._day_start = start

    def apply_fill(self, fill: Fill, after: Position | None = None) -> Position:
        """Book ``fill``: position, and realised P&L and fee into cash (a simulated venue) or
        the venue's account balances. ``after``: ``position(fill.instrument).apply(fill)``
        when the caller has computed it already (it is not computed twice)."""
        key = fill.instrument
        before = self._positions.get(key)
        if before is None:
            before = Position(instrument=key)
        if after is None:
            after = before.apply(fill)
        realized = after.realized_pnl - before.realized_pnl
        inst = self._instruments.get(key)
        accounts = self.accounts
        rep = accounts.reporting_currency
        if inst is not None:
            # ``accounts.get(inst.venue)`` and :func:`pnl_currency`, without their calls.
            account = accounts.by_venue.get(inst.venue)
            pnl_cur = inst.settlement_currency or rep
        else:
            account, pnl_cur = None, rep
        # A fee in the quote currency (every simulated fill's): ``fee_in_quote``,
        # ``fee_amount`` and ``fee_value`` are all ``fill.fee`` in ``pnl_cur``.
        quote = fill.fee_asset == "quote"
        fee = fill.fee if quote else fill.fee_in_quote
        if account is not None and inst is not None:
            account.apply_fill(fill, inst, realized)
        else:
            self.cash += realized - fee
        if quote:
            by = self.fees_by_currency
            by[pnl_cur] = by.get(pnl_cur, ZERO) + fee
            valued = self.fees_valued
            valued[pnl_cur] = valued.get(pnl_cur, ZERO) + fee
        else:
            fee_cur, fee_amt = fee_amount(fill, pnl_cur)
            self.fees_by_currency[fee_cur] = self.fees_by_currency.get(fee_cur, ZERO) + fee_amt
            value = fee_value(fill, pnl_cur)
            if value is None:
                self.fees_unpriced.append(unpriced_fee(fill, pnl_cur))
            else:
                self.fees_valued[pnl_cur] = self.fees_valued.get(pnl_cur, ZERO) + value[1]
        self._positions[key] = after
        self.changes += 1
        # :meth:`_track_open`, without its call and two of ``is_flat``.
        flat = after.quantity == ZERO
        opened, held = self._open, after.instrument
        was = held in opened
        if flat:
            opened.discard(held)
        else:
            opened.add(held)
        if was == flat:  # it opened or closed
            self._open_keys = tuple(k for k in self._positions if k in opened)
        return after

    def price_fee(self, fill: Fill) -> Fill:
        """``fill`` with the price of its third-currency fee in its instrument's P&L currency
        now (:attr:`~tradewind.model.Fill.fee_rate`), from the marks the P&L conversion reads
        (:meth:`~tradewind.trading.accounts.Accounts.rate`); unchanged when its fee is not in
        a third currency, already has a price, or none is known yet (then it stays None)."""
        if fill.fee_asset != "other" or fill.fee_rate is not None or not fill.fee_currency:
            return fill
        inst = self._instruments.get(fill.instrument)
        accounts = self.accounts
        pnl_cur = (
            pnl_currency(inst, accounts.reporting_currency)
            if inst is not None
            else accounts.reporting_currency
        )
        try:
            rate = accounts.rate(fill.fee_currency, self.last_price) / accounts.rate(
                pnl_cur, self.last_price
            )
        except ConversionError:
            return fill
        return attrs.evolve(fill, fee_rate=rate)

    def fees_total(self) -> MoneyTotal:
        """The fees paid, per currency as charged, and in the reporting currency: what they
        cost in their P&L currencies (a third currency's at its price at the fill) converted
        at the last marks (no total, with the reason, when one cannot be)."""
        accounts = self.accounts
        return priced_total(
            self.fees_by_currency,
            self.fees_valued.items(),
            self.fees_unpriced,
            accounts.reporting_currency,
            lambda c: accounts.rate(c, self.last_price),
        )

    @property
    def fees_paid(self) -> Decimal | None:
        """The fees paid in the reporting currency (None when one cannot be converted)."""
        return self.fees_total().total

    def _track_open(self, position: Position) -> None:
        key, was = position.instrument, position.instrument in self._open
        if position.is_flat:
            self._open.discard(key)
        else:
            self._open.add(key)
        if was == position.is_flat:  # it opened or closed
            self._open_keys = tuple(k for k in self._positions if k in self._open)

    def cash_equity(self) -> Decimal | None:
        """The equity when it is the cash alone — no open position, no venue account — so
        the running cash of the fill ledger (starting cash, realised P&L, fees, funding) with
        no mark to value; None when :meth:`equity` has something to mark."""
        if self._open or self.accounts:
            return None
        return self.cash

    def apply_funding(self, instrument: str, amount: Decimal) -> None:
        """Book a funding payment (positive = paid by us)."""
        inst = self._instruments.get(instrument)
        account = self.accounts.get(inst.venue) if inst is not None else None
        if account is not None and inst is not None and inst.quote:
            account.apply_flow(inst.quote, amount)
        else:
            self.cash -= amount
        self.funding_paid += amount

    def seed_account(self, venue: str, balances: Mapping[str, Decimal]) -> None:
        """Take ``venue``'s balances as its account (at the start of a run); the starting
        equity is then valued when first asked for."""
        self.accounts.seed(venue, balances)
        self._start = None
        self._day = -1
        self._value_start()

    def _value_start(self) -> None:
        """Take the starting equity as soon as every balance can be valued."""
        try:
            self._start = self.equity()
        except ConversionError:
            self._start = None

    def set_instruments(self, instruments: Mapping[str, Instrument]) -> None:
        """Replace the instruments (their currencies, known once the venues connected)."""
        self._instruments = dict(instruments)
        self.accounts.instruments = dict(instruments)

    def order_opened(self, order: Order) -> None:
        """Track an order as open."""
        self._orders[order.client_order_id] = order

    def order_closed(self, client_order_id: str) -> None:
        """Forget an order that reached a terminal state."""
        self._orders.pop(client_order_id, None)

    def restore_position(self, position: Position) -> None:
        """Set a position as found at reconciliation. One without an entry price (a spot
        holding the account's trades could not price, :mod:`tradewind.trading.adoption`) is
        priced at its instrument's first mark."""
        self._positions[position.instrument] = position
        self.changes += 1
        self._track_open(position)
        if not position.is_flat and position.avg_price == 0:
            self._unpriced.add(position.instrument)
        else:
            self._unpriced.discard(position.instrument)

    def _price_adopted(self, instrument: str, price: float, ts_ns: int) -> None:
        self._unpriced.discard(instrument)
        pos = self._positions.get(instrument)
        if pos is None or pos.is_flat or pos.avg_price != 0 or not math.isfinite(price):
            return
        mark = Decimal(repr(price))
        priced = attrs.evolve(
            pos,
            avg_price=mark,
            lots=((pos.quantity, mark),),
            opened_ts_ns=pos.opened_ts_ns or ts_ns,
        )
        self._positions[instrument] = priced
        self.changes += 1
        self._priced.append(priced)

    def take_priced(self) -> list[Position]:
        """Adopted positions priced at their first mark since the last call (to journal)."""
        out, self._priced = self._priced, []
        return out
