"""Config and helpers shared by the EVM venue tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from evm_chain import CHAIN_ID, LocalChain
from tradewind._serde import structure
from tradewind_venue_evm import EvmConfig, EvmVenue

RPC_ENV = "TW_TEST_EVM_RPC_URL"
KEY_ENV = "TW_TEST_EVM_PRIVATE_KEY"
UNISWAP_V2_INIT = "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
UNISWAP_V3_INIT = "0xe34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"


def config_table(node: LocalChain, pools: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A venue config table as a user writes it in TOML: the local chain defined in config."""
    d = node.d
    table: dict[str, Any] = {
        "chain": "anvil",
        "rpc_url": f"env:{RPC_ENV}",
        "private_key": f"env:{KEY_ENV}",
        "chains": {
            "anvil": {
                "chain_id": CHAIN_ID,
                "native": "ETH",
                "wrapped_native": d.weth,
                "block_time_s": 1.0,
                "gas": "eip1559",
                "l1_fee": "none",
                "dexes": {
                    "uniswap-v2": {
                        "family": "uniswap-v2",
                        "factory": d.v2_factory,
                        "router": d.v2_router,
                        "init_code_hash": UNISWAP_V2_INIT,
                        "fee": "0.003",
                    },
                    "uniswap-v3": {
                        "family": "uniswap-v3",
                        "factory": d.v3_factory,
                        "quoter_v2": d.quoter_v2,
                        "swap_router": d.swap_router,
                        "swap_router02": d.swap_router02,
                        "init_code_hash": UNISWAP_V3_INIT,
                        "fee_tiers": [500, 3000, 10000],
                    },
                    "balancer-v2": {"family": "balancer-v2", "vault": d.vault},
                },
            }
        },
        "pools": pools,
        "poll_interval_s": 0.05,
        "tx_journal": "evm-transactions.jsonl",
    }
    table.update(extra)
    return table


def pool(chain: LocalChain, dex: str, symbol: str = "WETH/USD", **kw: Any) -> dict[str, Any]:
    """A pool entry of the WETH/USD pair on ``dex``."""
    entry: dict[str, Any] = {
        "symbol": symbol,
        "dex": dex,
        "base": chain.d.weth,
        "quote": chain.d.usd,
    }
    if dex == "uniswap-v3":
        entry["fee_tier"] = 3000
    if dex == "balancer-v2":
        entry["address"] = chain.d.balancer_pool
    entry.update(kw)
    return entry


def make_config(node: LocalChain, pools: list[dict[str, Any]], **extra: Any) -> EvmConfig:
    """The structured config, through the core's converter (unknown keys are errors)."""
    return structure(config_table(node, pools, **extra), EvmConfig)


async def connected(node: LocalChain, pools: list[dict[str, Any]], **extra: Any) -> EvmVenue:
    """A connected venue named ``dex`` on the local chain."""
    venue = EvmVenue(config=make_config(node, pools, **extra), instance="dex")
    await venue.connect()
    return venue


class Sink:
    """Collects what the venue reports (the order manager's side of the contract)."""

    def __init__(self) -> None:
        self.reports: list[Any] = []
        self.fills: list[Any] = []
        self.events: list[Any] = []

    def on_report(self, report: Any) -> None:
        self.reports.append(report)

    def on_fill(self, fill: Any) -> None:
        self.fills.append(fill)

    def on_event(self, event: Any) -> None:
        self.events.append(event)


def wei(amount: Decimal) -> int:
    """18-decimal token amount in wei."""
    return int(amount * 10**18)
