"""The quote model every aggregator parses its API's answers into, and the checks a quoted
transaction passes before it is signed.

Amounts are integers in the token's smallest unit (wei): exact, and what the chain and the
APIs speak. Addresses are compared case-insensitively.

The safety check is what stands between a compromised or buggy aggregator API and the
wallet: the transaction must call a router configured for that aggregator and chain, come
from the wallet, send no native value, and, for router families whose calldata is decoded
here, sell exactly the order's token and amount and pay the wallet. Anything else is refused
before signing.

Decoded families: the Uniswap routers (V2 Router02, V3 SwapRouter and SwapRouter02, what the
venue's own pools and the local test servers call) and the four aggregators' own routers
(1inch AggregationRouterV6 ``swap``, 0x AllowanceHolder ``exec`` of a Settler ``execute``,
ParaSwap Augustus v6.2 ``swapExactAmountIn``, Odos Router V2 ``swap``). Another function of
a decoded router (1inch ``unoswap``, Odos ``swapCompact``...) is refused, not waved through.

Selling the chain's native coin (a swap carrying value) is refused with a clear error: the
EVM venue trades ERC-20 pools, so the wrapped token (WETH) is what is sold.
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

    ``family`` names a calldata layout decoded by :func:`decode_call` (one of
    :data:`FAMILIES`: ``uniswap-v2``, ``uniswap-v3``, ``uniswap-v3-02``, ``oneinch-v6``,
    ``zeroex-allowance-holder``, ``paraswap-v6.2``, ``odos-v2``); ``opaque`` routers are
    checked on target, sender, value and the quote's own fields only.
    """

    address: str = attrs.field(converter=_lower)
    family: str = "opaque"

    def __attrs_post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(
                f"router {self.address}: family {self.family!r} is not known; known: "
                f"{', '.join(FAMILIES)}"
            )


_ZERO = "0x0000000000000000000000000000000000000000"

#: Per router family: the swap functions decoded, by selector, with their ABI argument types.
#: Each decoder returns (token in, token out, amount in, minimum out, recipient); a recipient
#: of the zero address means "the sender" where the router defines it so (1inch, ParaSwap).
_SIGNATURES: dict[str, dict[str, tuple[str, list[str]]]] = {
    "uniswap-v2": {
        "0x38ed1739": (
            "swapExactTokensForTokens",
            ["uint256", "uint256", "address[]", "address", "uint256"],
        ),
    },
    "uniswap-v3": {
        "0x414bf389": (
            "exactInputSingle",
            ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"],
        ),
    },
    "uniswap-v3-02": {
        "0x04e45aaf": (
            "exactInputSingle",
            ["(address,address,uint24,address,uint256,uint256,uint160)"],
        ),
    },
    # 1inch AggregationRouterV6: swap(executor, SwapDescription desc, data).
    "oneinch-v6": {
        "0x07ed2379": (
            "swap",
            ["address", "(address,address,address,address,uint256,uint256,uint256)", "bytes"],
        ),
    },
    # 0x AllowanceHolder: exec(operator, token, amount, target, data); data is the Settler's
    # execute((recipient, buyToken, minAmountOut), actions, zid).
    "zeroex-allowance-holder": {
        "0x2213bc0b": ("exec", ["address", "address", "uint256", "address", "bytes"]),
    },
    # ParaSwap Augustus v6.2: swapExactAmountIn(executor, GenericData, partnerAndFee, permit,
    # executorData).
    "paraswap-v6.2": {
        "0xe3ead59e": (
            "swapExactAmountIn",
            [
                "address",
                "(address,address,uint256,uint256,uint256,bytes32,address)",
                "uint256",
                "bytes",
                "bytes",
            ],
        ),
    },
    # Odos Router V2: swap(swapTokenInfo, pathDefinition, executor, referralCode) (the
    # non-compact form: the plugin asks the API for it).
    "odos-v2": {
        "0x3b635ce4": (
            "swap",
            [
                "(address,uint256,address,address,uint256,uint256,address)",
                "bytes",
                "address",
                "uint32",
            ],
        ),
    },
}
_SETTLER_EXECUTE = "0x1fff991f"

#: Router families whose calldata :func:`decode_call` reads (``opaque`` is not decoded).
FAMILIES = ("opaque", *_SIGNATURES)


@attrs.frozen
class DecodedCall:
    """What a decoded router call sells, and to whom it pays the output."""

    token_in: str
    token_out: str
    amount_in: int
    min_out: int
    #: Where the output goes ("" for the zero address: the sender, for routers defining so).
    recipient: str


def _addr(value: str) -> str:
    v = value.lower()
    return "" if v == _ZERO else v


def _decoded(family: str, name: str, args: tuple[Any, ...]) -> DecodedCall:
    from eth_abi import decode

    if family == "uniswap-v2":
        amount_in, min_out, path, to, _ = args
        return DecodedCall(_addr(path[0]), _addr(path[-1]), amount_in, min_out, _addr(to))
    if family == "uniswap-v3":
        ((tin, tout, _fee, to, _dl, amount_in, min_out, _limit),) = args
        return DecodedCall(_addr(tin), _addr(tout), amount_in, min_out, _addr(to))
    if family == "uniswap-v3-02":
        ((tin, tout, _fee, to, amount_in, min_out, _limit),) = args
        return DecodedCall(_addr(tin), _addr(tout), amount_in, min_out, _addr(to))
    if family == "oneinch-v6":
        _executor, (src, dst, _src_receiver, dst_receiver, amount, min_return, _flags), _ = args
        return DecodedCall(_addr(src), _addr(dst), amount, min_return, _addr(dst_receiver))
    if family == "zeroex-allowance-holder":
        _operator, token, amount, _target, inner = args
        inner = bytes(inner)
        if "0x" + inner[:4].hex() != _SETTLER_EXECUTE:
            raise UnsafeTransaction(
                f"the AllowanceHolder call's inner selector 0x{inner[:4].hex()} is not the "
                f"Settler's execute ({_SETTLER_EXECUTE})"
            )
        ((recipient, buy_token, min_out), _actions, _zid) = decode(
            ["(address,address,uint256)", "bytes[]", "bytes32"], inner[4:]
        )
        return DecodedCall(_addr(token), _addr(buy_token), amount, min_out, _addr(recipient))
    if family == "paraswap-v6.2":
        _executor, (src, dest, from_amount, to_amount, _quoted, _meta, beneficiary), *_ = args
        return DecodedCall(_addr(src), _addr(dest), from_amount, to_amount, _addr(beneficiary))
    if family == "odos-v2":
        ((tin, amount, _in_receiver, tout, _quote, out_min, receiver), *_) = args
        return DecodedCall(_addr(tin), _addr(tout), amount, out_min, _addr(receiver))
    raise AssertionError(f"no decoder for {family}")  # every _SIGNATURES key has one


#: Families where a zero-address recipient means the sender (the router's own rule).
_ZERO_IS_SENDER = frozenset({"oneinch-v6", "paraswap-v6.2"})


def decode_call(family: str, data: str) -> DecodedCall | None:
    """Decode a swap call of a known router family; None for ``opaque``.

    Raises UnsafeTransaction when the family is unknown or the calldata is not one of the
    family's decoded swap functions.
    """
    from eth_abi import decode

    if family == "opaque":
        return None
    functions = _SIGNATURES.get(family)
    if functions is None:
        raise UnsafeTransaction(
            f"router family {family!r} is not known; known: {', '.join(FAMILIES)}"
        )
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    selector, body = "0x" + raw[:4].hex(), raw[4:]
    found = functions.get(selector)
    if found is None:
        names = ", ".join(f"{n} ({s})" for s, (n, _) in functions.items())
        raise UnsafeTransaction(
            f"calldata selector {selector} is not a swap function of a {family} router "
            f"decoded here ({names})"
        )
    name, types = found
    try:
        args = tuple(decode(types, body))
        call = _decoded(family, name, args)
    except UnsafeTransaction:
        raise
    except Exception as exc:  # eth_abi raises several decoding errors
        raise UnsafeTransaction(f"calldata does not decode as a {family} {name}: {exc}") from exc
    if not call.recipient and family in _ZERO_IS_SENDER:
        return call  # the router pays msg.sender: the wallet, checked as the sender
    if not call.recipient:
        raise UnsafeTransaction(f"the {family} {name} call pays the zero address")
    return call


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
    if request.sell_token in (NATIVE, _ZERO):
        raise UnsafeTransaction(
            f"{who}: selling the chain's native coin (a swap carrying value) is not supported; "
            f"trade its wrapped ERC-20 (e.g. WETH) instead"
        )
    if tx.value != 0:
        raise UnsafeTransaction(
            f"{who}: the transaction sends {tx.value} wei of native value; the order sells an "
            f"ERC-20 and allows none"
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
        if call.recipient and call.recipient != request.wallet:
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
