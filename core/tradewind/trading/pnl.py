"""P&L with its currency: which currency an instrument's P&L is in, and totals across them.

An instrument's P&L (realised and unrealised) is in its settlement currency: the quote
currency for spot and for linear perpetuals (the model has no inverse contracts). An
instrument without a quote currency (a simulated venue's, configured without one) books its
P&L in the simulated cash, which the portfolio counts in the reporting currency.

A total over instruments of different P&L currencies is never a raw sum: :func:`total`
converts every currency to the reporting currency with the marks the host has
(:meth:`tradewind.trading.accounts.Accounts.rate`) and, when one cannot be converted, gives no
total and keeps the amounts per currency (:class:`MoneyTotal`).

Fees follow the same rule (:func:`fee_amount`): a fee in the quote currency, or in the bought
asset valued in quote at the fill price, is money of the instrument's P&L currency; a fee in a
third currency (BNB, gas in ETH or SOL) is money of that currency, and is listed so per
currency. What a third-currency fee cost is its amount at the price that currency had in the
P&L currency when the fill was booked (:attr:`~tradewind.model.Fill.fee_rate`, from the same
marks the P&L conversion reads, :meth:`~tradewind.trading.accounts.Accounts.rate`): from then
on it is money of the trade's P&L currency (:func:`fee_value`), taken out of the trade's net
P&L and totalled with it (:func:`fee_total`) at the P&L's rates. A third-currency fee that had
no price at its fill is never counted as 0: the totals and the trade's net P&L are then None,
with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import attrs

from tradewind.model import Fill, Instrument
from tradewind.trading.accounts import ConversionError

ZERO = Decimal(0)


def pnl_currency(instrument: Instrument, reporting_currency: str) -> str:
    """The currency ``instrument``'s P&L is in: its settlement (quote) currency, or the
    reporting currency when it has none (simulated cash is counted in it)."""
    return instrument.settlement_currency or reporting_currency


def pnl_currencies(
    instruments: Mapping[str, Instrument], reporting_currency: str
) -> dict[str, str]:
    """:func:`pnl_currency` of every instrument, by key."""
    return {key: pnl_currency(inst, reporting_currency) for key, inst in instruments.items()}


@attrs.frozen(kw_only=True)
class MoneyTotal:
    """A sum of amounts in possibly several currencies.

    ``total`` is the sum in ``currency`` (the reporting currency), each amount converted at
    the host's marks; None when some currency could not be converted (``error`` says which
    and why). ``by_currency`` always holds the unconverted sum of each currency.
    """

    currency: str
    total: Decimal | None
    by_currency: Mapping[str, Decimal]
    error: str = ""

    @property
    def mixed(self) -> bool:
        """True when the amounts are in more than one currency, or in one that is not the
        reporting currency."""
        return any(c != self.currency for c in self.by_currency)

    def to_json(self) -> dict[str, str]:
        """``{currency: amount}`` as exact strings, for reports and API fields."""
        return {c: str(v) for c, v in sorted(self.by_currency.items())}


def total(
    amounts: Iterable[tuple[str, Decimal]],
    currency: str,
    rate: Callable[[str], Decimal],
) -> MoneyTotal:
    """The sum of ``(currency, amount)`` pairs in ``currency``: each currency's sum times
    ``rate(currency)`` (which raises :class:`ConversionError` when it has no price). A
    currency that cannot be converted leaves ``total`` None, never 0."""
    by: dict[str, Decimal] = {}
    for cur, amount in amounts:
        by[cur] = by.get(cur, ZERO) + amount
    out: Decimal | None = ZERO
    errors = []
    for cur, amount in sorted(by.items()):
        if cur == currency:
            out = None if out is None else out + amount
            continue
        if not amount:
            continue
        try:
            r = rate(cur)
        except ConversionError as exc:
            errors.append(f"{amount} {cur}: {exc}")
            out = None
            continue
        out = None if out is None else out + amount * r
    return MoneyTotal(currency=currency, total=out, by_currency=by, error="; ".join(errors))


def rates_of(
    currencies: Iterable[str], currency: str, rate: Callable[[str], Decimal]
) -> dict[str, Decimal]:
    """The price in ``currency`` of each of ``currencies`` that has one (``currency`` itself
    is 1); those without a price are left out."""
    out: dict[str, Decimal] = {}
    for cur in sorted(set(currencies)):
        if cur == currency:
            out[cur] = Decimal(1)
            continue
        try:
            out[cur] = rate(cur)
        except ConversionError:
            continue
    return out


def fee_amount(fill: Fill, pnl_cur: str) -> tuple[str, Decimal]:
    """``(currency, amount)`` of ``fill``'s fee: in ``pnl_cur`` (its instrument's P&L
    currency) for a fee in the quote or the bought asset (valued in quote at the fill price,
    :attr:`~tradewind.model.Fill.fee_in_quote`), in its own currency for a third one."""
    if fill.fee_asset == "other":
        if not fill.fee_currency:
            raise ValueError(
                f"fill {fill.client_order_id} of {fill.instrument}: a fee in a third currency "
                f"(fee_asset 'other') must name it in fee_currency"
            )
        return fill.fee_currency, fill.fee
    return pnl_cur, fill.fee_in_quote


def fee_value(fill: Fill, pnl_cur: str) -> tuple[str, Decimal] | None:
    """``(pnl_cur, amount)``: what ``fill``'s fee cost in its instrument's P&L currency
    (:attr:`~tradewind.model.Fill.fee_in_pnl`: a third currency's at the price it had at the
    fill); None for a third-currency fee that had no price then."""
    value = fill.fee_in_pnl
    return None if value is None else (pnl_cur, value)


def unpriced_fee(fill: Fill, pnl_cur: str) -> str:
    """Why ``fill``'s fee (in a third currency, without a price at the fill) is not in the
    totals: its amount, the fill and the missing price."""
    return (
        f"{fill.fee} {fill.fee_currency} of fill {fill.trade_id or fill.client_order_id} "
        f"({fill.instrument}): no price of {fill.fee_currency} in {pnl_cur} at the fill"
    )


def fee_total(
    fills: Iterable[Fill],
    currencies: Mapping[str, str],
    currency: str,
    rate: Callable[[str], Decimal],
) -> MoneyTotal:
    """The fees of ``fills``: ``by_currency`` as charged (:func:`fees_by_currency`), and the
    total in ``currency`` of what they cost (:func:`fee_value`: a third currency's at its
    price at the fill) in their P&L currencies, converted at ``rate`` as the P&L is (None,
    with the reason, when a third-currency fee had no price at its fill or a P&L currency has
    no rate). ``currencies`` maps an instrument to its P&L currency (``currency`` for one it
    does not name)."""
    by: dict[str, Decimal] = {}
    valued: list[tuple[str, Decimal]] = []
    unpriced: list[str] = []
    for f in fills:
        pnl_cur = currencies.get(f.instrument, currency)
        cur, amount = fee_amount(f, pnl_cur)
        by[cur] = by.get(cur, ZERO) + amount
        value = fee_value(f, pnl_cur)
        if value is None:
            unpriced.append(unpriced_fee(f, pnl_cur))
        else:
            valued.append(value)
    return priced_total(by, valued, unpriced, currency, rate)


def priced_total(
    by_currency: Mapping[str, Decimal],
    valued: Iterable[tuple[str, Decimal]],
    unpriced: Iterable[str],
    currency: str,
    rate: Callable[[str], Decimal],
) -> MoneyTotal:
    """Fees as charged (``by_currency``) with the total of what they cost: ``valued``
    (``(P&L currency, amount)``) converted at ``rate``; None when ``unpriced`` names fees
    that had no price at their fill (the reasons, up to 3 and a count, in ``error``)."""
    out = total(valued, currency, rate)
    errors = [out.error] if out.error else []
    missing = list(unpriced)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        errors.append("; ".join(missing[:3]) + more)
    return MoneyTotal(
        currency=currency,
        total=None if missing else out.total,
        by_currency=dict(by_currency),
        error="; ".join(errors),
    )


def fees_by_currency(
    fills: Iterable[Fill], currencies: Mapping[str, str], default: str
) -> dict[str, Decimal]:
    """The fees of ``fills`` summed per currency (:func:`fee_amount`); ``currencies`` maps
    an instrument to its P&L currency (``default`` for one it does not name)."""
    out: dict[str, Decimal] = {}
    for f in fills:
        cur, amount = fee_amount(f, currencies.get(f.instrument, default))
        out[cur] = out.get(cur, ZERO) + amount
    return out


def rate_table(rates: Mapping[str, Decimal], currency: str) -> Callable[[str], Decimal]:
    """:func:`total`'s ``rate`` from a table of prices in ``currency`` (a run's
    ``pnl_rates``): a currency missing from it raises :class:`ConversionError`."""

    def rate(cur: str) -> Decimal:
        found = rates.get(cur)
        if found is None:
            raise ConversionError(f"no price of {cur} in {currency} at the end of the run")
        return found

    return rate


def value_closed_trades(
    closed: Iterable[tuple[int, str, Decimal]],
    currencies: Mapping[str, str],
    rates: Mapping[str, Decimal],
    currency: str,
) -> tuple[list[tuple[int, str, Decimal]], tuple[str, ...]]:
    """Closed trades ``(ts_ns, instrument, pnl)`` with their P&L in ``currency`` at ``rates``
    (an instrument missing from ``currencies`` is in ``currency``), and the P&L currencies
    that have no rate: when there are any, the trades are returned unconverted and a sum of
    them means nothing (the caller says so, never sums them)."""
    trades = list(closed)
    missing = sorted({currencies.get(i, currency) for _, i, _ in trades} - set(rates) - {currency})
    if missing:
        return trades, tuple(missing)
    out = []
    for ts, inst, pnl in trades:
        cur = currencies.get(inst, currency)
        out.append((ts, inst, pnl if cur == currency else pnl * rates[cur]))
    return out, ()
