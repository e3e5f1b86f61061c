"""The best-execution router end to end on the local anvil chain: four aggregators behind
local servers speaking their APIs, each quoting and building its transaction with the real
Uniswap routers; the chosen transaction goes through the EVM venue (approval, nonce, receipt,
fill); every quote lands in the journal's ``quotes`` table."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from agg_route import market, quotes, routed
from agg_servers import ATTACKER, Behaviour
from agg_setup import KEY_ENV, TEST_KEY
from tradewind.execution.router import RoutingFailed

GWEI = 10**9


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, TEST_KEY)


def _usd(chain) -> int:
    return int(chain.erc20(chain.d.usd).functions.balanceOf(chain.wallet).call())


def _wallet_txs(chain, since: int) -> list:
    out = []
    for n in range(since + 1, chain.w3.eth.block_number + 1):
        for tx in chain.w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"].lower() == chain.wallet.lower():
                out.append(tx)
    return out


async def _route(r, cid: str, gas_price_wei: int = GWEI):
    order = market(cid)
    request = await r.executor.request_for(order)
    mark = await r.venue.mid_price("dex:WETH/USD")
    return await r.router.execute(request, gas_price_wei=gas_price_wei, out_per_native=mark)


def test_the_best_net_quote_of_four_is_executed_on_chain_and_every_quote_journaled(
    agg_chain, tmp_path
):
    chain = agg_chain
    chain.fund(chain.wallet, Decimal(3), Decimal(0))
    start_block = chain.w3.eth.block_number
    usd_before = _usd(chain)

    async def go():
        async with routed(chain, tmp_path) as r:
            result = await _route(r, "best-1")
            fills = await r.venue.fetch_fills("dex:WETH/USD", "best-1")
            return result, fills, quotes(r.journal, "best-1")

    result, fills, rows = anyio.run(go)
    # ParaSwap's server routes through the pool that prices WETH highest.
    assert result.chosen == "paraswap"
    assert set(rows) == {"oneinch", "zeroex", "paraswap", "odos", "direct"}
    nets = {k: int(v["net_out"]) for k, v in rows.items()}
    assert nets["paraswap"] == max(nets.values())
    assert rows["paraswap"]["status"] == "filled" and rows["paraswap"]["rank"] == 1
    assert all(rows[k]["status"] == "not_tried" for k in rows if k != "paraswap")
    # Realised on chain: the wallet's USD grew by exactly what the journal says was realised,
    # and the swap went to the fork router ParaSwap's server called.
    realised = int(rows["paraswap"]["realised_out"])
    assert abs((_usd(chain) - usd_before) - realised) <= 1
    assert realised >= int(rows["paraswap"]["buy_amount"]) * 995 // 1000
    receipt = chain.w3.eth.get_transaction_receipt(rows["paraswap"]["tx_hash"])
    assert receipt["status"] == 1
    assert receipt["to"].lower() == chain.d.fork_router.lower()
    assert len(fills) == 1 and fills[0].quantity == Decimal(1)
    sent = _wallet_txs(chain, start_block)
    assert [t["to"].lower() for t in sent] == [
        chain.d.weth.lower(),  # the approval
        chain.d.fork_router.lower(),
    ]


@pytest.mark.parametrize("fail", ["500", "429", "timeout", "malformed"])
def test_when_the_best_aggregator_fails_the_next_is_used_and_the_failure_journaled(
    agg_chain, tmp_path, fail
):
    chain = agg_chain
    chain.fund(chain.wallet, Decimal(3), Decimal(0))
    behaviours = {"paraswap": Behaviour(venue="fork", fail=fail, sleep_s=2.5)}

    async def go():
        async with routed(chain, tmp_path, behaviours, deadline_s=1.0) as r:
            result = await _route(r, "fb-1")
            return result, quotes(r.journal, "fb-1")

    result, rows = anyio.run(go)
    failed = rows["paraswap"]
    assert failed["status"] == "failed" and failed["buy_amount"] is None
    expected = {
        "500": "HTTP 500",
        "429": "HTTP 429",
        "timeout": "timeout",
        "malformed": "not JSON",
    }[fail]
    assert expected in failed["error"]
    assert TEST_KEY not in failed["error"]
    ok = {k: v for k, v in rows.items() if v["status"] != "failed"}
    best = max(ok, key=lambda k: int(ok[k]["net_out"]))
    assert result.chosen == best != "paraswap"
    assert rows[best]["status"] == "filled" and rows[best]["rank"] == 1
    assert chain.w3.eth.get_transaction_receipt(rows[best]["tx_hash"])["status"] == 1


@pytest.mark.parametrize("tamper", ["target", "value", "recipient"])
def test_an_unsafe_transaction_is_refused_before_signing(agg_chain, tmp_path, tamper):
    chain = agg_chain
    chain.fund(chain.wallet, Decimal(3), Decimal(0))
    start_block = chain.w3.eth.block_number
    behaviours = {"paraswap": Behaviour(venue="fork", tamper=tamper)}

    async def go():
        async with routed(chain, tmp_path, behaviours) as r:
            result = await _route(r, "unsafe-1")
            return result, quotes(r.journal, "unsafe-1")

    result, rows = anyio.run(go)
    refused = rows["paraswap"]
    assert refused["status"] == "refused" and refused["tx_hash"] == ""
    what = {"target": "targets", "value": "native value", "recipient": "pays the output"}[tamper]
    assert what in refused["error"]
    assert result.chosen != "paraswap"
    # Nothing the tampered quote asked for was signed: the wallet sent an approval and the
    # chosen swap only, none to the fork router or the attacker.
    targets = {t["to"].lower() for t in _wallet_txs(chain, start_block)}
    assert chain.d.fork_router.lower() not in targets and ATTACKER.lower() not in targets
    attacker_usd = chain.erc20(chain.d.usd).functions.balanceOf(ATTACKER).call()
    assert attacker_usd == 0


def test_a_gas_heavy_route_with_more_gross_output_loses_to_a_cheaper_net_one(agg_chain, tmp_path):
    chain = agg_chain
    chain.fund(chain.wallet, Decimal(3), Decimal(0))
    # ParaSwap's route still pays the most, but declares 5M gas: at 10 gwei and ~2000 USD per
    # WETH that is ~100 USD, more than its ~80 USD gross advantage.
    behaviours = {"paraswap": Behaviour(venue="fork", gas=5_000_000)}

    async def go():
        async with routed(chain, tmp_path, behaviours) as r:
            result = await _route(r, "gas-1", gas_price_wei=10 * GWEI)
            return result, quotes(r.journal, "gas-1")

    result, rows = anyio.run(go)
    gross = {k: int(v["buy_amount"]) for k, v in rows.items()}
    nets = {k: int(v["net_out"]) for k, v in rows.items()}
    assert max(gross, key=gross.__getitem__) == "paraswap"
    assert result.chosen != "paraswap"
    assert nets[result.chosen] > nets["paraswap"]
    assert gross[result.chosen] < gross["paraswap"]
    assert int(rows["paraswap"]["gas_cost_out"]) > gross["paraswap"] - gross[result.chosen]
    assert rows[result.chosen]["status"] == "filled"


def test_one_client_order_id_is_never_sent_twice(agg_chain, tmp_path):
    chain = agg_chain
    chain.fund(chain.wallet, Decimal(3), Decimal(0))

    async def go():
        async with routed(chain, tmp_path) as r:
            await _route(r, "once-1")
            nonce = chain.w3.eth.get_transaction_count(chain.wallet)
            with pytest.raises(RoutingFailed, match="already sent"):
                await _route(r, "once-1")
            # A fresh router on the same journal (a restart) refuses it too.
            from tradewind.execution import BestExecutionRouter

            again = BestExecutionRouter(r.router.sources, r.executor, journal=r.journal)
            request = await r.executor.request_for(market("once-1"))
            with pytest.raises(RoutingFailed, match="already sent"):
                await again.execute(request, gas_price_wei=GWEI, out_per_native=Decimal(2000))
            # Without the quotes table (a crash before it was written), the venue's own
            # write-ahead transaction journal still refuses a second send.
            blind = BestExecutionRouter(r.router.sources, r.executor, journal=None)
            with pytest.raises(RuntimeError, match="never sent twice"):
                await blind.execute(request, gas_price_wei=GWEI, out_per_native=Decimal(2000))
            return nonce

    nonce = anyio.run(go)
    assert chain.w3.eth.get_transaction_count(chain.wallet) == nonce


def test_with_every_quote_unsafe_nothing_is_sent(agg_chain, tmp_path):
    chain = agg_chain
    chain.fund(chain.wallet, Decimal(3), Decimal(0))
    nonce = chain.w3.eth.get_transaction_count(chain.wallet)
    behaviours = {
        k: Behaviour(venue=v, tamper="recipient")
        for k, v in {"oneinch": "v3", "zeroex": "v2", "paraswap": "fork", "odos": "v2"}.items()
    }

    async def go():
        async with routed(chain, tmp_path, behaviours, direct=False) as r:
            with pytest.raises(RoutingFailed, match="no quote could be sent"):
                await _route(r, "all-bad")
            return quotes(r.journal, "all-bad")

    rows = anyio.run(go)
    assert {v["status"] for v in rows.values()} == {"refused"}
    assert chain.w3.eth.get_transaction_count(chain.wallet) == nonce


def test_a_configured_primary_fallback_order_is_followed(agg_chain, tmp_path):
    chain = agg_chain
    chain.fund(chain.wallet, Decimal(3), Decimal(0))
    behaviours = {"zeroex": Behaviour(venue="v2", fail="500")}

    async def go():
        async with routed(chain, tmp_path, behaviours, order=["zeroex", "odos"]) as r:
            result = await _route(r, "prim-1")
            return result, quotes(r.journal, "prim-1")

    result, rows = anyio.run(go)
    # zeroex (primary) failed, so the fallback odos is used, though paraswap quotes more.
    assert result.chosen == "odos"
    assert rows["zeroex"]["status"] == "failed"
    assert rows["paraswap"]["status"] == "not_tried"


def test_execution_quality_reports_wins_failures_refusals_and_shortfall(agg_chain, tmp_path):
    from tradewind.execution.quality import execution_quality, quality_table

    chain = agg_chain
    chain.fund(chain.wallet, Decimal(5), Decimal(0))
    # zeroex quotes the same pool as paraswap (a tie, and it is asked first) but names
    # another recipient: it is checked and refused on both orders.
    behaviours = {
        "oneinch": Behaviour(venue="v3", fail="500"),
        "zeroex": Behaviour(venue="fork", tamper="recipient"),
    }

    async def go():
        async with routed(chain, tmp_path, behaviours) as r:
            await _route(r, "q-1")
            await _route(r, "q-2")
            return execution_quality(r.journal)

    stats = anyio.run(go)
    by = {s.aggregator: s for s in stats}
    assert by["oneinch"].failed == 2 and by["oneinch"].quotes == 0
    assert by["zeroex"].refused == 2 and by["zeroex"].won == 0
    assert by["paraswap"].won == 2 and by["paraswap"].quotes == 2
    # Nothing else trades on the local chain between quote and swap: realised = quoted (to
    # the wei the fill's price x quantity rounds to).
    assert abs(by["paraswap"].mean_shortfall_bps) < Decimal("0.001")
    assert by["odos"].won == 0 and by["odos"].mean_shortfall_bps is None
    table = quality_table(stats)
    assert "paraswap" in table and "shortfall bps" in table
