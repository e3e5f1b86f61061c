"""Solana venue: quote-to-confirmed latency on LiteSVM, and pool decode + quote throughput.

python bench/bench_solana.py [--orders N] [--quotes N]

Run it as ``python3 -m tox -e bench-solana`` (the env installs the venue, the Jupiter plugin
and the npm SDKs whose golden vectors supply the pool states). Two measurements:

1. quote-to-confirmed: ``--orders`` market orders (alternating buy and sell of MEME/USDC)
   through ``SolanaVenue.submit_order``, with the test kit's LiteSVM JSON-RPC server and local
   Jupiter API on 127.0.0.1: Jupiter ``/quote`` and ``/swap`` (which simulates the transaction to
   size its compute units), the pre-sign check, signing, the fsynced signature journal,
   ``sendTransaction`` executed by the real SPL programs, status polls until ``confirmed``,
   ``getTransaction`` and the fill. Wall time per order, median and 95th percentile. A real
   cluster adds its slot time (~400 ms to confirmed) and network round trips to this.
2. pool decode + quote: the Whirlpool states of golden/whirlpool_vectors.mjs and the Raydium
   states of golden/raydium_vectors.cjs (account bytes from the official SDKs): decode the
   accounts and quote each vector's swap, per second (CPU time, best of 3).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "plugins" / "venues" / "solana" / "testkit"
GOLDEN = ROOT / "plugins" / "venues" / "solana" / "tests" / "golden"
sys.path.insert(0, str(KIT))

from sol_testkit import start_solana  # noqa: E402
from solders.pubkey import Pubkey  # noqa: E402
from tradewind.model import Order, OrderStatus, OrderType, Side  # noqa: E402
from tradewind_venue_solana import raydium as ray  # noqa: E402
from tradewind_venue_solana import whirlpool as wp  # noqa: E402


def bench_orders(n: int) -> list[float]:
    """Wall seconds per market order, quote to confirmed fill."""
    env = start_solana()
    for k, v in env.environ().items():
        os.environ[k] = v
    old = Path.cwd()
    tmp = tempfile.mkdtemp(prefix="bench-solana-")
    os.chdir(tmp)
    times: list[float] = []

    async def go() -> None:
        venue = await env.venue(poll_interval_s=0.002)
        try:
            for i in range(n):
                side = Side.BUY if i % 2 == 0 else Side.SELL
                order = Order(
                    client_order_id=f"b{i}",
                    instrument="sol:MEME/USDC",
                    side=side,
                    type=OrderType.MARKET,
                    quantity=Decimal(100),
                )
                t0 = time.perf_counter()
                report = await venue.submit_order(order)
                times.append(time.perf_counter() - t0)
                assert report.status is OrderStatus.FILLED, report.reason
        finally:
            await venue.close()

    try:
        anyio.run(go)
    finally:
        os.chdir(old)
        env.stop()
    return times


def bench_pools(npm: str, rounds: int) -> tuple[float, float, int, int]:
    """(Whirlpool, Raydium) decode + quote per second, and how many quotes each round ran."""
    wv = json.loads(
        subprocess.run(
            ["node", str(GOLDEN / "whirlpool_vectors.mjs"), npm],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    rv = json.loads(
        subprocess.run(
            ["node", str(GOLDEN / "raydium_vectors.cjs"), npm],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    w_cases = [(s, q) for s in wv["states"] for q in s["quotes"] if "error" not in q]
    r_cases = [(s, q) for s in rv["v4"] for q in s["quotes"]]
    c_cases = [(s, q) for s in rv["cpmm"] for q in s["quotes"]]

    def whirl() -> None:
        for s, q in w_cases:
            pool = wp.decode_whirlpool(
                Pubkey.from_string(s["address"]), base64.b64decode(s["data"])
            )
            arrays = [
                wp.decode_tick_array(Pubkey.from_string(a["address"]), base64.b64decode(a["data"]))
                for a in s["tick_arrays"]
            ]
            wp.quote(
                pool,
                arrays,
                int(q["amount"]),
                by_input=q["by_input"],
                a_to_b=q["a_to_b"],
                slippage_bps=75,
            )

    def raydium() -> None:
        for s, q in r_cases:
            pool = ray.decode_amm_v4(Pubkey.from_string(s["address"]), base64.b64decode(s["data"]))
            res = ray.amm_v4_reserves(pool, int(s["vault_base"]), int(s["vault_quote"]))
            ray.amm_v4_quote_in(res, int(q["amount"]), base_in=q["base_in"], slippage=0.005)
        for s, q in c_cases:
            pool = ray.decode_cpmm_pool(
                Pubkey.from_string(s["address"]), base64.b64decode(s["data"])
            )
            cfg = ray.decode_cpmm_config(pool.config, base64.b64decode(s["config"]))
            res = ray.cpmm_reserves(pool, int(s["vault_a"]), int(s["vault_b"]))
            ray.cpmm_quote_in(
                res,
                cfg,
                int(q["amount"]),
                a_in=q["a_in"],
                creator_fee_on_input=s["fields"]["creator_fee_on_input"],
            )

    def rate(fn, count: int) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            for _ in range(rounds):
                fn()
            best = min(best, time.process_time() - t0)
        return count * rounds / best

    return (
        rate(whirl, len(w_cases)),
        rate(raydium, len(r_cases) + len(c_cases)),
        len(w_cases),
        len(r_cases) + len(c_cases),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=60)
    ap.add_argument("--quotes", type=int, default=20, help="rounds over the vectors")
    args = ap.parse_args()
    npm = os.environ.get("TRADEWIND_SOLANA_NPM")
    if not npm:
        sys.exit("TRADEWIND_SOLANA_NPM is not set: run python3 -m tox -e bench-solana")
    times = bench_orders(args.orders)
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(
        f"quote-to-confirmed on LiteSVM: {len(ms)} orders, median "
        f"{statistics.median(ms):.1f} ms, p95 {p95:.1f} ms"
    )
    w_rate, r_rate, w_n, r_n = bench_pools(npm, args.quotes)
    print(
        f"Whirlpool decode + quote: {w_rate:,.0f}/s ({w_n} vectors x {args.quotes} rounds, "
        "best of 3, CPU time)"
    )
    print(
        f"Raydium AMM v4 + CPMM decode + quote: {r_rate:,.0f}/s ({r_n} vectors x "
        f"{args.quotes} rounds, best of 3, CPU time)"
    )


if __name__ == "__main__":
    main()
