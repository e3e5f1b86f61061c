"""A backtest on the chain's own swaps: the venue replays a block range, the simulator fills.

The same scripted market as the paper run is mined first; then ``mode = "backtest"`` replays
blocks ``from_block..until_block`` through the evm venue as the instrument's data venue, with
the simulated venue executing. The preset signals on the same minute as in the paper run.
"""

from __future__ import annotations

from decimal import Decimal

import anyio
import duckdb
from evm_scenario import MINUTE, Script, write_config
from tradewind.config import load_config
from tradewind.trading.engine import Engine


def test_backtest_replays_the_pools_swaps_from_the_chain(evm, tmp_path):
    evm.fund(evm.trader, Decimal(60), Decimal(200_000))
    for token in (evm.d.weth, evm.d.usd):
        evm.send(evm.erc20(token).functions.approve(evm.d.swap_router, 2**256 - 1), evm.trader)
    latest = evm.w3.eth.get_block("latest")["timestamp"]
    t0 = (latest // (15 * MINUTE) + 1) * 15 * MINUTE
    start = evm.w3.eth.block_number + 1
    script = Script(evm, None, t0, 0)
    script.run()  # no engine to wait for: the market is mined first
    assert script.error is None, repr(script.error)
    end = evm.w3.eth.block_number

    engine = Engine(load_config(write_config(tmp_path, evm, end, backtest_from=start)))

    async def run() -> None:
        try:
            await engine.run()
        finally:
            for venue in engine.venues.values():
                await venue.close()

    anyio.run(run)
    assert engine.ticks == script.trades  # every Swap event of the range, once
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        signals = con.execute("SELECT side, intent, ts_ns FROM signals").fetchall()
        assert signals[0] == ("buy", "open", (t0 + 31 * MINUTE) * 10**9)
        orders = con.execute(
            "SELECT side, status, tag, quantity, filled_quantity FROM orders ORDER BY id_seq"
        ).fetchall()
        # The simulator fills a market order (IOC) against the size of the replayed swaps that
        # follow its arrival and cancels what they do not cover (today's sim: the small
        # scripted swaps fill a fraction of the entry). The 12 WETH sell then takes the price
        # through the 1 % trail, and the exit sells what the entry bought.
        entry, exit_ = orders[0], orders[1]
        assert entry[0] == "buy" and entry[2] == "entry"
        filled = Decimal(entry[4])
        assert Decimal(0) < filled <= Decimal(entry[3])
        assert entry[1] == ("filled" if filled == Decimal(entry[3]) else "cancelled")
        assert exit_[0] == "sell" and exit_[2].startswith("trailing: trailing stop 1.00%")
        assert Decimal(exit_[3]) == Decimal(entry[4])
        fills = con.execute("SELECT side, ts_ns FROM fills ORDER BY seq").fetchall()
        assert fills[0][0] == "buy"
        block_times = {evm.w3.eth.get_block(n)["timestamp"] * 10**9 for n in range(start, end + 1)}
        assert {ts for _, ts in fills} <= block_times  # fills at the replayed swaps' times
    finally:
        con.close()
