"""A paper host whose watchlist drives the instrument set, streaming the local chain's pool:
the engine unsubscribes the pool while it is off the watchlist (its swaps are never read),
subscribes it when an operator adds it, and unsubscribes it again when it is removed."""

from __future__ import annotations

from contextlib import asynccontextmanager
from decimal import Decimal

import anyio
from evm_scenario import write_config
from tradewind.config import load_config
from tradewind.trading.engine import Engine
from tradewind.trading.operator import Operator

D = Decimal
KEY = "dex:WETH/USD"


def test_the_watchlist_subscribes_and_unsubscribes_the_pools_swaps(evm, tmp_path):
    evm.fund(evm.wallet, D(0), D(1_000))
    evm.fund(evm.trader, D(10), D(10_000))
    evm.send(evm.erc20(evm.d.weth).functions.approve(evm.d.swap_router, 2**256 - 1), evm.trader)
    until_block = evm.w3.eth.block_number + 200
    path = write_config(tmp_path, evm, until_block)
    path.write_text(
        path.read_text(encoding="utf-8") + "\n[watchlist]\ndrives_instruments = true\n",
        encoding="utf-8",
    )
    engine = Engine(load_config(path))
    blocks: dict[str, int] = {}

    async def swap(name: str) -> None:
        receipt = await anyio.to_thread.run_sync(
            lambda: evm.trader_swap_v3(True, D("0.01"), approve=False)
        )
        blocks[name] = int(receipt["blockNumber"])

    async def until(pred, timeout: float = 30.0) -> None:
        with anyio.fail_after(timeout):
            while not pred():
                await anyio.sleep(0.02)

    async def script(eng: Engine) -> None:
        wl = Operator.of(eng).watchlist
        venue = eng.venues["dex"]

        def read_past(block: int) -> bool:  # the venue's stream has read up to ``block``
            return bool(venue._seen_hashes) and max(venue._seen_hashes) >= block

        # Once the stream runs (it reads blocks mined after it started), a swap while the pool
        # is off the watchlist.
        with anyio.fail_after(30):
            while not venue._seen_hashes:
                await anyio.to_thread.run_sync(evm.mine)
                await anyio.sleep(0.1)
        await swap("off")
        await until(lambda: read_past(blocks["off"]))
        wl.add(exchange="dex", market_type="spot", symbol="WETH/USD", caller="test")
        await swap("on")
        await until(lambda: eng.ticks >= 1)
        wl.remove(KEY, caller="test")
        await swap("removed")
        await until(lambda: read_past(blocks["removed"]))
        await anyio.to_thread.run_sync(lambda: evm.mine(until_block - evm.w3.eth.block_number))

    @asynccontextmanager
    async def operator(eng):
        async with anyio.create_task_group() as tg:
            tg.start_soon(script, eng)
            yield

    engine.services.append(operator)

    async def run() -> None:
        try:
            await engine.run()
        finally:
            with anyio.CancelScope(shield=True):
                for venue in engine.venues.values():
                    await venue.close()

    anyio.run(run)
    subs = Operator.of(engine).watchlist.subscriptions
    assert [(a, k) for _, a, k in subs.log] == [
        ("unsubscribe", KEY),
        ("subscribe", KEY),
        ("unsubscribe", KEY),
    ]
    # Exactly one trade reached the engine: the swap made while the pool was on the list.
    assert engine.ticks == 1
    assert engine.state[KEY].last_ts == evm.w3.eth.get_block(blocks["on"])["timestamp"] * 10**9
    assert engine.venues["dex"].unsubscribed == {KEY}
