"""The aggregators' HTTP behaviour against their local servers: 429 with Retry-After waited
out, the API key in the API's header and never in errors, timeouts as timeout errors."""

from __future__ import annotations

import anyio
import pytest
from agg_servers import AggServer, Backend, Behaviour, serve
from agg_setup import KEY_ENV, TEST_KEY, make_aggregator, sell_weth
from tradewind.execution import AggregatorError

HEADERS = {
    "oneinch": ("Authorization", f"Bearer {TEST_KEY}"),
    "zeroex": ("0x-api-key", TEST_KEY),
    "paraswap": ("X-API-KEY", TEST_KEY),
    "odos": ("x-api-key", TEST_KEY),
}


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, TEST_KEY)


@pytest.mark.parametrize("kind", list(HEADERS))
def test_a_429_is_retried_after_its_retry_after(agg_chain, kind):
    server = AggServer(kind, Backend(agg_chain), Behaviour(rate_limit_first=1, retry_after="0.4"))

    async def go():
        async with serve(server):
            agg = make_aggregator(kind, server)
            try:
                q = await agg.quote_swap(sell_weth(agg_chain))
            finally:
                await agg.close()
            return q, agg.api.rate_limited

    q, limited = anyio.run(go)
    assert q.buy_amount > 0 and limited == 1
    first, second = server.requests[0], server.requests[1]
    assert first["path"] == second["path"]
    assert second["t"] - first["t"] >= 0.4
    name, value = HEADERS[kind]
    assert all(r["headers"].get(name) == value for r in server.requests)


@pytest.mark.parametrize("kind", list(HEADERS))
def test_a_retry_after_beyond_the_cap_is_a_rate_limited_error_without_the_key(agg_chain, kind):
    server = AggServer(kind, Backend(agg_chain), Behaviour(fail="429", retry_after="60"))

    async def go():
        async with serve(server):
            agg = make_aggregator(kind, server, max_retry_after_s=5.0)
            try:
                with pytest.raises(AggregatorError) as info:
                    await agg.quote_swap(sell_weth(agg_chain))
            finally:
                await agg.close()
            return info.value

    err = anyio.run(go)
    assert err.kind == "rate_limited" and "Retry-After 60.0s" in str(err)
    assert TEST_KEY not in str(err) and len(server.requests) == 1


def test_a_slow_api_is_a_timeout_error(agg_chain):
    server = AggServer("oneinch", Backend(agg_chain), Behaviour(fail="timeout", sleep_s=1.5))

    async def go():
        async with serve(server):
            agg = make_aggregator("oneinch", server, timeout_s=0.3)
            try:
                with pytest.raises(AggregatorError) as info:
                    await agg.quote_swap(sell_weth(agg_chain))
            finally:
                await agg.close()
            return info.value

    err = anyio.run(go)
    assert err.kind == "timeout" and "0.3s" in str(err)
