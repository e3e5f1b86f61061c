"""The quote model every aggregator parses its API's answers into, and the checks a quoted
transaction passes before it is signed.

Amounts are integers in the token's smallest unit (wei): exact, and what the chain and the
APIs speak. Addresses are compared case-insensitively.

The safety check is what stands between a compromised or buggy aggregator API and the
wallet: the transaction must call a router configured for that aggregator and chain, come
from the wallet, send no native value unless the order sells the native coin (and then
exactly the amount sold), and, for router families whose calldata is decoded here, sell
exactly the order's token and amount and pay the wallet. Anything else is refused before
signing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

#: The pseudo-address the APIs use for the chain's native coin.
NATIVE = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"


def _lower(value: str) -> str:
    return value.lower()


class AggregatorError(Exception):
    """An aggregator could not quote: ``kind`` is ``http``, ``rate_limited``, ``timeout``,
    ``malformed``, ``api`` or ``unsupported``; the message names the aggregator and why."""

    def __init__(self, aggregator: str, kind: str, message: str) -> None:
        super().__init__(f"aggregator '{aggregator}' ({kind}): {message}")
        self.aggregator = aggregator
        self.kind = kind


class UnsafeTransaction(Exception):
    """A quoted transaction failed a safety check; it was not signed."""


@attrs.frozen(kw_only=True)
class SwapRequest:
    """An exact-input swap to quote: sell ``sell_amount`` wei of ``sell_token``."""

    client_order_id: str
    chain_id: int
    sell_token: str = attrs.field(converter=_lower)
    buy_token: str = attrs.field(converter=_lower)
    sell_amount: int
    #: The wallet that signs, pays and receives.
    wallet: str = attrs.field(converter=_lower)
    #: Largest accepted shortfall of the realised output below the quote (0.005 = 0.5%).
    slippage: str = "0.005"


@attrs.frozen(kw_only=True)
class TxRequest:
    """The transaction an aggregator asks the wallet to sign."""

    to: str = attrs.field(converter=_lower)
    data: str
    value: int = 0
    sender: str = attrs.field(default="", converter=_lower)
    gas: int = 0


@attrs.frozen(kw_only=True)
class SwapQuote:
    """One aggregator's answer for a :class:`SwapRequest`."""

    aggregator: str
    chain_id: int
    sell_token: str = attrs.field(converter=_lower)
    buy_token: str = attrs.field(converter=_lower)
    sell_amount: int
    buy_amount: int
    min_buy_amount: int
    #: Gas units the swap is estimated to use.
    gas: int
    #: What the route goes through, e.g. ("Uniswap_V3 100%",).
    route: tuple[str, ...] = ()
    #: The transaction to sign; None for a price-only quote.
    tx: TxRequest | None = None
    #: The contract to approve for the sold token ("" when nothing needs approving).
    spender: str = attrs.field(default="", converter=_lower)
    #: The response it was parsed from (for the journal; never holds the API key).
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class KnownRouter:
    """A router contract the configuration trusts for one aggregator on one chain.

    ``family`` names a calldata layout decoded by :func:`decode_call` (``uniswap-v2`` for
    Router02's ``swapExactTokensForTokens``, ``uniswap-v3`` for SwapRouter's
    ``exactInputSingle``); ``opaque`` routers are checked on target, sender, value and the
    quote's own fields only.
    """

    address: str = attrs.field(converter=_lower)
    family: str = "opaque"


_V2_SWAP = "0x38ed1739"  # swapExactTokensForTokens(uint256,uint256,address[],address,uint256)
_V3_SINGLE = "0x414bf389"  # exactInputSingle((address,address,uint24,address,uint256,...))


@attrs.frozen
class DecodedCall:
    """What a decoded router call sells, and to whom it pays the output."""

    token_in: str
    token_out: str
    amount_in: int
    min_out: int
    recipient: str


def decode_call(family: str, data: str) -> DecodedCall | None:
    """Decode a swap call of a known router family; None for ``opaque``.

    Raises UnsafeTransaction when the calldata is not the family's swap function.
    """
    from eth_abi import decode

    if family == "opaque":
        return None
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    selector, args = "0x" + raw[:4].hex(), raw[4:]
    try:
        if family == "uniswap-v2" and selector == _V2_SWAP:
            amount_in, min_out, path, to, _ = decode(
                ["uint256", "uint256", "address[]", "address", "uint256"], args
            )
            return DecodedCall(path[0].lower(), path[-1].lower(), amount_in, min_out, to.lower())
        if family == "uniswap-v3" and selector == _V3_SINGLE:
            ((tin, tout, _fee, to, _dl, amount_in, min_out, _limit),) = decode(
                ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"], args
            )
            return DecodedCall(tin.lower(), tout.lower(), amount_in, min_out, to.lower())
    except Exception as exc:  # eth_abi raises several decoding errors
        raise UnsafeTransaction(f"calldata does not decode as a {family} swap: {exc}") from exc
    raise UnsafeTransaction(
        f"calldata selector {selector} is not the swap function of a {family} router"
    )


def check_transaction(
    quote: SwapQuote, request: SwapRequest, routers: Sequence[KnownRouter]
) -> TxRequest:
    """The quote's transaction, when it is safe to sign for ``request``; else UnsafeTransaction
    naming the aggregator and the check that failed."""
    who = f"quote of '{quote.aggregator}' for {request.client_order_id}"
    tx = quote.tx
    if tx is None:
        raise UnsafeTransaction(f"{who} carries no transaction")
    known = {r.address: r for r in routers}
    router = known.get(tx.to)
    if router is None:
        raise UnsafeTransaction(
            f"{who}: the transaction targets {tx.to}, not a router configured for "
            f"'{quote.aggregator}' on chain {request.chain_id} ({', '.join(known) or 'none'})"
        )
    if quote.chain_id != request.chain_id:
        raise UnsafeTransaction(f"{who}: quoted for chain {quote.chain_id}, not {request.chain_id}")
    if tx.sender and tx.sender != request.wallet:
        raise UnsafeTransaction(f"{who}: the transaction is from {tx.sender}, not the wallet")
    expected_value = request.sell_amount if request.sell_token == NATIVE else 0
    if tx.value != expected_value:
        raise UnsafeTransaction(
            f"{who}: the transaction sends {tx.value} wei of native value; the order allows "
            f"{expected_value}"
        )
    if (quote.sell_token, quote.buy_token) != (request.sell_token, request.buy_token):
        raise UnsafeTransaction(
            f"{who}: it swaps {quote.sell_token} -> {quote.buy_token}, the order "
            f"{request.sell_token} -> {request.buy_token}"
        )
    if quote.sell_amount != request.sell_amount:
        raise UnsafeTransaction(
            f"{who}: it sells {quote.sell_amount}, the order {request.sell_amount}"
        )
    if quote.spender and quote.spender not in known:
        raise UnsafeTransaction(
            f"{who}: the spender {quote.spender} is not a router configured for "
            f"'{quote.aggregator}'"
        )
    call = decode_call(router.family, tx.data)
    if call is not None:
        if call.recipient != request.wallet:
            raise UnsafeTransaction(
                f"{who}: the calldata pays the output to {call.recipient}, not the wallet "
                f"{request.wallet}"
            )
        if (call.token_in, call.token_out) != (request.sell_token, request.buy_token):
            raise UnsafeTransaction(
                f"{who}: the calldata swaps {call.token_in} -> {call.token_out}, the order "
                f"{request.sell_token} -> {request.buy_token}"
            )
        if call.amount_in != request.sell_amount:
            raise UnsafeTransaction(
                f"{who}: the calldata sells {call.amount_in}, the order {request.sell_amount}"
            )
        if call.min_out < quote.min_buy_amount:
            raise UnsafeTransaction(
                f"{who}: the calldata accepts {call.min_out} out, below the quote's minimum "
                f"{quote.min_buy_amount}"
            )
    return tx
