"""A paper run on LiteSVM: the host buys and sells an SPL token through the Jupiter plugin.

The host (``load_config`` + ``Engine.run``) replays a scripted MEME/USDC tape as market data;
the strategy goes long when the 1-minute order-flow imbalance is above 1 (the tape is mostly
buying), the max-hold exit closes after 2 minutes. Execution is the Solana venue: each order is
a Jupiter swap built by the local API, checked, signed, sent to the LiteSVM RPC server, confirmed
and booked from the landed transaction's metadata. The journal's fills are then compared with
the chain: every fill equals its transaction's token balance changes, the fee equals the SOL
the wallet paid, to the lamport; the final account equals the wallet.
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


def write_tape(path: Path) -> None:
    """Ten minutes of MEME/USDC trades near 0.02: per minute four buys and one sell."""
    lines = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    n = 0
    for minute in range(10):
        for k, side in enumerate(["buy", "buy", "sell", "buy", "buy"]):
            n += 1
            ts = T0_US + minute * 60_000_000 + k * 10_000_000 + 1_000
            price = D("0.02") + D(minute % 3) / 10_000
            lines.append(f"solana,MEME/USDC,{ts},{ts},{n},{side},{price},5000")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_config(folder: Path, sol: Any) -> Path:
    write_tape(folder / "tape.csv")
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
symbol = "MEME/USDC"
venue = "sol"
data = "replay"
kind = "spot"
tick_size = "0.000001"
lot_size = "1"

[venues.replay]
plugin = "replay"
path = "tape.csv"
# Paced, a minute of tape (5 trades) per batch, 10 minutes in 5 s: a swap is sent off the
# engine's loop, so at full speed the whole tape would be replayed before the first swap lands.
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
markets = [{{ symbol = "MEME/USDC", base = "MEME", quote = "USDC", lot_size = "1" }}]
aggregator = "jupiter"
aggregator_config = {{ base_url = "{sol.jupiter.url}" }}

[venues.sol.tokens.USDC]
mint = "{m.usdc.address}"
program = "{m.usdc.program_name}"

[venues.sol.tokens.MEME]
mint = "{m.meme.address}"
program = "{m.meme.program_name}"

[analyzers.orderflow]
plugin = "orderflow"

[exits.maxhold]
plugin = "maxhold"
max_hold_minutes = 2

[strategy]
timeframe = "1m"
max_leverage = 0.2
long = [{{ value = "orderflow.imbalance_1m", op = ">", threshold = 1.0 }}]
""",
        encoding="utf-8",
    )
    return path


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_paper_run_buys_and_sells_meme_through_jupiter_and_books_the_chain(sol, tmp_path):
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
    wallet = str(sol.market.wallet.pubkey())
    meme, usdc = str(sol.market.meme.address), str(sol.market.usdc.address)
    paid_sol = 0
    for f in fills:
        landed = sol.rpc.landed[f["trade_id"]]
        meta = landed.meta

        def units(rows_: Any, mint: str) -> int:
            return sum(
                int(r["uiTokenAmount"]["amount"])
                for r in rows_
                if r["owner"] == wallet and r["mint"] == mint
            )

        d_meme = units(meta["postTokenBalances"], meme) - units(meta["preTokenBalances"], meme)
        d_usdc = units(meta["postTokenBalances"], usdc) - units(meta["preTokenBalances"], usdc)
        qty, price = D(f["quantity"]), D(f["price"])
        sign = 1 if f["side"] == "buy" else -1
        assert int(qty.scaleb(9)) == sign * d_meme
        assert int((qty * price).quantize(D("0.000001")).scaleb(6)) == -sign * d_usdc
        sol_paid = meta["preBalances"][0] - meta["postBalances"][0]
        assert int(D(f["fee"]).scaleb(9)) == sol_paid and f["fee_currency"] == "SOL"
        assert sol_paid >= meta["fee"] > 5000
        paid_sol += sol_paid
    assert start["SOL"] - end["SOL"] == paid_sol
    assert final["USDC"] == D(end["USDC"]).scaleb(-6)
    assert final["MEME"] == D(end["MEME"]).scaleb(-9)
    assert final["SOL"] == D(end["SOL"]).scaleb(-9)
    # The first buy created the wallet's MEME account: its rent is in that fill's fee.
    rent = sol.rpc.svm.minimum_balance_for_rent_exemption(170)
    first = sol.rpc.landed[fills[0]["trade_id"]].meta
    assert int(D(fills[0]["fee"]).scaleb(9)) == first["fee"] + rent
