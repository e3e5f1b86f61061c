"""ccxt's unified structures (orders, trades, positions, balances, funding) as typed values.

ccxt already turns each venue's JSON into its unified dicts; these classes read the fields the
plugin uses, once, with numbers as :class:`~decimal.Decimal`, and convert to the domain model
with ``to_domain()``. The domain never sees a ccxt key. Amounts of contract markets are in
contracts in ccxt and in base units in tradewind: ``contract_size`` converts.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from tradewind.model import Fill, OrderReport, OrderStatus, Position, Side

from .constants import CCXT_STATUS, NS_PER_MS

ZERO = Decimal(0)


def to_decimal(value: Any) -> Decimal | None:
    """A ccxt number (float, int, str or None) as a Decimal, without binary float noise."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        d = value
    else:
        try:
            d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
        except (InvalidOperation, ValueError):
            return None
    if not d.is_finite():
        return None
    # 1.0 → 1 and 0.0010 → 0.001, without turning 10 into 1E+1.
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def ms_to_ns(value: Any) -> int:
    """A ccxt millisecond timestamp as integer nanoseconds (0 when absent)."""
    if value is None:
        return 0
    try:
        return int(value) * NS_PER_MS
    except (TypeError, ValueError):
        return 0


@attrs.frozen(kw_only=True)
class CcxtOrder:
    """The fields of a ccxt unified order the plugin reads."""

    id: str
    client_order_id: str
    symbol: str
    status: str | None
    side: str | None
    amount: Decimal | None
    filled: Decimal
    average: Decimal | None
    timestamp_ms: int | None
    reason: str = ""

    @classmethod
    def from_ccxt(cls, raw: Mapping[str, Any], contract_size: Decimal = Decimal(1)) -> CcxtOrder:
        """Read a ccxt order dict; amounts are converted to base units."""
        amount = to_decimal(raw.get("amount"))
        filled = to_decimal(raw.get("filled")) or ZERO
        ts = raw.get("lastUpdateTimestamp") or raw.get("lastTradeTimestamp") or raw.get("timestamp")
        info = raw.get("info") or {}
        reason = ""
        if isinstance(info, Mapping):
            reason = str(info.get("rejectReason") or info.get("cancelType") or "")
            if reason in ("EC_NoError", "UNKNOWN", "NONE"):
                reason = ""
        return cls(
            id=str(raw.get("id") or ""),
            client_order_id=str(raw.get("clientOrderId") or ""),
            symbol=str(raw.get("symbol") or ""),
            status=raw.get("status"),
            side=raw.get("side"),
            amount=None if amount is None else amount * contract_size,
            filled=filled * contract_size,
            average=to_decimal(raw.get("average")),
            timestamp_ms=int(ts) if ts is not None else None,
            reason=reason,
        )

    def domain_status(self) -> OrderStatus:
        """The domain state: an ``open`` order with fills is partially filled; an
        acknowledgement without a status (Bybit, OKX answer a create with ids only) is
        accepted."""
        if self.status is None:
            return OrderStatus.ACCEPTED
        status = CCXT_STATUS.get(self.status, OrderStatus.ACCEPTED)
        if status is OrderStatus.ACCEPTED and self.filled > 0:
            return OrderStatus.PARTIALLY_FILLED
        return status

    def to_domain(self, instrument: str, client_order_id: str, fallback_ts_ns: int) -> OrderReport:
        """The order's state as an :class:`OrderReport` of ``instrument``."""
        ts = ms_to_ns(self.timestamp_ms) or fallback_ts_ns
        return OrderReport(
            client_order_id=client_order_id,
            instrument=instrument,
            status=self.domain_status(),
            ts_ns=ts,
            filled_quantity=self.filled,
            venue_order_id=self.id,
            reason=self.reason,
        )


@attrs.frozen(kw_only=True)
class CcxtTrade:
    """One execution of one of our orders (ccxt unified trade)."""

    id: str
    order_id: str
    side: str
    price: Decimal
    amount: Decimal
    fee_cost: Decimal | None
    fee_currency: str | None
    taker_or_maker: str | None
    timestamp_ms: int | None

    @classmethod
    def from_ccxt(cls, raw: Mapping[str, Any], contract_size: Decimal = Decimal(1)) -> CcxtTrade:
        """Read a ccxt trade dict; the amount is converted to base units."""
        fee = raw.get("fee") or {}
        return cls(
            id=str(raw.get("id") or ""),
            order_id=str(raw.get("order") or ""),
            side=str(raw.get("side") or ""),
            price=to_decimal(raw.get("price")) or ZERO,
            amount=(to_decimal(raw.get("amount")) or ZERO) * contract_size,
            fee_cost=to_decimal(fee.get("cost")) if isinstance(fee, Mapping) else None,
            fee_currency=fee.get("currency") if isinstance(fee, Mapping) else None,
            taker_or_maker=raw.get("takerOrMaker"),
            timestamp_ms=raw.get("timestamp"),
        )

    def fee(self, base: str, quote: str, rate: Decimal) -> tuple[Decimal, str, str]:
        """``(amount, currency, asset)`` of the fee as charged: asset is "quote", "base"
        (taken from the bought coin) or "other" (a third currency such as BNB). A trade
        without a fee is charged ``rate`` of its notional in the quote currency."""
        if self.fee_cost is None:
            return self.price * self.amount * rate, quote, "quote"
        if self.fee_currency is None or self.fee_currency == quote:
            return self.fee_cost, quote, "quote"
        if self.fee_currency == base:
            return self.fee_cost, base, "base"
        return self.fee_cost, str(self.fee_currency), "other"

    def to_domain(
        self,
        *,
        instrument: str,
        client_order_id: str,
        base: str,
        quote: str,
        maker_fee: Decimal,
        taker_fee: Decimal,
        fallback_ts_ns: int,
    ) -> Fill:
        """The execution as a :class:`Fill` (fee in the currency charged, positive paid)."""
        liquidity = "maker" if self.taker_or_maker == "maker" else "taker"
        rate = maker_fee if liquidity == "maker" else taker_fee
        fee, currency, asset = self.fee(base, quote, rate)
        return Fill(
            client_order_id=client_order_id,
            instrument=instrument,
            side=Side.BUY if self.side == "buy" else Side.SELL,
            quantity=self.amount,
            price=self.price,
            fee=fee,
            ts_ns=ms_to_ns(self.timestamp_ms) or fallback_ts_ns,
            liquidity=liquidity,
            trade_id=self.id,
            fee_currency=currency,
            fee_asset=asset,
        )


@attrs.frozen(kw_only=True)
class CcxtPosition:
    """A ccxt unified position (contracts, side, entry price)."""

    symbol: str
    contracts: Decimal
    side: str | None
    entry_price: Decimal
    timestamp_ms: int | None

    @classmethod
    def from_ccxt(cls, raw: Mapping[str, Any]) -> CcxtPosition:
        """Read a ccxt position dict."""
        return cls(
            symbol=str(raw.get("symbol") or ""),
            contracts=to_decimal(raw.get("contracts")) or ZERO,
            side=raw.get("side"),
            entry_price=to_decimal(raw.get("entryPrice")) or ZERO,
            timestamp_ms=raw.get("timestamp"),
        )

    def to_domain(self, instrument: str, contract_size: Decimal = Decimal(1)) -> Position:
        """A net :class:`Position` (signed base quantity, one lot at the entry price)."""
        qty = abs(self.contracts) * contract_size
        if self.side == "short" or (self.side is None and self.contracts < 0):
            qty = -qty
        lots = ((qty, self.entry_price),) if qty else ()
        return Position(
            instrument=instrument,
            quantity=qty,
            avg_price=self.entry_price if qty else ZERO,
            opened_ts_ns=ms_to_ns(self.timestamp_ms),
            lots=lots,
        )


def balances_to_domain(raw: Mapping[str, Any]) -> dict[str, Decimal]:
    """ccxt's ``fetch_balance`` result as ``{asset: total}``, zero balances left out."""
    totals = raw.get("total") or {}
    out: dict[str, Decimal] = {}
    for asset, value in totals.items():
        amount = to_decimal(value)
        if amount:
            out[str(asset)] = amount
    return out


@attrs.frozen(kw_only=True)
class FundingRate:
    """The current funding rate of a perpetual (a fraction per funding interval).

    ``next_funding_ts_ns`` is when this rate is next charged (ccxt's ``fundingTimestamp``).
    """

    instrument: str
    rate: Decimal
    ts_ns: int
    next_funding_ts_ns: int = 0
    mark_price: Decimal | None = None
    interval: str = ""

    @classmethod
    def from_ccxt(cls, raw: Mapping[str, Any], instrument: str) -> FundingRate:
        """Read ccxt's unified funding-rate structure."""
        return cls(
            instrument=instrument,
            rate=to_decimal(raw.get("fundingRate")) or ZERO,
            ts_ns=ms_to_ns(raw.get("timestamp")),
            next_funding_ts_ns=ms_to_ns(raw.get("fundingTimestamp")),
            mark_price=to_decimal(raw.get("markPrice")),
            interval=str(raw.get("interval") or ""),
        )
