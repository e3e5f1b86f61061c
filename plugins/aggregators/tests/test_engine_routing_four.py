"""Issue 12's first statement at the engine, not the router: a paper run with all four
aggregators configured routes each order to the one with the best net quote, executes it on
the local chain, and its journal holds every aggregator's quote and the realised fill; when
that aggregator errors (HTTP 500, 429, timeout, malformed body) the next one is used and the
failure is journaled.

The run is the EVM venue's paper run (test_evm_paper_run.py: the orderflow-scalper preset on
the local chain's Uniswap V3 pool, a scripted trader making the market), as in
test_engine_routing.py, with the four local aggregator servers. All four route through the real
V3 SwapRouter on the run's own pool (so each quotes the same gross output) and declare
different gas: 0x the least, so its net output is the best; then 1inch, ParaSwap, Odos. The
venue's own pool (``direct``, SwapRouter02) quotes too.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import anyio
import duckdb
import pytest
from agg_servers import AggServer, Backend, Behaviour, serve
from agg_setup import KEY_ENV, TEST_KEY
from evm_chain import CHAIN_ID
from evm_scenario import MINUTE, Script, write_config
from tradewind.config import load_config
from tradewind.trading.engine import Engine

D = Decimal

#: Declared gas per aggregator: 0x's route is the cheapest, so it has the best net output.
GAS = {"zeroex": 100_000, "oneinch": 110_000, "paraswap": 120_000, "odos": 130_000}
AGGREGATORS = set(GAS)

#: What the journaled error of each failure says (the plugin's clear error, never the key).
SAYS = {"500": "HTTP 500", "429": "HTTP 429", "timeout": "timeout", "malformed": "not JSON"}


class FailingInTurn(AggServer):
    """An aggregator server whose n-th request fails the n-th way of ``fails``: each order
    asks it once (a failed first request ends that aggregator's part in the order), so the
    run's entry meets the first failure and its exit the second."""

    def __init__(self, kind: str, backend: Backend, behaviour: Behaviour, fails: list[str]):
        super().__init__(kind, backend, behaviour)
        self.fails = fails

    async def _gate(self, request: Any) -> Any:
        n = len(self.requests)
        self.b.fail = self.fails[n] if n < len(self.fails) else None
        return await super()._gate(request)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(args))
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _aggregator_tables(servers: dict[str, AggServer], backend: Backend) -> str:
    out = []
    for key, server in servers.items():
        venue = server.b.venue
        out.append(
            f'[aggregators.{key}]\nplugin = "{key}"\napi_key = "env:{KEY_ENV}"\n'
            f'base_url = "{server.url}"\nchains = [{CHAIN_ID}]\ntimeout_s = 3.0\n'
            f"max_retries = 0\nmax_retry_after_s = 1.0\n"
            f'routers = {{ "{CHAIN_ID}" = [{{ address = "{backend.router(venue)}", '
            f'family = "{backend.family(venue)}" }}] }}\n'
        )
    out.append(f'[routing]\ndeadline_s = 3.0\n[routing.chains.{CHAIN_ID}]\nmode = "best"\n')
    return "\n".join(out)


def _paper_run(evm: Any, tmp_path: Any, servers: dict[str, AggServer], backend: Backend) -> None:
    evm.fund(evm.wallet, D(0), D(10_000))
    evm.fund(evm.trader, D(60), D(200_000))
    for token in (evm.d.weth, evm.d.usd):
        evm.send(evm.erc20(token).functions.approve(evm.d.swap_router, 2**256 - 1), evm.trader)
    latest = evm.w3.eth.get_block("latest")["timestamp"]
    t0 = (latest // (15 * MINUTE) + 1) * 15 * MINUTE
    until_block = evm.w3.eth.block_number + 400
    state: dict[str, Any] = {}

    async def run() -> None:
        async with contextlib.AsyncExitStack() as stack:
            for s in servers.values():
                await stack.enter_async_context(serve(s))
            path = write_config(tmp_path, evm, until_block)
            with path.open("a", encoding="utf-8") as f:
                f.write("\n" + _aggregator_tables(servers, backend))
            engine = Engine(load_config(path))
            script = state["script"] = Script(evm, engine, t0, until_block)
            script.start()
            try:
                await engine.run()
            finally:
                with anyio.CancelScope(shield=True):
                    for venue in engine.venues.values():
                        await venue.close()

    anyio.run(run)
    script = state["script"]
    script.join(30)
    assert script.error is None, repr(script.error)


def _check_routed(evm: Any, tmp_path: Any, winner: str) -> list[dict[str, dict[str, Any]]]:
    """Both orders filled through ``winner`` on chain, every source's quote journaled, the
    fill the realised output; returns each order's quotes by aggregator."""
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = _rows(con, "SELECT * FROM orders ORDER BY id_seq")
        assert [(o["side"], o["status"]) for o in orders] == [("buy", "filled"), ("sell", "filled")]
        fills = _rows(con, "SELECT * FROM fills ORDER BY seq")
        quotes = _rows(con, "SELECT * FROM quotes ORDER BY client_order_id, rank")
    finally:
        con.close()
    # One fill per order, no order sent twice.
    assert [f["client_order_id"] for f in fills] == [o["client_order_id"] for o in orders]
    out = []
    for order, fill in zip(orders, fills, strict=True):
        cid = order["client_order_id"]
        mine = {q["aggregator"]: q for q in quotes if q["client_order_id"] == cid}
        # Every aggregator configured, and the venue's own pool, has its row.
        assert set(mine) == AGGREGATORS | {"direct"}
        chosen = mine[winner]
        assert chosen["rank"] == 1 and chosen["status"] == "filled"
        offered = {k: q for k, q in mine.items() if q["status"] != "failed"}
        assert max(offered, key=lambda k: int(offered[k]["net_out"])) == winner
        assert all(q["status"] in ("not_tried", "failed") for k, q in mine.items() if k != winner)
        # Executed on chain through the winner's router: the fill is that transaction, and
        # its quantity (a buy) or proceeds (a sell) are exactly the realised output.
        receipt = evm.w3.eth.get_transaction_receipt(chosen["tx_hash"])
        assert receipt["status"] == 1
        assert receipt["to"].lower() == evm.d.swap_router.lower()
        assert fill["trade_id"] == chosen["tx_hash"]
        realised = int(chosen["realised_out"])
        qty, price = D(fill["quantity"]), D(fill["price"])
        if order["side"] == "buy":
            assert realised == int(qty.scaleb(18))
        else:
            assert realised == int((qty * price).quantize(D(1).scaleb(-18)).scaleb(18))
        assert realised >= int(chosen["min_buy_amount"])
        out.append(mine)
    return out


def test_four_aggregators_the_best_net_quote_is_executed_and_every_quote_journaled(
    agg_chain, tmp_path, monkeypatch
):
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    backend = Backend(agg_chain)
    servers = {k: AggServer(k, backend, Behaviour(venue="v3", gas=g)) for k, g in GAS.items()}
    _paper_run(agg_chain, tmp_path, servers, backend)
    for mine in _check_routed(agg_chain, tmp_path, "zeroex"):
        # All four quoted the same pool: the declared gas alone orders their net outputs.
        assert {int(mine[k]["buy_amount"]) for k in AGGREGATORS} == {
            int(mine["zeroex"]["buy_amount"])
        }
        nets = [int(mine[k]["net_out"]) for k in ("zeroex", "oneinch", "paraswap", "odos")]
        assert nets == sorted(nets, reverse=True) and len(set(nets)) == 4
        assert [mine[k]["rank"] for k in ("zeroex", "oneinch", "paraswap", "odos")] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "fails", [["500", "timeout"], ["429", "malformed"]], ids=["500-timeout", "429-malformed"]
)
def test_when_the_best_aggregator_errors_the_engine_uses_the_next_and_journals_why(
    agg_chain, tmp_path, monkeypatch, fails
):
    """0x, the best net quote, fails the entry one way and the exit another: 1inch, the next
    best, carries both orders; 0x's rows say what went wrong."""
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    backend = Backend(agg_chain)
    servers: dict[str, AggServer] = {
        k: AggServer(k, backend, Behaviour(venue="v3", gas=g)) for k, g in GAS.items()
    }
    servers["zeroex"] = FailingInTurn(
        "zeroex",
        backend,
        Behaviour(venue="v3", gas=GAS["zeroex"], sleep_s=4.0, retry_after="30"),
        fails,
    )
    _paper_run(agg_chain, tmp_path, servers, backend)
    assert len(servers["zeroex"].requests) == 2  # asked once per order, never again
    for mine, fail in zip(_check_routed(agg_chain, tmp_path, "oneinch"), fails, strict=True):
        failed = mine["zeroex"]
        assert failed["status"] == "failed" and failed["buy_amount"] is None
        assert SAYS[fail] in failed["error"], failed["error"]
        assert TEST_KEY not in failed["error"]
