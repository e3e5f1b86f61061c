"""The contract ABIs the venue calls, copied from the real compiled artifacts (see abi/)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: ABIs shipped in abi/*.json (the ``abi`` arrays of the npm artifacts named in SOURCES.md).
SHIPPED = (
    "ERC20",
    "WETH9",
    "UniswapV2Factory",
    "UniswapV2Pair",
    "UniswapV2Router02",
    "UniswapV3Factory",
    "UniswapV3Pool",
    "QuoterV2",
    "SwapRouter",
    "SwapRouter02",
    "BalancerVault",
    "BalancerWeightedPool",
    "CurvePool",
)


@cache
def abi(name: str) -> list[dict[str, Any]]:
    """The ABI called ``name`` (one of :data:`SHIPPED`)."""
    if name not in SHIPPED:
        raise KeyError(f"no ABI named {name!r}; shipped: {', '.join(SHIPPED)}")
    text = resources.files("tradewind_venue_evm").joinpath(f"abi/{name}.json").read_text()
    data: list[dict[str, Any]] = json.loads(text)
    return data
