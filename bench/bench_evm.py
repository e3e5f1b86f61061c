"""EVM venue: Swap-event ingestion rate and quote-to-receipt latency on a local anvil chain.

python bench/bench_evm.py [--swaps N] [--per-block N] [--orders N]

Needs anvil and the npm contracts: run it as ``python3 -m tox -e bench-evm`` (the env installs
them and sets TRADEWIND_EVM_NPM). Two measurements on the real Uniswap V3 contracts:

1. ingestion: a trader account makes ``--swaps`` swaps on the V3 pool, ``--per-block`` per
   block; the venue's ``poll_trades`` then turns the block range into TickBatches —
   ``eth_getLogs`` over HTTP, decoding, block timestamps, reorg bookkeeping, the batch. Reported
   as Swap events per second (wall time, best of 3), and the decode step alone (in-memory logs
   to a TickBatch, CPU time, best of 3).
2. quote-to-receipt: ``--orders`` market swaps through ``submit_order`` with anvil's automine
   (every transaction is mined on arrival): fresh quote, allowance check, gas estimate, fees,
   signing, the fsynced write-ahead journal, broadcast, receipt, fill. Wall time per order,
   median and 95th percentile. A public chain adds its block time to this.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import anyio

TESTS = Path(__file__).resolve().parents[1] / "plugins" / "venues" / "evm" / "tests"
sys.path.insert(0, str(TESTS))

from evm_chain import WALLET_KEY, Anvil, LocalChain  # noqa: E402
from evm_testkit import KEY_ENV, RPC_ENV, connected, pool  # noqa: E402
from tradewind.model import Order, OrderType, Side  # noqa: E402
from tradewind_venue_evm.schemas import ticks_from_swaps  # noqa: E402


def make_swaps(chain: LocalChain, n: int, per_block: int) -> tuple[int, int]:
    """``n`` alternating trader swaps on the V3 pool, ``per_block`` per block."""
    d = chain.d
    chain.fund(chain.trader, Decimal(2000), Decimal(4_000_000))
    router = chain.contract("SwapRouter", d.swap_router)
    for t in (d.weth, d.usd):
        chain.send(chain.erc20(t).functions.approve(d.swap_router, 2**256 - 1), chain.trader)
    start = chain.w3.eth.block_number + 1
    chain.set_automine(False)
    nonce = chain.w3.eth.get_transaction_count(chain.trader)
    for i in range(n):
        sell = i % 2 == 0
        t_in, t_out = (d.weth, d.usd) if sell else (d.usd, d.weth)
        amount = 10**17 if sell else 200 * 10**18
        router.functions.exactInputSingle(
            (t_in, t_out, 3000, chain.trader, 2**40, amount, 0, 0)
        ).transact(
            {
                "from": chain.trader,
                "nonce": nonce + i,
                "gas": 300_000,
                "maxFeePerGas": 10**11,
                "maxPriorityFeePerGas": 10**9,
            }
        )
        if (i + 1) % per_block == 0:
            chain.mine()
    chain.mine()
    chain.set_automine(True)
    return start, chain.w3.eth.block_number


async def ingestion(chain: LocalChain, start: int, end: int) -> tuple[int, float, float]:
    venue = await connected(chain, [pool(chain, "uniswap-v3")])
    try:
        insts = list(await venue.instruments())
        best = float("inf")
        n = 0
        for _ in range(3):
            venue._seen_hashes.clear()
            venue._seen_ticks.clear()
            venue._block_ts.clear()
            t = time.perf_counter()
            batches = await venue.poll_trades(insts, start, end)
            best = min(best, time.perf_counter() - t)
            n = sum(len(b) for b in batches)
        p = venue.pool("WETH/USD")
        logs = await venue.w3.eth.get_logs(  # type: ignore[union-attr]
            {
                "fromBlock": start,
                "toBlock": end,
                "address": p.address,
                "topics": [p.log_filter()[1]],
            }
        )
        ts = {int(lg["blockNumber"]): 0 for lg in logs}
        decode = float("inf")
        for _ in range(3):
            c = time.process_time()
            swaps = [s for s in (p.decode_swap(lg) for lg in logs) if s is not None]
            ticks_from_swaps("dex:WETH/USD", swaps, ts, p.base, p.quote)
            decode = min(decode, time.process_time() - c)
        return n, best, decode
    finally:
        await venue.close()


async def latency(chain: LocalChain, orders: int) -> list[float]:
    chain.fund(chain.wallet, Decimal(orders), Decimal(0))
    venue = await connected(chain, [pool(chain, "uniswap-v3")], approvals="unlimited")
    try:
        # The one approval first, so each timed order is one swap transaction.
        p = venue.pool("WETH/USD")
        await venue._ensure_allowance(p.base, p.spender(), 1, "bench-approve")
        out = []
        for i in range(orders):
            t = time.perf_counter()
            report = await venue.submit_order(
                Order(
                    client_order_id=f"b{i}",
                    instrument="dex:WETH/USD",
                    side=Side.SELL,
                    type=OrderType.MARKET,
                    quantity=Decimal("0.5"),
                )
            )
            out.append(time.perf_counter() - t)
            assert report.status.value == "filled", report
        return out
    finally:
        await venue.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--swaps", type=int, default=2000)
    ap.add_argument("--per-block", type=int, default=50)
    ap.add_argument("--orders", type=int, default=50)
    args = ap.parse_args()
    anvil = Anvil()
    try:
        chain = LocalChain(anvil)
        chain.deploy_all()
        os.environ[RPC_ENV] = anvil.url
        os.environ[KEY_ENV] = WALLET_KEY
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            t = time.perf_counter()
            start, end = make_swaps(chain, args.swaps, args.per_block)
            made = time.perf_counter() - t
            n, wall, decode = anyio.run(ingestion, chain, start, end)
            lat = anyio.run(latency, chain, args.orders)
    finally:
        anvil.stop()
    lat_ms = sorted(x * 1000 for x in lat)
    p95 = lat_ms[min(len(lat_ms) - 1, int(0.95 * len(lat_ms)))]
    print(f"swaps generated: {args.swaps} in {end - start + 1} blocks ({made:.1f} s)")
    print(
        f"ingestion, logs -> TickBatch (eth_getLogs over HTTP, best of 3): {n} events in "
        f"{wall * 1000:.1f} ms = {n / wall:,.0f} events/s"
    )
    print(
        f"decode only, in-memory logs -> TickBatch (CPU, best of 3): "
        f"{n / decode:,.0f} events/s ({decode / n * 1e6:.1f} us/event)"
    )
    print(
        f"quote-to-receipt, {len(lat_ms)} market swaps (anvil automine): median "
        f"{statistics.median(lat_ms):.1f} ms, p95 {p95:.1f} ms, max {lat_ms[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
