"""The quote model's safety checks and the router's ranking (tradewind.execution).

The on-chain routing is in test_best_execution.py; these
cover the pure parts: calldata decoding against the order, net-output ranking, the journal.
"""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from eth_abi import encode
from tradewind.execution import (
    AggregatorError,
    BestExecutionRouter,
    KnownRouter,
    SwapQuote,
    SwapRequest,
    TxRequest,
    UnsafeTransaction,
    check_transaction,
)
from tradewind.journal.store import Journal

WALLET = "0x" + "11" * 20
OTHER = "0x" + "22" * 20
ROUTER = "0x" + "33" * 20
WETH = "0x" + "44" * 20
USD = "0x" + "55" * 20


def _v2_call(amount: int, min_out: int, recipient: str, path=(WETH, USD)) -> str:
    return (
        "0x38ed1739"
        + encode(
            ["uint256", "uint256", "address[]", "address", "uint256"],
            [amount, min_out, list(path), recipient, 2**40],
        ).hex()
    )


REQ = SwapRequest(
    client_order_id="c1",
    chain_id=1,
    sell_token=WETH,
    buy_token=USD,
    sell_amount=10**18,
    wallet=WALLET,
)


def _quote(name="a", out=2000 * 10**18, gas=100_000, **tx) -> SwapQuote:
    t = {
        "to": ROUTER,
        "data": _v2_call(10**18, out * 99 // 100, WALLET),
        "value": 0,
        "sender": WALLET,
        **tx,
    }
    return SwapQuote(
        aggregator=name,
        chain_id=1,
        sell_token=WETH,
        buy_token=USD,
        sell_amount=10**18,
        buy_amount=out,
        min_buy_amount=out * 99 // 100,
        gas=gas,
        tx=TxRequest(**t),
        spender=ROUTER,
    )


ROUTERS = [KnownRouter(address=ROUTER, family="uniswap-v2")]


def test_a_safe_transaction_passes():
    assert check_transaction(_quote(), REQ, ROUTERS).to == ROUTER


@pytest.mark.parametrize(
    ("tx", "message"),
    [
        ({"to": OTHER}, "not a router configured"),
        ({"value": 1}, "native value"),
        ({"sender": OTHER}, "not the wallet"),
        ({"data": _v2_call(10**18, 1980 * 10**18, OTHER)}, "pays the output to"),
        ({"data": _v2_call(2 * 10**18, 1980 * 10**18, WALLET)}, "calldata sells"),
        ({"data": _v2_call(10**18, 1980 * 10**18, WALLET, (USD, WETH))}, "calldata swaps"),
        ({"data": _v2_call(10**18, 0, WALLET)}, "below the quote's minimum"),
        ({"data": "0xdeadbeef"}, "selector"),
    ],
)
def test_an_unsafe_transaction_is_refused(tx, message):
    with pytest.raises(UnsafeTransaction, match=message):
        check_transaction(_quote(**tx), REQ, ROUTERS)


class _Source:
    def __init__(self, name: str, quote: SwapQuote | None, delay: float = 0.0) -> None:
        self.name = name
        self._quote = quote
        self._delay = delay

    async def quote_swap(self, request: SwapRequest) -> SwapQuote:
        await anyio.sleep(self._delay)
        if self._quote is None:
            raise AggregatorError(self.name, "api", "HTTP 400: no route")
        return self._quote

    def routers(self, chain_id: int):
        return ROUTERS


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def execute(self, request, quote, tx):
        self.sent.append(quote.aggregator)

        class Out:
            tx_hash = "0xabc"
            realised_out = quote.buy_amount

        return Out()


def test_ranking_is_by_net_output_with_failures_and_late_answers_last(tmp_path):
    heavy = _quote("heavy", out=2100 * 10**18, gas=5_000_000)
    cheap = _quote("cheap", out=2050 * 10**18, gas=100_000)
    sources = [
        _Source("heavy", heavy),
        _Source("cheap", cheap),
        _Source("down", None),
        _Source("slow", _quote("slow", out=3000 * 10**18), delay=2.0),
    ]
    journal = Journal(tmp_path / "j.duckdb", "r1", durable=True)
    rec = _Recorder()
    router = BestExecutionRouter(sources, rec, deadline_s=0.3, journal=journal)

    async def go():
        # 10 gwei x 5M gas = 0.05 native = 100 output tokens at 2000: heavy nets 2000.
        return await router.execute(REQ, gas_price_wei=10**10, out_per_native=Decimal(2000))

    result = anyio.run(go)
    assert result.chosen == "cheap" and rec.sent == ["cheap"]
    order = [c.aggregator for c in result.considered]
    assert order[:2] == ["cheap", "heavy"] and set(order[2:]) == {"down", "slow"}
    rows = dict(journal.query("SELECT aggregator, status FROM quotes WHERE client_order_id = 'c1'"))
    assert rows == {"cheap": "filled", "heavy": "not_tried", "down": "failed", "slow": "failed"}
    err = journal.query("SELECT error FROM quotes WHERE aggregator = 'slow'")[0][0]
    assert "timeout" in err
    with pytest.raises(Exception, match="already sent"):
        anyio.run(go)
    assert rec.sent == ["cheap"]
    journal.close()


def test_routing_config_reads_best_and_primary_fallback_from_toml():
    import tomllib

    from tradewind._serde import structure
    from tradewind.errors import ConfigError
    from tradewind.execution.config import RoutingConfig

    text = """
deadline_s = 1.5
[chains.1]
mode = "best"
[chains.8453]
primary = "zeroex"
fallback = ["odos", "oneinch"]
[chains.10]
mode = "ordered"
"""
    cfg = structure(tomllib.loads(text), RoutingConfig)
    assert cfg.deadline_s == 1.5
    assert cfg.order_for(1) is None and cfg.order_for(137) is None
    assert cfg.order_for(8453) == ["zeroex", "odos", "oneinch"]
    with pytest.raises(ValueError, match=r"needs primary .* @ \$.routing.chains.10"):
        cfg.order_for(10)
    with pytest.raises(ConfigError, match="unknown key"):
        structure({"chains": {"1": {"primery": "x"}}}, RoutingConfig)


def test_the_configured_order_is_followed_over_net_output():
    better = _quote("better", out=2100 * 10**18)
    worse = _quote("worse", out=2000 * 10**18)
    rec = _Recorder()
    router = BestExecutionRouter(
        [_Source("better", better), _Source("worse", worse)], rec, order=["worse", "better"]
    )

    async def go():
        return await router.execute(REQ, gas_price_wei=10**9, out_per_native=Decimal(2000))

    assert anyio.run(go).chosen == "worse" and rec.sent == ["worse"]
