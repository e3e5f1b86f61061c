"""Chain payloads in the venue's terms, and their domain values.

A receipt becomes a :class:`SwapReceipt` (the wallet's own Transfer amounts, the gas paid),
whose :meth:`SwapReceipt.to_domain` is the :class:`~tradewind.model.Fill`. Swap logs become
:class:`~tradewind.model.TickBatch` rows. The events here are journaled like every bus event
(their fields land in the journal's ``events`` table).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal
from typing import Any

import attrs
import numpy as np
from eth_utils import to_checksum_address
from tradewind.model import Fill, Side, TickBatch
from tradewind.model.events import Event, Severity

from tradewind_venue_evm.constants import TOPIC_TRANSFER
from tradewind_venue_evm.pools import SwapLog, Token

#: Prices are quote/base to 60 significant digits: quantity x price rounds back to the wei.
_PRICE_CONTEXT = Context(prec=60)


@attrs.frozen(kw_only=True)
class Money:
    """An amount with its currency (gas in the native token, pool fees in a token)."""

    amount: Decimal
    currency: str


@attrs.frozen(kw_only=True)
class TransactionSent(Event):
    """The venue signed and broadcast a transaction (journaled before it was sent)."""

    venue: str
    client_order_id: str
    kind: str
    nonce: int
    tx_hash: str
    replaces: str = ""
    severity = Severity.INFO


@attrs.frozen(kw_only=True)
class ApprovalSettled(Event):
    """A token approval transaction was mined (its own transaction, with its own gas)."""

    venue: str
    token: str
    spender: str
    amount_wei: int
    tx_hash: str
    gas: Money


@attrs.frozen(kw_only=True)
class SwapSettled(Event):
    """A swap's receipt: the exact token amounts moved for the wallet, the pool fee and gas."""

    venue: str
    client_order_id: str
    instrument: str
    tx_hash: str
    block_number: int
    amount_in_wei: int
    token_in: str
    amount_out_wei: int
    token_out: str
    pool_fee: Money
    gas: Money
    gas_used: int
    effective_gas_price_wei: int
    l1_fee_wei: int = 0


@attrs.frozen(kw_only=True)
class SwapReverted(Event):
    """A swap transaction was mined and reverted; its gas was still paid."""

    venue: str
    client_order_id: str
    tx_hash: str
    reason: str
    gas: Money
    severity = Severity.WARNING


@attrs.frozen(kw_only=True)
class TicksRetracted(Event):
    """A reorg removed blocks whose Swap events were already delivered as ticks."""

    venue: str
    instrument: str
    #: The first block no longer on the canonical chain.
    from_block: int
    #: trade ids (block x 1e6 + log index) of the retracted ticks.
    trade_ids: tuple[int, ...]
    severity = Severity.WARNING


@attrs.frozen(kw_only=True)
class EmulatedLimitTriggered(Event):
    """An emulated limit order's price was crossed on the pool; it is sent as a market swap."""

    venue: str
    client_order_id: str
    limit_price: Decimal
    pool_price: Decimal


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value.lower()
    return "0x" + bytes(value).hex()


def transfers(receipt: Any) -> list[tuple[str, str, str, int]]:
    """Every ERC-20 Transfer in ``receipt``: (token, from, to, amount in wei)."""
    out = []
    for log in receipt["logs"]:
        topics = [_hex(t) for t in log["topics"]]
        if len(topics) != 3 or topics[0] != TOPIC_TRANSFER:
            continue
        data = log["data"]
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
        out.append(
            (
                str(to_checksum_address(log["address"])),
                str(to_checksum_address("0x" + topics[1][-40:])),
                str(to_checksum_address("0x" + topics[2][-40:])),
                int.from_bytes(raw[:32], "big"),
            )
        )
    return out


@attrs.frozen(kw_only=True)
class SwapReceipt:
    """A mined swap seen from the wallet: what left it, what arrived, and the gas it paid."""

    tx_hash: str
    block_number: int
    ts_ns: int
    base: Token
    quote: Token
    side: Side
    #: Base and quote moved for the wallet (wei, positive).
    base_wei: int
    quote_wei: int
    pool_fee_rate: Decimal
    gas_used: int
    effective_gas_price_wei: int
    l1_fee_wei: int
    native: str
    native_decimals: int = 18

    @classmethod
    def from_receipt(
        cls,
        receipt: Any,
        *,
        wallet: str,
        base: Token,
        quote: Token,
        side: Side,
        pool_fee_rate: Decimal,
        ts_ns: int,
        native: str,
        l1_fee_mode: str,
    ) -> SwapReceipt:
        """Read the wallet's Transfer amounts and the gas out of a successful receipt."""
        moved = {base.address: 0, quote.address: 0}
        for token, src, dst, amount in transfers(receipt):
            if token not in moved:
                continue
            if dst == wallet:
                moved[token] += amount
            if src == wallet:
                moved[token] -= amount
        base_delta, quote_delta = moved[base.address], moved[quote.address]
        if side is Side.BUY and not (base_delta > 0 and quote_delta < 0):
            raise ValueError(
                f"receipt {_hex(receipt['transactionHash'])}: a buy must move base in and quote "
                f"out of {wallet}, got base {base_delta}, quote {quote_delta}"
            )
        if side is Side.SELL and not (base_delta < 0 and quote_delta > 0):
            raise ValueError(
                f"receipt {_hex(receipt['transactionHash'])}: a sell must move base out and "
                f"quote in to {wallet}, got base {base_delta}, quote {quote_delta}"
            )
        l1 = 0
        if l1_fee_mode == "op-stack":
            raw = receipt.get("l1Fee")
            l1 = int(raw, 16) if isinstance(raw, str) else int(raw or 0)
        return cls(
            tx_hash=_hex(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            ts_ns=ts_ns,
            base=base,
            quote=quote,
            side=side,
            base_wei=abs(base_delta),
            quote_wei=abs(quote_delta),
            pool_fee_rate=pool_fee_rate,
            gas_used=int(receipt["gasUsed"]),
            effective_gas_price_wei=int(receipt["effectiveGasPrice"]),
            l1_fee_wei=l1,
            native=native,
        )

    @property
    def quantity(self) -> Decimal:
        """Base tokens bought or sold, exactly."""
        return self.base.to_decimal(self.base_wei)

    @property
    def notional(self) -> Decimal:
        """Quote tokens paid or received, exactly."""
        return self.quote.to_decimal(self.quote_wei)

    @property
    def price(self) -> Decimal:
        """Realised price, quote per base (60 significant digits)."""
        return _PRICE_CONTEXT.divide(self.notional, self.quantity)

    @property
    def pool_fee(self) -> Money:
        """The pool's fee, charged on the input token, in that token."""
        if self.side is Side.BUY:
            return Money(amount=self.notional * self.pool_fee_rate, currency=self.quote.symbol)
        return Money(amount=self.quantity * self.pool_fee_rate, currency=self.base.symbol)

    @property
    def gas_wei(self) -> int:
        """Gas paid: gasUsed x effectiveGasPrice, plus the L1 data fee where charged apart."""
        return self.gas_used * self.effective_gas_price_wei + self.l1_fee_wei

    @property
    def gas(self) -> Money:
        """Gas paid, as money in the native token."""
        return Money(
            amount=Decimal(self.gas_wei).scaleb(-self.native_decimals), currency=self.native
        )

    def to_domain(self, client_order_id: str, instrument: str, extra_gas_wei: int = 0) -> Fill:
        """The fill, exactly what the wallet's balances did.

        ``quantity`` and ``price`` are the receipt's Transfer amounts (base moved, quote moved
        / base moved): the pool fee is charged inside the swap on the input token, so it is
        already in the realised price (it is reported apart, in its token, on
        :class:`SwapSettled`). ``fee`` is the gas this order paid, in the chain's native token
        (``fee_asset = "other"``): the swap's, plus ``extra_gas_wei`` (the approval sent for
        it), so the account's native balance moves by what the chain charged, to the wei.
        """
        gas = Decimal(self.gas_wei + extra_gas_wei).scaleb(-self.native_decimals)
        return Fill(
            client_order_id=client_order_id,
            instrument=instrument,
            side=self.side,
            quantity=self.quantity,
            price=self.price,
            fee=gas,
            ts_ns=self.ts_ns,
            liquidity="taker",
            trade_id=self.tx_hash,
            fee_currency=self.native,
            fee_asset="other",
        )

    def settled_event(self, venue: str, client_order_id: str, instrument: str) -> SwapSettled:
        """The journal event with every wei of the receipt."""
        sold_base = self.side is Side.SELL
        return SwapSettled(
            ts_ns=self.ts_ns,
            venue=venue,
            client_order_id=client_order_id,
            instrument=instrument,
            tx_hash=self.tx_hash,
            block_number=self.block_number,
            amount_in_wei=self.base_wei if sold_base else self.quote_wei,
            token_in=self.base.address if sold_base else self.quote.address,
            amount_out_wei=self.quote_wei if sold_base else self.base_wei,
            token_out=self.quote.address if sold_base else self.base.address,
            pool_fee=self.pool_fee,
            gas=self.gas,
            gas_used=self.gas_used,
            effective_gas_price_wei=self.effective_gas_price_wei,
            l1_fee_wei=self.l1_fee_wei,
        )


def trade_id(block_number: int, log_index: int) -> int:
    """A tick's trade id: unique per chain position of its log."""
    return block_number * 1_000_000 + log_index


def ticks_from_swaps(
    instrument: str,
    swaps: Sequence[SwapLog],
    block_ts_ns: dict[int, int],
    base: Token,
    quote: Token,
) -> TickBatch:
    """Swap logs (in chain order) as a TickBatch: price quote/base, size in base, aggressor side.

    The aggressor is the taker: +1 when it sold quote for base (a buy), -1 when it sold base.
    """
    n = len(swaps)
    ts = np.empty(n, dtype=np.int64)
    price = np.empty(n, dtype=np.float64)
    size = np.empty(n, dtype=np.float64)
    side = np.empty(n, dtype=np.int8)
    ids = np.empty(n, dtype=np.int64)
    bscale = 10.0**-base.decimals
    qscale = 10.0**-quote.decimals
    for i, s in enumerate(swaps):
        b = s.base_wei * bscale
        q = s.quote_wei * qscale
        ts[i] = block_ts_ns[s.block_number]
        size[i] = b
        price[i] = q / b if b else np.nan
        side[i] = s.side
        ids[i] = trade_id(s.block_number, s.log_index)
    keep = size > 0
    if not keep.all():
        ts, price, size, side, ids = ts[keep], price[keep], size[keep], side[keep], ids[keep]
    return TickBatch(
        instrument=instrument, ts_ns=ts, price=price, size=size, side=side, trade_id=ids
    )
