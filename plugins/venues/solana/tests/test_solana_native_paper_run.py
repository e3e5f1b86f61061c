"""A paper run on LiteSVM trading native SOL: the host buys and sells SOL/USDC (SOL the base,
and the fee currency) through the Jupiter plugin.

As in test_solana_paper_run.py: the host replays a scripted SOL/USDC tape, the strategy goes
long on order-flow imbalance, the max-hold exit sells after 2 minutes. Each swap wraps or
unwraps SOL in its own transaction. The journal's fills are compared with the chain: the SOL
traded plus the fee is the wallet's lamport change of the transaction, the USDC leg its token
change, to the unit; the final account equals the wallet, to the lamport.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
from sol_testkit import KEY_ENV, RPC_ENV
from tradewind.config import load_config
from tradewind.trading.engine import Engine

D = Decimal
T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def write_config(folder: Path, sol: Any) -> Path:
    lines = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    n = 0
    for minute in range(10):
        for k, side in enumerate(["buy", "buy", "sell", "buy", "buy"]):
            n += 1
            ts = T0_US + minute * 60_000_000 + k * 10_000_000 + 1_000
            lines.append(f"solana,SOL/USDC,{ts},{ts},{n},{side},{150 + minute % 3},2")
    (folder / "tape.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    m = sol.market
    path = folder / "paper.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1m"]

[run]
journal = "journal.duckdb"
reporting_currency = "USDC"

[[instruments]]
symbol = "SOL/USDC"
venue = "sol"
data = "replay"
kind = "spot"
tick_size = "0.000001"
lot_size = "0.001"

[venues.replay]
plugin = "replay"
path = "tape.csv"
speed = 120
chunk_ticks = 5

[venues.sol]
plugin = "solana"
rpc_url = "env:{RPC_ENV}"
keypair = "env:{KEY_ENV}"
commitment = "confirmed"
priority_fee_micro_lamports = 5000
poll_interval_s = 0.01
tx_journal = "sol-transactions.jsonl"
sol_reserve = "2"                 # the wallet's 2 SOL are its fee float, not a position
markets = [{{ symbol = "SOL/USDC", base = "SOL", quote = "USDC", lot_size = "0.001" }}]
aggregator = "jupiter"
aggregator_config = {{ base_url = "{sol.jupiter.url}" }}

[venues.sol.tokens.USDC]
mint = "{m.usdc.address}"
program = "{m.usdc.program_name}"

[analyzers.orderflow]
plugin = "orderflow"

[exits.maxhold]
plugin = "maxhold"
max_hold_minutes = 2

[strategy]
timeframe = "1m"
max_leverage = 0.02
long = [{{ value = "orderflow.imbalance_1m", op = ">", threshold = 1.0 }}]
""",
        encoding="utf-8",
    )
    return path


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_paper_run_buys_and_sells_sol_and_books_the_lamports(sol, tmp_path):
    m = sol.market
    sol.jupiter.add_pair(m.sol, m.usdc, D("150"))
    engine = Engine(load_config(write_config(tmp_path, sol)))
    start = sol.wallet_units()

    async def run() -> None:
        try:
            await engine.run()
        finally:
            with anyio.CancelScope(shield=True):
                for venue in engine.venues.values():
                    await venue.close()

    anyio.run(run)
    end = sol.wallet_units()
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = rows(con, "SELECT * FROM orders ORDER BY id_seq")
        fills = rows(con, "SELECT * FROM fills ORDER BY seq")
        final = {
            r["asset"]: D(r["amount"])
            for r in rows(
                con,
                "SELECT asset, amount FROM account_balances WHERE venue = 'sol' "
                "AND reason = 'final'",
            )
        }
    finally:
        con.close()
    sides = [o["side"] for o in orders]
    assert "buy" in sides and "sell" in sides, orders
    assert all(o["status"] == "filled" for o in orders), orders
    assert len(fills) == len(orders) >= 2
    wallet = str(m.wallet.pubkey())
    usdc = str(m.usdc.address)
    for f in fills:
        meta = sol.rpc.landed[f["trade_id"]].meta

        def units(rows_: Any, mint: str) -> int:
            return sum(
                int(r["uiTokenAmount"]["amount"])
                for r in rows_
                if r["owner"] == wallet and r["mint"] == mint
            )

        d_usdc = units(meta["postTokenBalances"], usdc) - units(meta["preTokenBalances"], usdc)
        d_lamports = meta["postBalances"][0] - meta["preBalances"][0]
        qty, price, fee = D(f["quantity"]), D(f["price"]), D(f["fee"])
        sign = 1 if f["side"] == "buy" else -1
        # SOL: the quantity traded less the fee is the wallet's lamport change, exactly.
        assert int((sign * qty - fee).scaleb(9)) == d_lamports
        assert int(fee.scaleb(9)) == meta["fee"] > 5000 and f["fee_currency"] == "SOL"
        assert int((qty * price).quantize(D("0.000001")).scaleb(6)) == -sign * d_usdc
    assert end["WSOL"] == 0
    assert final["USDC"] == D(end["USDC"]).scaleb(-6)
    assert final["SOL"] == D(end["SOL"]).scaleb(-9)
    assert start["SOL"] != end["SOL"]
