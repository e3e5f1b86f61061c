"""The chain and DEX registry: data/registry.toml plus what the user's config adds.

A chain or a fork is data. :func:`builtin_chains` reads the shipped table; a venue's config may
add chains and DEXes (or override shipped ones) with the same keys, and :func:`resolve_chain`
merges the two into the one :class:`Chain` the venue trades on.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import attrs
from eth_utils import is_address, to_checksum_address
from tradewind._serde import structure
from tradewind.errors import ConfigError

from tradewind_venue_evm.constants import FAMILIES, GAS_MODES, L1_FEE_MODES


def checksum(address: str, where: str) -> str:
    """``address`` in EIP-55 form; a malformed address is an error naming ``where``."""
    if not isinstance(address, str) or not is_address(address.lower()):
        raise ConfigError(f"not a 20-byte hex address: {address!r} @ {where}")
    return str(to_checksum_address(address.lower()))


@attrs.frozen(kw_only=True)
class Dex:
    """One DEX deployment on one chain. Which addresses matter depends on ``family``."""

    #: "uniswap-v2", "uniswap-v3", "balancer-v2" or "curve".
    family: str
    #: Uniswap V2/V3 factory.
    factory: str | None = None
    #: Uniswap V2 router (Router02 interface).
    router: str | None = None
    #: keccak256 of the pool creation code: pools are found by CREATE2 from it (Uniswap
    #: families). Omit it where the chain derives addresses differently (zkSync Era): the
    #: factory is asked instead.
    init_code_hash: str | None = None
    #: Uniswap V2 pool fee as a fraction (0.003 = 0.3 %).
    fee: Decimal | None = None
    #: Uniswap V3 forks whose pools are created by a separate deployer (PancakeSwap V3).
    pool_deployer: str | None = None
    #: Uniswap V3 QuoterV2.
    quoter_v2: str | None = None
    #: Uniswap V3 SwapRouter (params with a deadline).
    swap_router: str | None = None
    #: Uniswap V3 SwapRouter02 (params without a deadline).
    swap_router02: str | None = None
    #: Uniswap V3 fee tiers, in hundredths of a basis point.
    fee_tiers: tuple[int, ...] = ()
    #: Balancer V2 Vault.
    vault: str | None = None

    def checked(self, where: str) -> Dex:
        """This entry with checksummed addresses, or a ConfigError naming what is missing."""
        if self.family not in FAMILIES:
            raise ConfigError(
                f"family must be one of {', '.join(FAMILIES)}, got {self.family!r} @ {where}.family"
            )
        need = {
            "uniswap-v2": ("factory", "router", "fee"),
            "uniswap-v3": ("factory", "quoter_v2"),
            "balancer-v2": ("vault",),
            "curve": (),
        }[self.family]
        missing = [k for k in need if getattr(self, k) is None]
        if self.family == "uniswap-v3" and not (self.swap_router or self.swap_router02):
            missing.append("swap_router or swap_router02")
        if missing:
            raise ConfigError(f"a {self.family} DEX needs {', '.join(missing)} @ {where}")
        changes: dict[str, Any] = {}
        for name in (
            "factory",
            "router",
            "pool_deployer",
            "quoter_v2",
            "swap_router",
            "swap_router02",
            "vault",
        ):
            value = getattr(self, name)
            if value is not None:
                changes[name] = checksum(value, f"{where}.{name}")
        if self.init_code_hash is not None:
            h = self.init_code_hash.lower()
            hexdigits = set("0123456789abcdef")
            if not (h.startswith("0x") and len(h) == 66 and set(h[2:]) <= hexdigits):
                raise ConfigError(
                    f"init_code_hash must be 32 bytes of hex @ {where}.init_code_hash"
                )
            changes["init_code_hash"] = h
        return attrs.evolve(self, **changes)

    def contracts(self) -> dict[str, str]:
        """Every address of this entry by its key (what the connect check looks at)."""
        out = {}
        for name in (
            "factory",
            "router",
            "pool_deployer",
            "quoter_v2",
            "swap_router",
            "swap_router02",
            "vault",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@attrs.frozen(kw_only=True)
class Chain:
    """An EVM chain: identity, gas token, gas pricing and its DEXes."""

    chain_id: int
    #: Symbol of the gas token (gas fees are money in this currency).
    native: str
    #: The gas token's ERC-20 wrapper (WETH, WBNB, ...).
    wrapped_native: str
    block_time_s: float
    #: "eip1559" (base fee + tip) or "legacy" (gasPrice).
    gas: str = "eip1559"
    #: "none", "op-stack" (receipt.l1Fee is added to the gas cost) or "in-gas".
    l1_fee: str = "none"
    #: Default JSON-RPC endpoint (a public one); the venue's rpc_url overrides it.
    rpc_url: str = ""
    native_decimals: int = 18
    dexes: dict[str, Dex] = attrs.Factory(dict)

    def checked(self, where: str) -> Chain:
        """This chain with its values validated and addresses checksummed."""
        if self.chain_id <= 0:
            raise ConfigError(f"chain_id must be positive @ {where}.chain_id")
        if self.gas not in GAS_MODES:
            raise ConfigError(f"gas must be one of {', '.join(GAS_MODES)} @ {where}.gas")
        if self.l1_fee not in L1_FEE_MODES:
            raise ConfigError(f"l1_fee must be one of {', '.join(L1_FEE_MODES)} @ {where}.l1_fee")
        if self.block_time_s <= 0:
            raise ConfigError(f"block_time_s must be positive @ {where}.block_time_s")
        return attrs.evolve(
            self,
            wrapped_native=checksum(self.wrapped_native, f"{where}.wrapped_native"),
            dexes={k: d.checked(f"{where}.dexes.{k}") for k, d in self.dexes.items()},
        )


@cache
def builtin_chains() -> Mapping[str, Chain]:
    """The chains shipped in data/registry.toml, by name."""
    text = resources.files("tradewind_venue_evm").joinpath("data/registry.toml").read_text()
    raw = tomllib.loads(text)
    return {
        name: structure(table, Chain, path=f"$.{name}").checked(f"registry.toml [{name}]")
        for name, table in raw.items()
    }


def resolve_chain(
    name: str,
    user_chains: Mapping[str, Chain],
    user_dexes: Mapping[str, Dex],
    where: str,
) -> Chain:
    """The chain called ``name``: shipped or user-defined, with the user's DEXes added."""
    shipped = builtin_chains()
    if name in user_chains:
        chain = user_chains[name].checked(f"{where}.chains.{name}")
        if name in shipped:
            chain = attrs.evolve(chain, dexes={**shipped[name].dexes, **chain.dexes})
    elif name in shipped:
        chain = shipped[name]
    else:
        known = sorted({*shipped, *user_chains})
        raise ConfigError(
            f"unknown chain {name!r} @ {where}.chain; known chains: {', '.join(known)} "
            f"(add one under [{where[2:]}.chains.{name}])"
        )
    extra = {k: d.checked(f"{where}.dexes.{k}") for k, d in user_dexes.items()}
    return attrs.evolve(chain, dexes={**chain.dexes, **extra})
