"""Accounts: one per execution venue, balances per currency, equity in one reporting currency.

An execution venue that declares the ``"account"`` capability has an :class:`Account`: its
balance of every currency, seeded from the venue at the start of a run (``fetch_balances``)
and moved by every fill and funding payment this host books, with spot and perpetual
semantics:

- **spot**: a buy adds the base asset and pays ``quantity × price`` of the quote asset; a sell
  the reverse. A fee comes out of the currency it was charged in: the quote asset, the bought
  base asset (what arrives is ``quantity - fee``), or a third currency (e.g. BNB).
- **perpetual**: the settlement currency (the instrument's quote) moves by realised P&L less
  the fee; open positions add their unrealised P&L to equity. Funding leaves (or enters) the
  settlement currency.

Equity is the sum over accounts of every tracked balance converted to the reporting currency
at the mark prices the host has (the last trade of a configured instrument quoting one
currency in the other), plus the unrealised P&L of perpetual positions. A tracked amount that
cannot be converted raises :class:`ConversionError`; it is never counted as 0. Balances in
currencies no configured instrument of the venue trades (dust, other coins) are *untracked*:
kept and journaled, reported once at seeding, and left out of equity.

The simulated venue has no account: it keeps its ``starting_balance`` in the portfolio's cash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import attrs

from tradewind.errors import TradewindError
from tradewind.model import Fill, Instrument, InstrumentKind, Position

ZERO = Decimal(0)


class ConversionError(TradewindError):
    """An amount cannot be converted to the reporting currency (no mark price for it)."""


@attrs.define
class Account:
    """The balances of one execution venue, per currency."""

    venue: str
    balances: dict[str, Decimal] = attrs.Factory(dict)
    #: Currencies this host trades on the venue (the configured instruments' base and quote).
    tracked: frozenset[str] = frozenset()

    def balance(self, currency: str) -> Decimal:
        """The balance of ``currency`` (0 when the account holds none)."""
        return self.balances.get(currency, ZERO)

    def _move(self, currency: str, amount: Decimal) -> None:
        if amount:
            self.balances[currency] = self.balances.get(currency, ZERO) + amount

    def apply_fill(self, fill: Fill, instrument: Instrument, realized: Decimal) -> None:
        """Move the balances by ``fill`` (``realized``: the P&L it realised, for perpetuals)."""
        base, quote = instrument.base, instrument.quote
        if not quote:
            return
        fee_ccy = fill.fee_currency or (base if fill.fee_asset == "base" else quote)
        if instrument.kind is InstrumentKind.SPOT:
            sign = fill.side.sign
            self._move(base, fill.quantity * sign)
            self._move(quote, -fill.quantity * fill.price * sign)
        else:
            self._move(quote, realized)
        self._move(fee_ccy, -fill.fee)

    def apply_flow(self, currency: str, amount: Decimal) -> None:
        """Book a payment of ``amount`` (> 0 paid, < 0 received), e.g. funding."""
        self._move(currency, -amount)


class Accounts:
    """Every execution venue's account, and equity in the reporting currency."""

    def __init__(self, reporting_currency: str, instruments: Mapping[str, Instrument]) -> None:
        self.reporting_currency = reporting_currency
        self.instruments = dict(instruments)
        self.by_venue: dict[str, Account] = {}

    def __contains__(self, venue: str) -> bool:
        return venue in self.by_venue

    def __bool__(self) -> bool:
        return bool(self.by_venue)

    def get(self, venue: str) -> Account | None:
        """The account of ``venue``, or None (a venue without the account capability)."""
        return self.by_venue.get(venue)

    def tracked_currencies(self, venue: str) -> frozenset[str]:
        """The reporting currency and the currencies of the venue's configured instruments."""
        out = {self.reporting_currency}
        for inst in self.instruments.values():
            if inst.venue == venue:
                out.update(c for c in (inst.base, inst.quote) if c)
        return frozenset(out)

    def seed(self, venue: str, balances: Mapping[str, Decimal]) -> Account:
        """Set ``venue``'s account to the venue's balances (the venue is the truth)."""
        account = Account(
            venue=venue,
            balances={k: Decimal(v) for k, v in balances.items()},
            tracked=self.tracked_currencies(venue),
        )
        self.by_venue[venue] = account
        return account

    def untracked(self, venue: str) -> dict[str, Decimal]:
        """Non-zero balances of ``venue`` in currencies this host does not trade there."""
        account = self.by_venue[venue]
        return {k: v for k, v in sorted(account.balances.items()) if v and k not in account.tracked}

    def rate(self, currency: str, mark: Callable[[str], float]) -> Decimal:
        """The price of one unit of ``currency`` in the reporting currency, from the last
        trade of a configured instrument between the two (either way round)."""
        target = self.reporting_currency
        if currency == target:
            return Decimal(1)
        for inst in self.instruments.values():
            if inst.base == currency and inst.quote == target:
                price = mark(inst.key)
                if price == price:  # not NaN
                    return Decimal(repr(price))
            if inst.base == target and inst.quote == currency:
                price = mark(inst.key)
                if price == price and price != 0:
                    return Decimal(1) / Decimal(repr(price))
        known = sorted(f"{i.key} ({i.base}/{i.quote})" for i in self.instruments.values())
        raise ConversionError(
            f"cannot convert {currency} to the reporting currency {target} "
            f"(reporting_currency @ $.run.reporting_currency): no configured instrument between "
            f"{currency} and {target} has a price yet; configured: {', '.join(known) or 'none'}"
        )

    def equity(self, mark: Callable[[str], float], positions: Iterable[Position]) -> Decimal:
        """Every account's tracked balances plus perpetual unrealised P&L, converted."""
        total = ZERO
        for account in self.by_venue.values():
            for currency, amount in sorted(account.balances.items()):
                if not amount or currency not in account.tracked:
                    continue
                try:
                    total += amount * self.rate(currency, mark)
                except ConversionError as exc:
                    raise ConversionError(
                        f"venue '{account.venue}' holds {amount} {currency}: {exc}"
                    ) from None
        for pos in positions:
            inst = self.instruments.get(pos.instrument)
            if pos.is_flat or inst is None or inst.venue not in self.by_venue:
                continue
            if inst.kind is InstrumentKind.SPOT:
                continue  # the base asset is a balance, counted above
            price = mark(pos.instrument)
            if price != price:
                raise ConversionError(
                    f"no price yet for the open position in {pos.instrument}: its unrealised "
                    f"P&L cannot be valued"
                )
            pnl = pos.unrealized_pnl(Decimal(repr(price)))
            total += pnl * self.rate(inst.quote, mark)
        return total
