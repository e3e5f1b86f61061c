"""The aggregators' own routers' calldata, decoded and checked against the order before
signing (tradewind.execution.quotes): each family's swap function with the real selector and
ABI layout (1inch AggregationRouterV6 ``swap``, 0x AllowanceHolder ``exec`` wrapping a Settler
``execute``, ParaSwap Augustus v6.2 ``swapExactAmountIn``, Odos Router V2 ``swap``, and
Uniswap's SwapRouter02 ``exactInputSingle``), accepted when it sells the order's token and
amount to the wallet, refused when a recipient, an amount or a token is tampered with."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from tradewind.execution import (
    KnownRouter,
    SwapQuote,
    SwapRequest,
    TxRequest,
    UnsafeTransaction,
    check_transaction,
)
from tradewind.execution.aggregator import RouterEntry

WALLET = "0x" + "11" * 20
ATTACKER = "0x" + "22" * 20
ROUTER = "0x" + "33" * 20
WETH = "0x" + "44" * 20
USD = "0x" + "55" * 20
EXECUTOR = "0x" + "66" * 20
ZERO = "0x" + "00" * 20
AMOUNT = 10**18
OUT = 2000 * 10**18
MIN = OUT * 995 // 1000

REQ = SwapRequest(
    client_order_id="c1",
    chain_id=1,
    sell_token=WETH,
    buy_token=USD,
    sell_amount=AMOUNT,
    wallet=WALLET,
)


def _call(signature: str, types: list[str], args: list) -> str:
    selector = function_signature_to_4byte_selector(signature)
    return "0x" + (selector + encode(types, args)).hex()


def oneinch(tin=WETH, tout=USD, amount=AMOUNT, min_out=MIN, to=WALLET) -> str:
    desc = "(address,address,address,address,uint256,uint256,uint256)"
    return _call(
        f"swap(address,{desc},bytes)",
        ["address", desc, "bytes"],
        [EXECUTOR, (tin, tout, EXECUTOR, to, amount, min_out, 0), b""],
    )


def zeroex(tin=WETH, tout=USD, amount=AMOUNT, min_out=MIN, to=WALLET) -> str:
    inner = _call(
        "execute((address,address,uint256),bytes[],bytes32)",
        ["(address,address,uint256)", "bytes[]", "bytes32"],
        [(to, tout, min_out), [b"\x01\x02"], b"\x00" * 32],
    )
    return _call(
        "exec(address,address,uint256,address,bytes)",
        ["address", "address", "uint256", "address", "bytes"],
        [EXECUTOR, tin, amount, EXECUTOR, bytes.fromhex(inner[2:])],
    )


def paraswap(tin=WETH, tout=USD, amount=AMOUNT, min_out=MIN, to=WALLET) -> str:
    data = "(address,address,uint256,uint256,uint256,bytes32,address)"
    return _call(
        f"swapExactAmountIn(address,{data},uint256,bytes,bytes)",
        ["address", data, "uint256", "bytes", "bytes"],
        [EXECUTOR, (tin, tout, amount, min_out, OUT, b"\x00" * 32, to), 0, b"", b""],
    )


def odos(tin=WETH, tout=USD, amount=AMOUNT, min_out=MIN, to=WALLET) -> str:
    info = "(address,uint256,address,address,uint256,uint256,address)"
    return _call(
        f"swap({info},bytes,address,uint32)",
        [info, "bytes", "address", "uint32"],
        [(tin, amount, EXECUTOR, tout, OUT, min_out, to), b"\x01", EXECUTOR, 0],
    )


def router02(tin=WETH, tout=USD, amount=AMOUNT, min_out=MIN, to=WALLET) -> str:
    params = "(address,address,uint24,address,uint256,uint256,uint160)"
    return _call(
        f"exactInputSingle({params})", [params], [(tin, tout, 3000, to, amount, min_out, 0)]
    )


FAMILIES = {
    "oneinch-v6": oneinch,
    "zeroex-allowance-holder": zeroex,
    "paraswap-v6.2": paraswap,
    "odos-v2": odos,
    "uniswap-v3-02": router02,
}


def _quote(data: str) -> SwapQuote:
    return SwapQuote(
        aggregator="agg",
        chain_id=1,
        sell_token=WETH,
        buy_token=USD,
        sell_amount=AMOUNT,
        buy_amount=OUT,
        min_buy_amount=MIN,
        gas=150_000,
        tx=TxRequest(to=ROUTER, data=data, value=0, sender=WALLET),
        spender=ROUTER,
    )


def _check(family: str, data: str) -> TxRequest:
    return check_transaction(_quote(data), REQ, [KnownRouter(address=ROUTER, family=family)])


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_swap_paying_the_wallet_the_orders_token_passes(family):
    assert _check(family, FAMILIES[family]()).to == ROUTER


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"to": ATTACKER}, "pays the output to 0x2222"),
        ({"amount": 2 * AMOUNT}, "calldata sells 2000000000000000000"),
        ({"tout": ATTACKER}, "calldata swaps"),
        ({"tin": USD}, "calldata swaps"),
        ({"min_out": MIN - 1}, "below the quote's minimum"),
    ],
)
def test_a_tampered_swap_is_refused_before_signing(family, tamper, message):
    with pytest.raises(UnsafeTransaction, match=message):
        _check(family, FAMILIES[family](**tamper))


@pytest.mark.parametrize("family", ["oneinch-v6", "paraswap-v6.2"])
def test_a_zero_recipient_means_the_sender_where_the_router_says_so(family):
    assert _check(family, FAMILIES[family](to=ZERO)).to == ROUTER


@pytest.mark.parametrize("family", ["zeroex-allowance-holder", "odos-v2", "uniswap-v3-02"])
def test_a_zero_recipient_is_refused_elsewhere(family):
    with pytest.raises(UnsafeTransaction, match="pays the zero address"):
        _check(family, FAMILIES[family](to=ZERO))


def test_another_function_of_a_known_router_is_refused():
    # 1inch's unoswap(uint256 token, uint256 amount, uint256 minReturn, uint256 dex): its
    # output token is implied by the pool, so it cannot be checked here.
    unoswap = _call(
        "unoswap(uint256,uint256,uint256,uint256)", ["uint256"] * 4, [int(WETH, 16), AMOUNT, MIN, 1]
    )
    with pytest.raises(UnsafeTransaction, match=r"selector 0x83800a8e is not a swap function"):
        _check("oneinch-v6", unoswap)


def test_a_settler_call_other_than_execute_is_refused():
    data = _call(
        "exec(address,address,uint256,address,bytes)",
        ["address", "address", "uint256", "address", "bytes"],
        [EXECUTOR, WETH, AMOUNT, EXECUTOR, b"\xde\xad\xbe\xef" + b"\x00" * 32],
    )
    with pytest.raises(UnsafeTransaction, match="not the Settler's execute"):
        _check("zeroex-allowance-holder", data)


def test_selling_the_native_coin_is_refused_with_a_clear_error():
    native = SwapRequest(
        client_order_id="c1",
        chain_id=1,
        sell_token="0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE",
        buy_token=USD,
        sell_amount=AMOUNT,
        wallet=WALLET,
    )
    quote = SwapQuote(
        aggregator="agg",
        chain_id=1,
        sell_token=native.sell_token,
        buy_token=USD,
        sell_amount=AMOUNT,
        buy_amount=OUT,
        min_buy_amount=MIN,
        gas=1,
        tx=TxRequest(to=ROUTER, data=oneinch(), value=AMOUNT, sender=WALLET),
    )
    with pytest.raises(
        UnsafeTransaction,
        match=r"native coin .* is not supported; trade its "
        r"wrapped ERC-20",
    ):
        check_transaction(quote, native, [KnownRouter(address=ROUTER, family="oneinch-v6")])


def test_an_unknown_router_family_is_a_config_error():
    with pytest.raises(ValueError, match="family 'uniswap-v9' is not known; known: opaque"):
        RouterEntry(address=ROUTER, family="uniswap-v9")


@pytest.mark.parametrize("kind", ["oneinch", "zeroex", "paraswap", "odos"])
def test_each_plugin_decodes_its_own_router_by_default(kind):
    from agg_setup import plugin_classes

    cfg = plugin_classes()[kind].config_class()
    families = {e.family for entries in cfg.routers.values() for e in entries}
    assert families == {
        {
            "oneinch": "oneinch-v6",
            "zeroex": "zeroex-allowance-holder",
            "paraswap": "paraswap-v6.2",
            "odos": "odos-v2",
        }[kind]
    }
