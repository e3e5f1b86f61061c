"""Curve: the adapter's calls and event decoding against the StableSwap ABI.

No registry ships deployable Curve bytecode and no recorded get_dy answers were available
offline, so this checks only what can be checked without a pool: the calldata the adapter
sends is the StableSwap ABI's (selectors from the Vyper signatures, int128 indices), and a
TokenExchange log decodes to the right side and amounts. docs/venues/evm.md says so.
"""

from __future__ import annotations

from decimal import Decimal

from eth_abi import encode
from eth_utils import keccak
from tradewind_venue_evm.config import PoolConfig
from tradewind_venue_evm.constants import TOPIC_TOKEN_EXCHANGE_CURVE
from tradewind_venue_evm.pools import CurvePool, Token
from tradewind_venue_evm.registry import Dex
from web3 import AsyncWeb3

# The 3pool's coins on Ethereum: DAI (0), USDC (1), USDT (2).
THREEPOOL = "0xbEbc44782C7dB0a1A60Cb6fe97d0b483032FF1C7"
DAI = Token(address="0x6B175474E89094C44Da98b954EedeAC495271d0F", symbol="DAI", decimals=18)
USDC = Token(address="0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", symbol="USDC", decimals=6)


def _pool() -> CurvePool:
    cfg = PoolConfig(
        symbol="DAI/USDC", dex="curve", base=DAI.address, quote=USDC.address, address=THREEPOOL
    )
    p = CurvePool(AsyncWeb3(), cfg, Dex(family="curve"), DAI, USDC, "$.venues.c.pools[0]")
    p.set_indices(0, 1)
    return p


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def test_get_dy_and_exchange_calldata_follow_the_stableswap_abi():
    p = _pool()
    data = p.get_dy_call(USDC, 1_000_000)  # sell 1 USDC: i = 1 (USDC), j = 0 (DAI)
    assert data[:10] == _selector("get_dy(int128,int128,uint256)") == "0x5e0d443f"
    assert bytes.fromhex(data[10:]) == encode(["int128", "int128", "uint256"], [1, 0, 1_000_000])
    to, swap = p.swap_call(DAI, 10**18, 990_000, "0x" + "11" * 20, 0)
    assert to == THREEPOOL and p.spender() == THREEPOOL
    assert swap[:10] == _selector("exchange(int128,int128,uint256,uint256)") == "0x3df02124"
    assert bytes.fromhex(swap[10:]) == encode(
        ["int128", "int128", "uint256", "uint256"], [0, 1, 10**18, 990_000]
    )


def test_token_exchange_logs_decode_to_side_and_amounts():
    p = _pool()
    assert p.log_filter() == (THREEPOOL, [TOPIC_TOKEN_EXCHANGE_CURVE])
    buyer = "0x" + "00" * 12 + "22" * 20
    # The taker sold 2,000 USDC (coin 1) for 1,999.5 DAI (coin 0): it bought base.
    log = {
        "blockNumber": "0x10",
        "blockHash": "0x" + "aa" * 32,
        "logIndex": "0x3",
        "transactionHash": "0x" + "bb" * 32,
        "topics": [TOPIC_TOKEN_EXCHANGE_CURVE, buyer],
        "data": "0x"
        + encode(
            ["int128", "uint256", "int128", "uint256"], [1, 2_000 * 10**6, 0, 19995 * 10**17]
        ).hex(),
    }
    s = p.decode_swap(log)
    assert s is not None and s.side == 1 and (s.block_number, s.log_index) == (16, 3)
    assert DAI.to_decimal(s.base_wei) == Decimal("1999.5")
    assert USDC.to_decimal(s.quote_wei) == Decimal(2000)
    # An exchange between other coins of the pool (USDT) is not this instrument's trade.
    other = dict(
        log,
        data="0x" + encode(["int128", "uint256", "int128", "uint256"], [2, 10**6, 0, 10**18]).hex(),
    )
    assert p.decode_swap(other) is None
