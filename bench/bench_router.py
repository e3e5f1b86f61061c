"""Best-execution router: decision time for four aggregator quotes on loopback.

python bench/bench_router.py [--rounds N]

Run it as ``python3 -m tox -e bench-router`` (the aggregators' plugins installed). Four local
aiohttp servers on 127.0.0.1 speak the 1inch, 0x, ParaSwap and Odos APIs with answers of the
documented shapes (fixed prices, calldata of a Uniswap V2 Router02 call; no chain is needed
to decide). One decision = the four plugins' HTTP requests in parallel (ParaSwap and Odos
make two each), parsing, ranking by net output, and the safety check of the winner's
transaction — everything before signing. Reported: wall time per decision, p50 and p99, and
the quotes answered and failed; any failed quote makes the run exit non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio

_KIT = Path(__file__).resolve().parent.parent / "plugins" / "aggregators" / "testkit"
sys.path.insert(0, str(_KIT))

WETH = "0x" + "44" * 20
USD = "0x" + "55" * 20
WALLET = "0x" + "11" * 20
ROUTER = "0x" + "33" * 20


class StaticBackend:
    """Fixed prices per aggregator; calldata of a Router02 swapExactTokensForTokens call."""

    def __init__(self, price: int) -> None:
        self.price = price
        self.chain = _NoChain()

    def router(self, venue: str) -> str:
        return ROUTER

    def family(self, venue: str) -> str:
        return "uniswap-v2"

    def quote(self, venue: str, sell: str, buy: str, amount: int) -> int:
        return amount * self.price

    def calldata(
        self, venue: str, sell: str, buy: str, amount: int, min_out: int, recipient: str
    ) -> str:
        from eth_abi import encode

        return (
            "0x38ed1739"
            + encode(
                ["uint256", "uint256", "address[]", "address", "uint256"],
                [amount, min_out, [sell, buy], recipient, 2**40],
            ).hex()
        )


class _NoChain:
    class w3:  # mimics LocalChain.w3.eth.block_number
        class eth:
            block_number = 1


async def main(rounds: int) -> None:
    os.environ.setdefault("TW_BENCH_AGG_KEY", "bench")
    from agg_servers import AggServer, Behaviour, serve
    from tradewind.execution import BestExecutionRouter, SwapRequest
    from tradewind.execution.aggregator import RouterEntry
    from tradewind.secrets import Secret
    from tradewind_aggregator_odos import OdosAggregator
    from tradewind_aggregator_oneinch import OneInchAggregator
    from tradewind_aggregator_paraswap import ParaSwapAggregator
    from tradewind_aggregator_zeroex import ZeroExAggregator

    classes = {
        "oneinch": OneInchAggregator,
        "zeroex": ZeroExAggregator,
        "paraswap": ParaSwapAggregator,
        "odos": OdosAggregator,
    }
    prices = {"oneinch": 2001, "zeroex": 2000, "paraswap": 2003, "odos": 1999}
    servers = {k: AggServer(k, StaticBackend(p), Behaviour()) for k, p in prices.items()}  # type: ignore[arg-type]
    async with contextlib.AsyncExitStack() as stack:
        for s in servers.values():
            await stack.enter_async_context(serve(s))
        aggs: list[Any] = []
        for k, s in servers.items():
            cls = classes[k]
            aggs.append(
                cls(
                    config=cls.config_class(
                        api_key=Secret("TW_BENCH_AGG_KEY"),
                        base_url=s.url,
                        chains=(1,),
                        routers={"1": (RouterEntry(address=ROUTER, family="uniswap-v2"),)},
                    ),
                    instance=k,
                )
            )
            stack.push_async_callback(aggs[-1].close)

        class NoSend:
            async def execute(self, request: Any, quote: Any, tx: Any) -> Any:
                raise AssertionError("the benchmark decides only")

        router = BestExecutionRouter(aggs, NoSend(), deadline_s=2.0)
        from tradewind.execution import check_transaction

        times = []
        answered = 0
        failed: list[str] = []
        for i in range(rounds + 20):
            req = SwapRequest(
                client_order_id=f"b{i}",
                chain_id=1,
                sell_token=WETH,
                buy_token=USD,
                sell_amount=10**18,
                wallet=WALLET,
            )
            t0 = time.perf_counter()
            ranked = await router.gather(req, gas_price_wei=10**9, out_per_native=Decimal(2000))
            answered += sum(c.quote is not None for c in ranked)
            failed += [f"round {i}: {c.aggregator}: {c.error}" for c in ranked if c.quote is None]
            best = ranked[0]
            assert best.quote is not None and best.aggregator == "paraswap"
            check_transaction(best.quote, req, aggs[2].routers(1))
            if i >= 20:  # warm-up: connections opened
                times.append(time.perf_counter() - t0)
    times.sort()
    p50 = statistics.median(times) * 1e3
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1e3
    print(
        f"router decision, 4 aggregators on loopback, {len(times)} rounds: "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    # A decision that one aggregator missed timed three requests, not four.
    print(f"quotes: {answered} answered, {len(failed)} failed (warm-up rounds included)")
    if failed:
        sys.exit("aggregators failed to quote:\n" + "\n".join(failed[:10]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args()
    anyio.run(main, args.rounds)
