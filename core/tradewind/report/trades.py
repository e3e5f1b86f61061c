"""Round trips: the trades a trader reads, rebuilt from a run's fills.

A trade opens at the fill that takes an instrument's net quantity away from 0 and closes at
the fill that brings it back to 0 (the same rule as the closed trades of the order manager and
the exposure metric). A fill that flips the position through 0 is not a close: the trade goes
on, on the other side. Each trade carries its fills' fees and the funding booked while it was
open, so its net P&L is what the round trip left. Its ``fees`` are in its P&L currency (the
quote: a fee in the bought asset is valued at the fill price, a fee in a third currency — BNB,
gas — at the price that currency had when the fill was booked,
:attr:`~tradewind.model.Fill.fee_rate`); the third-currency amounts as charged are listed in
``other_fees``. A third-currency fee without a price at its fill cannot be taken from the
P&L: the trade's net P&L is then None and ``fees_not_converted`` says why (never the gross).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import attrs

from tradewind.model import Fill, Side
from tradewind.trading.pnl import unpriced_fee

ZERO = Decimal(0)


@attrs.frozen(kw_only=True)
class Trade:
    """One round trip of one instrument, flat to flat."""

    instrument: str
    #: The side of the entry (buy = long, sell = short).
    side: Side
    entry_ts_ns: int
    exit_ts_ns: int
    #: Volume-weighted price of the fills on the entry side, and of those on the exit side.
    entry_price: Decimal
    exit_price: Decimal
    #: The largest absolute quantity held during the trade.
    quantity: Decimal
    #: Realised price P&L (before fees and funding), exact.
    gross_pnl: Decimal
    #: Fees in the P&L currency (the quote's, the bought asset's valued at the fill price,
    #: and a third currency's at its price at the fill), those without a price left out.
    fees: Decimal
    #: Funding paid while the trade was open (positive = paid).
    funding: Decimal
    #: The tag of the order that closed the trade: ``"<monitor or filter>: <reason>"``.
    exit_reason: str
    #: Fees paid in a third currency, per currency, as charged (valued in :attr:`fees`).
    other_fees: Mapping[str, Decimal] = attrs.Factory(dict)
    #: Why some third-currency fee could not be valued (no price at its fill), or "".
    fees_not_converted: str = ""

    @property
    def pnl(self) -> Decimal | None:
        """Net P&L: gross minus fees minus funding; None when a fee in a third currency had
        no price at its fill (:attr:`fees_not_converted`)."""
        if self.fees_not_converted:
            return None
        return self.gross_pnl - self.fees - self.funding

    @property
    def duration_ns(self) -> int:
        """Entry to exit."""
        return self.exit_ts_ns - self.entry_ts_ns

    @property
    def exit_kind(self) -> str:
        """The exit reason's source (the monitor or filter that closed the trade)."""
        head, sep, _ = self.exit_reason.partition(":")
        return head.strip() if sep else (self.exit_reason or "unknown")


@attrs.frozen(kw_only=True)
class OpenTrade:
    """A position still open when the run ended."""

    instrument: str
    side: Side
    entry_ts_ns: int
    entry_price: Decimal
    quantity: Decimal
    fees: Decimal
    funding: Decimal
    #: Realised price P&L of partial reductions so far.
    realized_pnl: Decimal
    #: Fees paid in a third currency, per currency, as charged (valued in :attr:`fees`).
    other_fees: Mapping[str, Decimal] = attrs.Factory(dict)
    #: Why some third-currency fee could not be valued (no price at its fill), or "".
    fees_not_converted: str = ""


@attrs.define
class _Open:
    #: The side held now (it changes when a fill flips the position) and the entry's side.
    side: Side
    entry_side: Side
    entry_ts_ns: int
    qty: Decimal = ZERO
    peak: Decimal = ZERO
    entry_qty: Decimal = ZERO
    entry_notional: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_notional: Decimal = ZERO
    fees: Decimal = ZERO
    other_fees: dict[str, Decimal] = attrs.Factory(dict)
    unpriced: list[str] = attrs.Factory(list)
    realized: Decimal = ZERO
    #: FIFO lots ``(signed qty, price)``, as the portfolio keeps them.
    lots: list[tuple[Decimal, Decimal]] = attrs.Factory(list)


def _apply(op: _Open, fill: Fill) -> None:
    # What the position changes by: a fee taken from the bought coin arrives short of it
    # (as the portfolio books it, :meth:`tradewind.model.Position.apply`).
    signed = fill.net_quantity * fill.side.sign
    if fill.fee_asset == "other":
        op.other_fees[fill.fee_currency] = op.other_fees.get(fill.fee_currency, ZERO) + fill.fee
    value = fill.fee_in_pnl
    if value is None:
        op.unpriced.append(unpriced_fee(fill, "its P&L currency"))
    else:
        op.fees += value
    if fill.side is op.side:
        op.entry_qty += fill.quantity
        op.entry_notional += fill.quantity * fill.price
        op.lots.append((signed, fill.price))
    else:
        op.exit_qty += fill.quantity
        op.exit_notional += fill.quantity * fill.price
        remaining = signed
        while op.lots and remaining != 0:
            lot_q, lot_p = op.lots[0]
            take = min(abs(lot_q), abs(remaining))
            sign = 1 if lot_q > 0 else -1
            op.realized += (fill.price - lot_p) * take * sign
            lot_q -= take * sign
            remaining += take * sign
            if lot_q == 0:
                op.lots.pop(0)
            else:
                op.lots[0] = (lot_q, lot_p)
        if remaining != 0:
            # A flip: the old side is closed and the remainder opens the other side; the
            # trade goes on (it is closed only by a return to 0).
            op.lots = [(remaining, fill.price)]
            op.side = fill.side
            op.entry_qty += abs(remaining)
            op.entry_notional += abs(remaining) * fill.price
    op.qty += signed
    op.peak = max(op.peak, abs(op.qty))


def round_trips(
    fills: Iterable[Fill],
    order_tags: Mapping[str, str] | None = None,
    funding: Iterable[tuple[int, str, Decimal]] = (),
) -> tuple[list[Trade], list[OpenTrade]]:
    """The closed trades and the positions still open, from ``fills`` in time order.

    ``order_tags`` maps a client order id to its order's tag (``"entry"``, or the exit's
    ``"<monitor>: <reason>"``); ``funding`` is ``(ts_ns, instrument, amount)`` per payment.
    """
    tags = order_tags or {}
    pay: dict[str, list[tuple[int, Decimal]]] = {}
    for ts, inst, amount in funding:
        pay.setdefault(inst, []).append((int(ts), Decimal(amount)))
    open_: dict[str, _Open] = {}
    closed: list[Trade] = []
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        op = open_.get(fill.instrument)
        if op is None:
            op = open_[fill.instrument] = _Open(
                side=fill.side, entry_side=fill.side, entry_ts_ns=fill.ts_ns
            )
        _apply(op, fill)
        if op.qty == 0:
            del open_[fill.instrument]
            closed.append(
                Trade(
                    instrument=fill.instrument,
                    side=op.entry_side,
                    entry_ts_ns=op.entry_ts_ns,
                    exit_ts_ns=fill.ts_ns,
                    entry_price=_vwap(op.entry_notional, op.entry_qty),
                    exit_price=_vwap(op.exit_notional, op.exit_qty),
                    quantity=op.peak,
                    gross_pnl=op.realized,
                    fees=op.fees,
                    funding=_funding(pay, fill.instrument, op.entry_ts_ns, fill.ts_ns),
                    exit_reason=tags.get(fill.client_order_id, ""),
                    other_fees=dict(op.other_fees),
                    fees_not_converted="; ".join(op.unpriced),
                )
            )
    still_open = [
        OpenTrade(
            instrument=inst,
            side=op.side,
            entry_ts_ns=op.entry_ts_ns,
            entry_price=_vwap(op.entry_notional, op.entry_qty),
            quantity=abs(op.qty),
            fees=op.fees,
            funding=_funding(pay, inst, op.entry_ts_ns, None),
            realized_pnl=op.realized,
            other_fees=dict(op.other_fees),
            fees_not_converted="; ".join(op.unpriced),
        )
        for inst, op in open_.items()
    ]
    return closed, still_open


def _vwap(notional: Decimal, qty: Decimal) -> Decimal:
    return notional / qty if qty else ZERO


def _funding(
    pay: Mapping[str, Sequence[tuple[int, Decimal]]], inst: str, start: int, end: int | None
) -> Decimal:
    return sum(
        (a for ts, a in pay.get(inst, ()) if ts >= start and (end is None or ts <= end)), ZERO
    )
