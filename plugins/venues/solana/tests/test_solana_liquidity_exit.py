"""The seed's rug warning on LiteSVM: the pool's liquidity down more than 30 % -> exit.

A paper host (``load_config`` + ``Engine.run``) holds MEME in its wallet: the venue reports the
holding as the spot position, and reconciliation adopts it. The venue streams the pool's swaps
(the market maker's vault accounts) as trades and measures its liquidity at every poll,
published as ``sol.liquidity`` (capability ``"values"``) for the ``liquidity`` exit. A scripted
third party trades once a minute (the RPC server's block times follow the script) so candles
close; then the market maker withdraws 40 % of both vaults. At the next candle close the exit
fires and the host sells what the wallet holds, through Jupiter, on the VM.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
from sol_testkit import KEY_ENV, RPC_ENV
from spl.token.instructions import transfer_checked
from spl.token.models import TransferCheckedParams
from tradewind.config import load_config
from tradewind.trading.engine import Engine

D = Decimal
MINUTE = 60


def _config(folder: Path, sol: Any, until_slot: int) -> Path:
    m = sol.market
    path = folder / "rug.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1m"]

[run]
journal = "journal.duckdb"
reporting_currency = "USDC"
unknown_positions = "adopt"

[[instruments]]
symbol = "MEME/USDC"
venue = "sol"
kind = "spot"
tick_size = "0.000001"
lot_size = "1"

[venues.sol]
plugin = "solana"
rpc_url = "env:{RPC_ENV}"
keypair = "env:{KEY_ENV}"
poll_interval_s = 0.02
until_slot = {until_slot}
tx_journal = "sol-transactions.jsonl"
markets = [{{ symbol = "MEME/USDC", base = "MEME", quote = "USDC", lot_size = "1" }}]
aggregator = "jupiter"
aggregator_config = {{ base_url = "{sol.jupiter.url}" }}

[[venues.sol.pools]]
symbol = "MEME/USDC"
base_vault = "{m.ata(m.maker.pubkey(), m.meme)}"
quote_vault = "{m.ata(m.maker.pubkey(), m.usdc)}"

[venues.sol.tokens.USDC]
mint = "{m.usdc.address}"
program = "{m.usdc.program_name}"

[venues.sol.tokens.MEME]
mint = "{m.meme.address}"
program = "{m.meme.program_name}"

[analyzers.orderflow]
plugin = "orderflow"

[exits.liquidity]
plugin = "liquidity"
liquidity_value = "sol.liquidity"
drop_pct = 0.30
window_minutes = 10

[strategy]
timeframe = "1m"
long = [{{ value = "orderflow.imbalance_1m", op = ">", threshold = 1e12 }}]
""",
        encoding="utf-8",
    )
    return path


class Rug(threading.Thread):
    """A trade a minute; at minute 3 the market maker withdraws 40 % of its vaults."""

    def __init__(self, sol: Any, engine: Engine, t0: int, until_slot: int) -> None:
        super().__init__(daemon=True)
        self.sol, self.engine, self.t0, self.until_slot = sol, engine, t0, until_slot
        self.error: BaseException | None = None
        self.trader = sol.new_trader()

    def trade(self, ts: int) -> None:
        self.sol.rpc.next_block_time = ts
        self.sol.trader_swap(self.trader, "buy", 10 * 10**9)

    def wait(self, pred: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise TimeoutError("the engine did not react to the script in time")
            time.sleep(0.02)

    def withdraw(self, share: Decimal) -> None:
        m = self.sol.market
        away = m.authority.pubkey()
        for mint in (m.meme, m.usdc):
            m.mint_to(away, mint, 0)  # the destination account
            held = self.sol.rpc.token_amount(m.maker.pubkey(), mint.address)
            m.send(
                m.maker,
                [
                    transfer_checked(
                        TransferCheckedParams(
                            program_id=mint.program,
                            source=m.ata(m.maker.pubkey(), mint),
                            mint=mint.address,
                            dest=m.ata(away, mint),
                            owner=m.maker.pubkey(),
                            amount=int(held * share),
                            decimals=mint.decimals,
                        )
                    )
                ],
                [],
            )

    def run(self) -> None:
        try:
            self.wait(lambda: self.engine.portfolio.positions())
            for k in range(3):
                self.trade(self.t0 + k * MINUTE + 1)
                self.wait(lambda k=k: self.engine.ticks >= k + 1)
            self.withdraw(D("0.4"))
            self.trade(self.t0 + 4 * MINUTE + 1)  # closes minute 3, after the withdrawal
            self.wait(lambda: len(self.engine.orders.fills) >= 1)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            rpc = self.sol.rpc
            if rpc.slot < self.until_slot:
                rpc.advance(self.until_slot - rpc.slot)


def test_liquidity_down_more_than_30_pct_exits_the_position(sol, tmp_path):
    m = sol.market
    m.mint_to(m.wallet.pubkey(), m.meme, 2000 * 10**9)
    t0 = 1_800_000_000 - 1_800_000_000 % MINUTE + 2 * MINUTE
    until_slot = sol.rpc.slot + 400
    engine = Engine(load_config(_config(tmp_path, sol, until_slot)))
    script = Rug(sol, engine, t0, until_slot)

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
        f"{engine.venues['sol'].venue_values('sol:MEME/USDC')}, positions "
        f"{engine.portfolio.positions()}"
    )
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = con.execute("SELECT side, status, tag FROM orders ORDER BY id_seq").fetchall()
        fills = con.execute("SELECT side, quantity FROM fills ORDER BY seq").fetchall()
    finally:
        con.close()
    assert [(side, status) for side, status, _ in orders] == [("sell", "filled")]
    assert orders[0][2].startswith("liquidity"), orders[0][2]
    assert [(side, D(qty)) for side, qty in fills] == [("sell", D(2000))]
    assert sol.rpc.token_amount(m.wallet.pubkey(), m.meme.address) == 0
