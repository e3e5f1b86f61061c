"""The chain and DEX registry: shipped data, what config adds, and the errors it gives."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from eth_utils import keccak
from evm_chain import ARTIFACTS, artifact
from evm_testkit import connected, pool
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind_venue_evm import EvmConfig, builtin_chains
from tradewind_venue_evm.registry import resolve_chain

SEED_CHAINS = {
    "ethereum": 1,
    "arbitrum": 42161,
    "optimism": 10,
    "base": 8453,
    "zksync": 324,
    "polygon": 137,
    "bsc": 56,
    "avalanche": 43114,
}


def test_the_seed_chains_are_shipped_with_their_ids_and_gas_tokens():
    chains = builtin_chains()
    assert {k: chains[k].chain_id for k in SEED_CHAINS} == SEED_CHAINS
    assert {k: chains[k].native for k in SEED_CHAINS} == {
        "ethereum": "ETH",
        "arbitrum": "ETH",
        "optimism": "ETH",
        "base": "ETH",
        "zksync": "ETH",
        "polygon": "POL",
        "bsc": "BNB",
        "avalanche": "AVAX",
    }
    assert chains["optimism"].l1_fee == "op-stack" and chains["base"].l1_fee == "op-stack"
    assert chains["arbitrum"].l1_fee == "in-gas" and chains["bsc"].gas == "legacy"


def test_the_seed_forks_are_entries_of_the_uniswap_families():
    chains = builtin_chains()
    family = {(c, d): dex.family for c, chain in chains.items() for d, dex in chain.dexes.items()}
    assert family[("ethereum", "sushiswap")] == "uniswap-v2"
    assert family[("bsc", "pancakeswap-v2")] == "uniswap-v2"
    assert family[("bsc", "pancakeswap-v3")] == "uniswap-v3"
    assert family[("polygon", "quickswap")] == "uniswap-v2"
    assert family[("avalanche", "traderjoe")] == "uniswap-v2"
    assert family[("fantom", "spookyswap")] == "uniswap-v2"
    assert family[("ethereum", "balancer-v2")] == "balancer-v2"
    assert family[("ethereum", "curve")] == "curve"
    assert chains["bsc"].dexes["pancakeswap-v2"].fee == Decimal("0.0025")
    assert chains["bsc"].dexes["pancakeswap-v3"].pool_deployer is not None


def test_npm_pool_bytecode_hashes_to_the_registry_init_code_hashes():
    """So the CREATE2 pool addresses the venue computes are tested on the real contracts."""
    eth = builtin_chains()["ethereum"].dexes
    _, pair = artifact(ARTIFACTS["UniswapV2Pair"])
    _, v3pool = artifact(ARTIFACTS["UniswapV3Pool"])
    assert "0x" + keccak(hexstr=pair).hex() == eth["uniswap-v2"].init_code_hash
    assert "0x" + keccak(hexstr=v3pool).hex() == eth["uniswap-v3"].init_code_hash


def test_a_user_chain_and_fork_resolve_without_code():
    cfg = structure(
        {
            "chain": "mychain",
            "chains": {
                "mychain": {
                    "chain_id": 999,
                    "native": "MYC",
                    "wrapped_native": "0x" + "11" * 20,
                    "block_time_s": 2,
                }
            },
            "dexes": {
                "myswap": {
                    "family": "uniswap-v2",
                    "factory": "0x" + "22" * 20,
                    "router": "0x" + "33" * 20,
                    "fee": "0.002",
                }
            },
        },
        EvmConfig,
    )
    chain = resolve_chain(cfg.chain, cfg.chains, cfg.dexes, "$.venues.x")
    assert chain.chain_id == 999 and chain.dexes["myswap"].fee == Decimal("0.002")
    # A fork added to a shipped chain keeps the shipped DEXes.
    eth = resolve_chain("ethereum", {}, cfg.dexes, "$.venues.x")
    assert {"uniswap-v2", "uniswap-v3", "myswap"} <= set(eth.dexes)


def test_registry_errors_name_the_key():
    with pytest.raises(
        ConfigError,
        match=r"unknown chain 'nochain' @ \$\.venues\.x\.chain; "
        r"known chains: arbitrum, avalanche, base",
    ):
        resolve_chain("nochain", {}, {}, "$.venues.x")
    cfg = structure(
        {"dexes": {"half": {"family": "uniswap-v2", "router": "0x" + "33" * 20}}}, EvmConfig
    )
    with pytest.raises(
        ConfigError,
        match=r"a uniswap-v2 DEX needs factory, fee "
        r"@ \$\.venues\.x\.dexes\.half",
    ):
        resolve_chain("ethereum", {}, cfg.dexes, "$.venues.x")
    cfg = structure({"dexes": {"bad": {"family": "uniswap-v4"}}}, EvmConfig)
    with pytest.raises(ConfigError, match=r"family must be one of .* got 'uniswap-v4'"):
        resolve_chain("ethereum", {}, cfg.dexes, "$.venues.x")
    with pytest.raises(ConfigError, match=r"unknown key @ \$\.pools\[0\]\.fee"):
        structure(
            {
                "pools": [
                    {
                        "symbol": "A/B",
                        "dex": "d",
                        "base": "0x" + "11" * 20,
                        "quote": "0x" + "22" * 20,
                        "fee": 3000,
                    }
                ]
            },
            EvmConfig,
        )
    with pytest.raises(ConfigError, match=r"slippage must be in \(0, 0.5\)"):
        structure({"slippage": "0"}, EvmConfig)
    with pytest.raises(ConfigError, match="secrets must be written as env:NAME"):
        structure({"private_key": "0xabc"}, EvmConfig)


def test_a_wrong_init_code_hash_is_a_clear_error_at_connect(evm):
    wrong = "0x" + "ab" * 32
    fork = {
        "family": "uniswap-v2",
        "factory": evm.d.v2_factory,
        "router": evm.d.v2_router,
        "init_code_hash": wrong,
        "fee": "0.003",
    }

    async def go():
        venue = await connected(evm, [pool(evm, "badhash")], dexes={"badhash": fork})
        await venue.close()

    with pytest.raises(ConfigError) as info:
        anyio.run(go)
    assert "badhash: init_code_hash gives pair" in str(info.value)
    assert f"but the factory says {evm.d.v2_pair}" in str(info.value)
    assert str(info.value).endswith("@ $.venues.dex.pools[0]")


def test_a_pool_the_factory_does_not_have_is_a_clear_error(evm):
    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v3", fee_tier=500)])
        await venue.close()

    with pytest.raises(
        ConfigError,
        match=r"uniswap-v3 factory .* has no 500 pool for WETH/USD "
        r"@ \$\.venues\.dex\.pools\[0\]",
    ):
        anyio.run(go)
