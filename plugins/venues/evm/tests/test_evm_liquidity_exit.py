"""The seed's rug warning on the local chain: pool liquidity down more than 30 % -> exit.

A paper host (``load_config`` + ``Engine.run``) holds WETH in its wallet: the venue reports the
holding as the spot position, and reconciliation adopts it. The venue measures the Uniswap V2
pool's liquidity at every block range it streams and publishes it as ``dex.liquidity`` (the
``"values"`` capability); the engine lets the ``liquidity`` exit read it like an analyzer value.
A scripted trader makes a trade a minute so candles close; then the pool's liquidity provider
withdraws 40 % of the pool. At the next candle close the exit fires and the host sells what the
wallet holds through the pool.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
from evm_chain import CHAIN_ID
from evm_testkit import KEY_ENV, RPC_ENV, UNISWAP_V2_INIT
from tradewind.config import load_config
from tradewind.trading.engine import Engine

D = Decimal
MINUTE = 60


def _config(folder: Path, evm: Any, from_block: int, until_block: int) -> Path:
    d = evm.d
    path = folder / "rug.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1m"]

[run]
journal = "journal.duckdb"
reporting_currency = "USD"
# The wallet's 2 WETH are a position the journal does not know: taken over, not refused.
unknown_positions = "adopt"

[[instruments]]
symbol = "WETH/USD"
venue = "dex"
kind = "spot"
tick_size = "0.000001"
lot_size = "0.0001"

[venues.dex]
plugin = "evm"
chain = "anvil"
rpc_url = "env:{RPC_ENV}"
private_key = "env:{KEY_ENV}"
tx_journal = "dex-transactions.jsonl"
poll_interval_s = 0.02
from_block = {from_block}
until_block = {until_block}

[venues.dex.chains.anvil]
chain_id = {CHAIN_ID}
native = "ETH"
wrapped_native = "{d.weth}"
block_time_s = 1.0

[venues.dex.chains.anvil.dexes.uniswap-v2]
family = "uniswap-v2"
factory = "{d.v2_factory}"
router = "{d.v2_router}"
init_code_hash = "{UNISWAP_V2_INIT}"
fee = "0.003"

[[venues.dex.pools]]
symbol = "WETH/USD"
dex = "uniswap-v2"
base = "{d.weth}"
quote = "{d.usd}"

[analyzers.regime]
plugin = "regime"
[analyzers.profile]
plugin = "profile"
[analyzers.orderflow]
plugin = "orderflow"
[analyzers.micro]
plugin = "microstructure"

[exits.liquidity]
plugin = "liquidity"
liquidity_value = "dex.liquidity"
drop_pct = 0.30
window_minutes = 10

[strategy]
preset = "orderflow-scalper"
""",
        encoding="utf-8",
    )
    return path


class Rug(threading.Thread):
    """A trade a minute on the V2 pool; at minute 3 the LP withdraws 40 % of the pool."""

    def __init__(self, evm: Any, engine: Engine, t0: int, until_block: int) -> None:
        super().__init__(daemon=True)
        self.evm, self.engine, self.t0, self.until_block = evm, engine, t0, until_block
        self.error: BaseException | None = None
        self.router = evm.contract("UniswapV2Router02", evm.d.v2_router)
        self.pair = evm.contract("UniswapV2Pair", evm.d.v2_pair)

    def at(self, ts: int) -> None:
        latest = self.evm.w3.eth.get_block("latest")["timestamp"]
        self.evm.rpc("evm_setNextBlockTimestamp", max(ts, latest + 1))

    def trade(self, ts: int) -> None:
        self.at(ts)
        d = self.evm.d
        self.evm.send(
            self.router.functions.swapExactTokensForTokens(
                20 * 10**18, 0, [d.usd, d.weth], self.evm.trader, 2**40
            ),
            self.evm.trader,
        )

    def wait(self, pred: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise TimeoutError("the engine did not react to the script in time")
            time.sleep(0.02)

    def run(self) -> None:
        evm, d = self.evm, self.evm.d
        try:
            # The host is reconciled (the position adopted) before the market moves.
            self.wait(lambda: self.engine.portfolio.positions())
            # Each trade is streamed (and the pool measured) before the next: the liquidity
            # the exit sees at each candle close is the pool's at that minute.
            for k in range(3):
                self.trade(self.t0 + k * MINUTE + 1)
                self.wait(lambda k=k: self.engine.ticks >= k + 1)
            lp = self.pair.functions.balanceOf(evm.deployer).call()
            self.at(self.t0 + 3 * MINUTE + 10)
            evm.send(self.pair.functions.approve(d.v2_router, 2**256 - 1))
            evm.send(
                self.router.functions.removeLiquidity(
                    d.weth, d.usd, lp * 2 // 5, 0, 0, evm.deployer, 2**40
                )
            )
            self.trade(self.t0 + 4 * MINUTE + 1)  # closes minute 3, after the withdrawal
            self.wait(lambda: len(self.engine.orders.fills) >= 1)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            head = evm.w3.eth.block_number
            if head < self.until_block:
                evm.mine(self.until_block - head)


def test_liquidity_down_more_than_30_pct_exits_the_position(evm, tmp_path):
    evm.fund(evm.wallet, D(2), D(0))
    evm.fund(evm.trader, D(0), D(10_000))
    evm.send(evm.erc20(evm.d.usd).functions.approve(evm.d.v2_router, 2**256 - 1), evm.trader)
    latest = evm.w3.eth.get_block("latest")["timestamp"]
    t0 = (latest // MINUTE + 2) * MINUTE
    from_block = evm.w3.eth.block_number + 1
    until_block = from_block + 40
    engine = Engine(load_config(_config(tmp_path, evm, from_block, until_block)))
    script = Rug(evm, engine, t0, until_block)

    async def run() -> None:
        script.start()
        try:
            await engine.run()
        finally:
            with anyio.CancelScope(shield=True):
                for venue in engine.venues.values():
                    await venue.close()

    anyio.run(run)
    script.join(30)
    assert script.error is None, (
        f"{script.error!r}; candles {engine.candles}, ticks {engine.ticks}, liquidity "
        f"{engine.venues['dex'].venue_values('dex:WETH/USD')}, positions "
        f"{engine.portfolio.positions()}"
    )

    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = con.execute("SELECT side, status, tag FROM orders ORDER BY id_seq").fetchall()
        fills = con.execute("SELECT side, quantity FROM fills ORDER BY seq").fetchall()
    finally:
        con.close()
    # One order: the close the liquidity exit asked for, selling the whole holding.
    assert [(side, status) for side, status, _ in orders] == [("sell", "filled")]
    assert orders[0][2].startswith("liquidity"), orders[0][2]
    assert [(side, D(qty)) for side, qty in fills] == [("sell", D(2))]
    assert evm.erc20(evm.d.weth).functions.balanceOf(evm.wallet).call() == 0
