"""The scripted market of the paper run and the backtest: a trader making the preset's signal.

See test_evm_paper_run.py for why the script looks the way it does (an AMM's fee spread as
bid and ask, small trades against a deep pool, a 1 % trailing stop, 90 % sizing).
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from evm_chain import CHAIN_ID
from evm_testkit import KEY_ENV, RPC_ENV, UNISWAP_V3_INIT

D = Decimal
MINUTE = 60


def write_config(
    folder: Path, evm: Any, until_block: int, *, backtest_from: int | None = None
) -> Path:
    """The paper config (the venue trades), or with ``backtest_from`` the backtest config:
    the venue replays blocks ``backtest_from..until_block`` and the simulated venue fills."""
    d = evm.d
    path = folder / "paper.toml"
    if backtest_from is None:
        mode, executor, wallet = (
            "paper",
            'venue = "dex"',
            (f'private_key = "env:{KEY_ENV}"\ntx_journal = "dex-transactions.jsonl"'),
        )
        sim, rng = "", ""
    else:
        mode, executor, wallet = "backtest", 'venue = "sim"\ndata = "dex"', ""
        sim = '[venues.sim]\nplugin = "sim"\nstarting_balance = "10000"\nquote_currency = "USD"\n'
        rng = f"from_block = {backtest_from}"
    path.write_text(
        f"""
mode = "{mode}"
timeframes = ["1m", "5m", "15m"]

[run]
journal = "journal.duckdb"
reporting_currency = "USD"

[[instruments]]
symbol = "WETH/USD"
{executor}
kind = "spot"
tick_size = "0.000001"
lot_size = "0.0001"
taker_fee = "0.003"

[venues.dex]
plugin = "evm"
chain = "anvil"
rpc_url = "env:{RPC_ENV}"
{wallet}
poll_interval_s = 0.02
{rng}
until_block = {until_block}

{sim}
[venues.dex.chains.anvil]
chain_id = {CHAIN_ID}
native = "ETH"
wrapped_native = "{d.weth}"
block_time_s = 1.0

[venues.dex.chains.anvil.dexes.uniswap-v3]
family = "uniswap-v3"
factory = "{d.v3_factory}"
quoter_v2 = "{d.quoter_v2}"
swap_router02 = "{d.swap_router02}"
init_code_hash = "{UNISWAP_V3_INIT}"
fee_tiers = [500, 3000, 10000]

[[venues.dex.pools]]
symbol = "WETH/USD"
dex = "uniswap-v3"
base = "{d.weth}"
quote = "{d.usd}"
fee_tier = 3000

[analyzers.regime]
plugin = "regime"
[analyzers.profile]
plugin = "profile"
[analyzers.orderflow]
plugin = "orderflow"
[analyzers.micro]
plugin = "microstructure"

[exits.trailing]
plugin = "trailing"
trail_pct = 0.01

[exits.maxhold]
plugin = "maxhold"
max_hold_minutes = 30

[strategy]
preset = "orderflow-scalper"
composition = "confluence"
# A swap pays the pool fee and its price impact on top of the quoted price: sized at 100 % of
# the cash, a spot buy would need more than the wallet holds.
max_leverage = 0.9
""",
        encoding="utf-8",
    )
    return path


class Script(threading.Thread):
    """The trader: swaps at scripted chain times, waiting on the engine where it must."""

    def __init__(self, evm: Any, engine: Any, t0: int, until_block: int) -> None:
        super().__init__(daemon=True)
        self.evm, self.engine, self.t0, self.until_block = evm, engine, t0, until_block
        self.error: BaseException | None = None
        self.trades = 0

    def at(self, ts: int) -> None:
        latest = self.evm.w3.eth.get_block("latest")["timestamp"]
        self.evm.rpc("evm_setNextBlockTimestamp", max(ts, latest + 1))

    def buy(self, ts: int, weth: str) -> None:
        self.at(ts)
        # Spend the USD that ~weth WETH costs (exact-input swaps, like every taker here).
        self.evm.trader_swap_v3(False, D(weth) * D(2000), approve=False)
        self.trades += 1

    def sell(self, ts: int, weth: str) -> None:
        self.at(ts)
        self.evm.trader_swap_v3(True, D(weth), approve=False)
        self.trades += 1

    def wait(self, pred: Any, timeout: float = 60.0) -> None:
        if self.engine is None:  # a backtest: the script runs before the engine
            return
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise TimeoutError("the engine did not react to the script in time")
            time.sleep(0.02)

    def run(self) -> None:
        try:
            t0, q = self.t0, "0.01"
            for k in range(30):
                s = t0 + k * MINUTE
                if k % 2 == 0:  # closes on a buy: high
                    self.sell(s + 1, q), self.buy(s + 15, q), self.sell(s + 30, q)
                    self.buy(s + 50, q)
                else:  # closes on a sell: low
                    self.buy(s + 1, q), self.sell(s + 15, q), self.buy(s + 30, q)
                    self.sell(s + 50, q)
            s = t0 + 30 * MINUTE
            self.buy(s + 1, "0.05")
            self.sell(s + 5, "0.02")
            self.buy(s + 20, "0.1"), self.buy(s + 40, "0.1"), self.buy(s + 55, "0.1")
            m31 = t0 + 31 * MINUTE
            self.buy(m31 + 1, "0.01")  # closes the signal minute
            self.wait(lambda: len(self.engine.orders.fills) >= 1)
            self.buy(m31 + 20, "0.5"), self.buy(m31 + 25, "0.5")
            self.sell(m31 + 40, "12")  # through the 1 % trailing stop
            self.wait(lambda: len(self.engine.orders.fills) >= 2)
            self.buy(m31 + 55, "0.01")
            head = self.evm.w3.eth.block_number
            if head < self.until_block:
                self.evm.mine(self.until_block - head)
        except BaseException as exc:  # reported by the test
            self.error = exc
            head = self.evm.w3.eth.block_number
            if head < self.until_block:
                self.evm.mine(self.until_block - head)
