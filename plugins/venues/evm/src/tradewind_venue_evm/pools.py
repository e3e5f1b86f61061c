"""Pools of each protocol family: find, quote, build the swap, decode its Swap events.

Every amount here is an integer in the token's smallest unit (wei). A pool adapter quotes with
the same contract logic the swap then runs (V2: the pair's constant-product formula on its
reserves; V3: QuoterV2; Balancer: the Vault's queryBatchSwap; Curve: get_dy), so a quote taken
on a block equals what a swap realises on that block.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from tradewind.errors import ConfigError
from web3 import AsyncWeb3

from tradewind_venue_evm.abis import abi
from tradewind_venue_evm.config import PoolConfig
from tradewind_venue_evm.constants import (
    TOPIC_SWAP_BALANCER,
    TOPIC_SWAP_V2,
    TOPIC_SWAP_V3,
    TOPIC_TOKEN_EXCHANGE_CURVE,
)
from tradewind_venue_evm.registry import Dex, checksum

BlockId = int | str


@attrs.frozen(kw_only=True)
class Token:
    """An ERC-20 token as the venue uses it."""

    address: str
    symbol: str
    decimals: int

    def to_decimal(self, wei: int) -> Decimal:
        """``wei`` in whole tokens, exactly."""
        return Decimal(wei).scaleb(-self.decimals)

    def to_wei(self, amount: Decimal) -> int:
        """``amount`` whole tokens in wei, rounded down."""
        return int(amount.scaleb(self.decimals))


@attrs.frozen(kw_only=True)
class SwapLog:
    """One decoded Swap event of a pool, in base/quote terms (wei)."""

    block_number: int
    block_hash: str
    log_index: int
    tx_hash: str
    base_wei: int
    quote_wei: int
    #: +1: the taker bought base (sold quote); -1: the taker sold base.
    side: int


def _as_int(value: Any) -> int:
    """An RPC quantity: an int (web3-formatted) or a hex string (a raw JSON-RPC answer)."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _uint(data: bytes, word: int) -> int:
    return int.from_bytes(data[32 * word : 32 * word + 32], "big")


def _int(data: bytes, word: int) -> int:
    return int.from_bytes(data[32 * word : 32 * word + 32], "big", signed=True)


def create2_address(deployer: str, salt: bytes, init_code_hash: str) -> str:
    """The CREATE2 address of a contract (EIP-1014)."""
    raw = keccak(b"\xff" + bytes.fromhex(deployer[2:]) + salt + bytes.fromhex(init_code_hash[2:]))
    return str(to_checksum_address(raw[12:]))


def sort_tokens(a: str, b: str) -> tuple[str, str]:
    """The two tokens as token0, token1 (by address, as the Uniswap factories order them)."""
    return (a, b) if int(a, 16) < int(b, 16) else (b, a)


def v2_pair_address(factory: str, token_a: str, token_b: str, init_code_hash: str) -> str:
    """A Uniswap V2 (or fork) pair's address from its factory and init-code hash."""
    t0, t1 = sort_tokens(token_a, token_b)
    salt = keccak(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
    return create2_address(factory, salt, init_code_hash)


def v3_pool_address(
    deployer: str, token_a: str, token_b: str, fee: int, init_code_hash: str
) -> str:
    """A Uniswap V3 (or fork) pool's address from its deployer, tokens, fee and init-code hash."""
    t0, t1 = sort_tokens(token_a, token_b)
    salt = keccak(
        bytes.fromhex(t0[2:].rjust(64, "0"))
        + bytes.fromhex(t1[2:].rjust(64, "0"))
        + fee.to_bytes(32, "big")
    )
    return create2_address(deployer, salt, init_code_hash)


class PoolAdapter:
    """What the venue needs of a pool, whatever its family."""

    family = ""

    def __init__(
        self, w3: AsyncWeb3, cfg: PoolConfig, dex: Dex, base: Token, quote: Token, where: str
    ) -> None:
        self.w3 = w3
        self.cfg = cfg
        self.dex = dex
        self.base = base
        self.quote = quote
        self.where = where
        self.address = checksum(cfg.address, f"{where}.address") if cfg.address else ""
        #: The pool's fee as a fraction of the input amount.
        self.fee = Decimal(0)

    def other(self, token_in: Token) -> Token:
        """The token received when ``token_in`` is sold."""
        return self.quote if token_in is self.base else self.base

    async def setup(self) -> None:
        """Find the pool on chain and read what the swaps need (fee, ids)."""
        raise NotImplementedError

    async def quote_in(self, token_in: Token, amount_in: int, block: BlockId) -> int:
        """Output of selling ``amount_in`` of ``token_in`` on ``block``."""
        raise NotImplementedError

    async def quote_out(self, token_in: Token, amount_out: int, block: BlockId) -> int:
        """Input of ``token_in`` needed to receive ``amount_out`` of the other token."""
        raise NotImplementedError

    def spender(self) -> str:
        """The contract the input token is approved to."""
        raise NotImplementedError

    def swap_call(
        self, token_in: Token, amount_in: int, min_out: int, recipient: str, deadline: int
    ) -> tuple[str, str]:
        """(to, calldata) of the exact-input swap."""
        raise NotImplementedError

    def log_filter(self) -> tuple[str, list[Any]]:
        """(address, topics) of this pool's Swap events."""
        raise NotImplementedError

    def decode_swap(self, log: Any) -> SwapLog | None:
        """A Swap log of this pool in base/quote terms (None if it is not this pool's)."""
        raise NotImplementedError

    async def reserves(self, block: BlockId) -> tuple[int, int]:
        """(base, quote) held by the pool, in wei."""
        c = self.w3.eth.contract(address=self.base.address, abi=abi("ERC20"))
        q = self.w3.eth.contract(address=self.quote.address, abi=abi("ERC20"))
        b = await c.functions.balanceOf(self.address).call(block_identifier=block)
        qq = await q.functions.balanceOf(self.address).call(block_identifier=block)
        return int(b), int(qq)

    @staticmethod
    def _swap_log_fields(log: Any) -> tuple[int, str, int, str, bytes, list[bytes]]:
        data = log["data"]
        data = bytes(data) if not isinstance(data, str) else bytes.fromhex(data[2:])
        topics = [
            bytes(t) if not isinstance(t, str) else bytes.fromhex(t[2:]) for t in log["topics"]
        ]
        bh = log["blockHash"]
        th = log["transactionHash"]
        return (
            _as_int(log["blockNumber"]),
            bh if isinstance(bh, str) else "0x" + bytes(bh).hex(),
            _as_int(log["logIndex"]),
            th if isinstance(th, str) else "0x" + bytes(th).hex(),
            data,
            topics,
        )


class UniswapV2Pool(PoolAdapter):
    """A Uniswap V2 pair or a fork's (Sushi, Pancake, QuickSwap, TraderJoe, SpookySwap)."""

    family = "uniswap-v2"

    async def setup(self) -> None:
        dex = self.dex
        assert dex.factory and dex.router and dex.fee is not None
        factory = self.w3.eth.contract(address=dex.factory, abi=abi("UniswapV2Factory"))
        on_chain = to_checksum_address(
            await factory.functions.getPair(self.base.address, self.quote.address).call()
        )
        if int(on_chain, 16) == 0:
            raise ConfigError(
                f"{self.cfg.dex} factory {dex.factory} has no pair for "
                f"{self.base.symbol}/{self.quote.symbol} @ {self.where}"
            )
        if dex.init_code_hash:
            computed = v2_pair_address(
                dex.factory, self.base.address, self.quote.address, dex.init_code_hash
            )
            if computed != on_chain:
                raise ConfigError(
                    f"{self.cfg.dex}: init_code_hash gives pair {computed} but the factory "
                    f"says {on_chain}: wrong init_code_hash or factory @ {self.where}"
                )
        if self.address and self.address != on_chain:
            raise ConfigError(
                f"address {self.address} is not the {self.cfg.dex} pair of "
                f"{self.base.symbol}/{self.quote.symbol} (the factory says {on_chain}) "
                f"@ {self.where}.address"
            )
        self.address = on_chain
        self.fee = dex.fee
        self._mult = int((1 - dex.fee) * 10_000)
        self._base_is_0 = int(self.base.address, 16) < int(self.quote.address, 16)
        self._pair = self.w3.eth.contract(address=on_chain, abi=abi("UniswapV2Pair"))
        self._router = self.w3.eth.contract(address=dex.router, abi=abi("UniswapV2Router02"))

    async def _reserves_in_out(self, token_in: Token, block: BlockId) -> tuple[int, int]:
        r0, r1, _ = await self._pair.functions.getReserves().call(block_identifier=block)
        base_r, quote_r = (r0, r1) if self._base_is_0 else (r1, r0)
        return (base_r, quote_r) if token_in is self.base else (quote_r, base_r)

    async def quote_in(self, token_in: Token, amount_in: int, block: BlockId) -> int:
        r_in, r_out = await self._reserves_in_out(token_in, block)
        x = amount_in * self._mult
        return (x * r_out) // (r_in * 10_000 + x)

    async def quote_out(self, token_in: Token, amount_out: int, block: BlockId) -> int:
        r_in, r_out = await self._reserves_in_out(token_in, block)
        if amount_out >= r_out:
            raise ValueError(f"{self.cfg.symbol}: the pool holds less than {amount_out} wei out")
        return (r_in * amount_out * 10_000) // ((r_out - amount_out) * self._mult) + 1

    def spender(self) -> str:
        assert self.dex.router
        return self.dex.router

    def swap_call(
        self, token_in: Token, amount_in: int, min_out: int, recipient: str, deadline: int
    ) -> tuple[str, str]:
        path = [token_in.address, self.other(token_in).address]
        data = self._router.encode_abi(
            "swapExactTokensForTokens", args=[amount_in, min_out, path, recipient, deadline]
        )
        return self.spender(), data

    def log_filter(self) -> tuple[str, list[Any]]:
        return self.address, [TOPIC_SWAP_V2]

    def decode_swap(self, log: Any) -> SwapLog | None:
        block, bh, idx, th, data, _topics = self._swap_log_fields(log)
        a0in, a1in, a0out, a1out = (_uint(data, i) for i in range(4))
        if self._base_is_0:
            base_in, base_out, quote_in, quote_out = a0in, a0out, a1in, a1out
        else:
            base_in, base_out, quote_in, quote_out = a1in, a1out, a0in, a0out
        if base_out > 0:
            return SwapLog(
                block_number=block,
                block_hash=bh,
                log_index=idx,
                tx_hash=th,
                base_wei=base_out,
                quote_wei=quote_in,
                side=1,
            )
        return SwapLog(
            block_number=block,
            block_hash=bh,
            log_index=idx,
            tx_hash=th,
            base_wei=base_in,
            quote_wei=quote_out,
            side=-1,
        )


class UniswapV3Pool(PoolAdapter):
    """A Uniswap V3 pool or a fork's (PancakeSwap V3), swapped through SwapRouter(02)."""

    family = "uniswap-v3"

    async def setup(self) -> None:
        dex = self.dex
        assert dex.factory and dex.quoter_v2
        tier = self.cfg.fee_tier
        if tier is None:
            raise ConfigError(
                f"a {self.cfg.dex} pool needs fee_tier (one of "
                f"{', '.join(map(str, dex.fee_tiers)) or 'the DEX tiers'}) @ {self.where}.fee_tier"
            )
        if dex.fee_tiers and tier not in dex.fee_tiers:
            raise ConfigError(
                f"fee_tier {tier} is not a tier of {self.cfg.dex} "
                f"({', '.join(map(str, dex.fee_tiers))}) @ {self.where}.fee_tier"
            )
        factory = self.w3.eth.contract(address=dex.factory, abi=abi("UniswapV3Factory"))
        on_chain = to_checksum_address(
            await factory.functions.getPool(self.base.address, self.quote.address, tier).call()
        )
        if int(on_chain, 16) == 0:
            raise ConfigError(
                f"{self.cfg.dex} factory {dex.factory} has no {tier} pool for "
                f"{self.base.symbol}/{self.quote.symbol} @ {self.where}"
            )
        if dex.init_code_hash:
            computed = v3_pool_address(
                dex.pool_deployer or dex.factory,
                self.base.address,
                self.quote.address,
                tier,
                dex.init_code_hash,
            )
            if computed != on_chain:
                raise ConfigError(
                    f"{self.cfg.dex}: init_code_hash gives pool {computed} but the factory says "
                    f"{on_chain}: wrong init_code_hash, pool_deployer or factory @ {self.where}"
                )
        if self.address and self.address != on_chain:
            raise ConfigError(
                f"address {self.address} is not the {self.cfg.dex} {tier} pool of "
                f"{self.base.symbol}/{self.quote.symbol} (the factory says {on_chain}) "
                f"@ {self.where}.address"
            )
        self.address = on_chain
        self.tier = tier
        self.fee = Decimal(tier).scaleb(-6)
        self._base_is_0 = int(self.base.address, 16) < int(self.quote.address, 16)
        self._quoter = self.w3.eth.contract(address=dex.quoter_v2, abi=abi("QuoterV2"))
        kind = self.cfg.router or ("swap_router02" if dex.swap_router02 else "swap_router")
        address = getattr(dex, kind)
        if address is None:
            raise ConfigError(f"{self.cfg.dex} has no {kind} address @ {self.where}.router")
        self.router_kind = kind
        self._router = self.w3.eth.contract(
            address=address, abi=abi("SwapRouter02" if kind == "swap_router02" else "SwapRouter")
        )

    async def quote_in(self, token_in: Token, amount_in: int, block: BlockId) -> int:
        params = (token_in.address, self.other(token_in).address, amount_in, self.tier, 0)
        # QuoterV2 is not a view: it runs the swap and reverts with the result; eth_call it.
        out = await self._quoter.functions.quoteExactInputSingle(params).call(
            block_identifier=block
        )
        return int(out[0])

    async def quote_out(self, token_in: Token, amount_out: int, block: BlockId) -> int:
        params = (token_in.address, self.other(token_in).address, amount_out, self.tier, 0)
        out = await self._quoter.functions.quoteExactOutputSingle(params).call(
            block_identifier=block
        )
        return int(out[0])

    def spender(self) -> str:
        return str(self._router.address)

    def swap_call(
        self, token_in: Token, amount_in: int, min_out: int, recipient: str, deadline: int
    ) -> tuple[str, str]:
        out = self.other(token_in).address
        if self.router_kind == "swap_router02":
            # SwapRouter02's ExactInputSingleParams have no deadline (7 fields).
            params: tuple[Any, ...] = (
                token_in.address,
                out,
                self.tier,
                recipient,
                amount_in,
                min_out,
                0,
            )
        else:
            params = (token_in.address, out, self.tier, recipient, deadline, amount_in, min_out, 0)
        return self.spender(), self._router.encode_abi("exactInputSingle", args=[params])

    def log_filter(self) -> tuple[str, list[Any]]:
        return self.address, [TOPIC_SWAP_V3]

    def decode_swap(self, log: Any) -> SwapLog | None:
        block, bh, idx, th, data, _topics = self._swap_log_fields(log)
        a0, a1 = _int(data, 0), _int(data, 1)
        base_delta, quote_delta = (a0, a1) if self._base_is_0 else (a1, a0)
        # Deltas are the pool's: base leaving the pool (negative) means the taker bought it.
        side = 1 if base_delta < 0 else -1
        return SwapLog(
            block_number=block,
            block_hash=bh,
            log_index=idx,
            tx_hash=th,
            base_wei=abs(base_delta),
            quote_wei=abs(quote_delta),
            side=side,
        )


class BalancerV2Pool(PoolAdapter):
    """A Balancer V2 pool, quoted by the Vault's queryBatchSwap and swapped by Vault.swap."""

    family = "balancer-v2"

    async def setup(self) -> None:
        if not self.address:
            raise ConfigError(f"a balancer-v2 pool needs its address @ {self.where}.address")
        assert self.dex.vault
        pool = self.w3.eth.contract(address=self.address, abi=abi("BalancerWeightedPool"))
        self.pool_id: bytes = bytes(await pool.functions.getPoolId().call())
        self.fee = Decimal(int(await pool.functions.getSwapFeePercentage().call())).scaleb(-18)
        self._vault = self.w3.eth.contract(address=self.dex.vault, abi=abi("BalancerVault"))
        tokens, _bal, _blk = await self._vault.functions.getPoolTokens(self.pool_id).call()
        tokens = [to_checksum_address(t) for t in tokens]
        for t in (self.base, self.quote):
            if t.address not in tokens:
                raise ConfigError(
                    f"balancer-v2 pool {self.address} does not hold {t.symbol} ({t.address}); "
                    f"it holds {', '.join(tokens)} @ {self.where}"
                )

    def _funds(self) -> tuple[str, bool, str, bool]:
        zero = "0x0000000000000000000000000000000000000000"
        return (zero, False, zero, False)

    async def _query(self, kind: int, token_in: Token, amount: int, block: BlockId) -> list[int]:
        swaps = [(self.pool_id, 0, 1, amount, b"")]
        assets = [token_in.address, self.other(token_in).address]
        deltas = await self._vault.functions.queryBatchSwap(
            kind, swaps, assets, self._funds()
        ).call(block_identifier=block)
        return [int(d) for d in deltas]

    async def quote_in(self, token_in: Token, amount_in: int, block: BlockId) -> int:
        deltas = await self._query(0, token_in, amount_in, block)
        return -deltas[1]

    async def quote_out(self, token_in: Token, amount_out: int, block: BlockId) -> int:
        deltas = await self._query(1, token_in, amount_out, block)
        return deltas[0]

    def spender(self) -> str:
        assert self.dex.vault
        return self.dex.vault

    def swap_call(
        self, token_in: Token, amount_in: int, min_out: int, recipient: str, deadline: int
    ) -> tuple[str, str]:
        single = (self.pool_id, 0, token_in.address, self.other(token_in).address, amount_in, b"")
        funds = (recipient, False, recipient, False)
        data = self._vault.encode_abi("swap", args=[single, funds, min_out, deadline])
        return self.spender(), data

    def log_filter(self) -> tuple[str, list[Any]]:
        assert self.dex.vault
        return self.dex.vault, [TOPIC_SWAP_BALANCER, "0x" + self.pool_id.hex()]

    def decode_swap(self, log: Any) -> SwapLog | None:
        block, bh, idx, th, data, topics = self._swap_log_fields(log)
        if len(topics) < 4 or topics[1] != self.pool_id:
            return None
        token_in = to_checksum_address(topics[2][12:])
        amount_in, amount_out = _uint(data, 0), _uint(data, 1)
        if token_in == self.quote.address:
            return SwapLog(
                block_number=block,
                block_hash=bh,
                log_index=idx,
                tx_hash=th,
                base_wei=amount_out,
                quote_wei=amount_in,
                side=1,
            )
        return SwapLog(
            block_number=block,
            block_hash=bh,
            log_index=idx,
            tx_hash=th,
            base_wei=amount_in,
            quote_wei=amount_out,
            side=-1,
        )

    async def reserves(self, block: BlockId) -> tuple[int, int]:
        tokens, balances, _ = await self._vault.functions.getPoolTokens(self.pool_id).call(
            block_identifier=block
        )
        by = {to_checksum_address(t): int(b) for t, b in zip(tokens, balances, strict=True)}
        return by[self.base.address], by[self.quote.address]


class CurvePool(PoolAdapter):
    """A Curve StableSwap pool: quotes by get_dy on chain, swaps by exchange.

    No registry ships deployable Curve bytecode, so this adapter is tested by its ABI encoding
    and recorded get_dy results (docs/venues/evm.md says so).
    """

    family = "curve"

    async def setup(self) -> None:
        if not self.address:
            raise ConfigError(f"a curve pool needs its address @ {self.where}.address")
        self._pool = self.w3.eth.contract(address=self.address, abi=abi("CurvePool"))
        coins = []
        for i in range(8):
            try:
                coins.append(to_checksum_address(await self._pool.functions.coins(i).call()))
            except Exception:  # coins(i) reverts past the last coin
                break
        if self.base.address not in coins or self.quote.address not in coins:
            raise ConfigError(
                f"curve pool {self.address} coins are {', '.join(coins)}; "
                f"{self.base.symbol} or {self.quote.symbol} is not among them @ {self.where}"
            )
        self.set_indices(coins.index(self.base.address), coins.index(self.quote.address))
        self.fee = Decimal(int(await self._pool.functions.fee().call())).scaleb(-10)

    def set_indices(self, base_index: int, quote_index: int) -> None:
        """Which coin index the base and quote tokens have in the pool."""
        self.base_index, self.quote_index = base_index, quote_index
        if not hasattr(self, "_pool"):
            self._pool = self.w3.eth.contract(
                address=self.address or "0x" + "00" * 20, abi=abi("CurvePool")
            )

    def _ij(self, token_in: Token) -> tuple[int, int]:
        if token_in is self.base:
            return self.base_index, self.quote_index
        return self.quote_index, self.base_index

    async def quote_in(self, token_in: Token, amount_in: int, block: BlockId) -> int:
        i, j = self._ij(token_in)
        return int(await self._pool.functions.get_dy(i, j, amount_in).call(block_identifier=block))

    async def quote_out(self, token_in: Token, amount_out: int, block: BlockId) -> int:
        # StableSwap has no get_dx on every pool: search the input whose get_dy covers it.
        lo, hi = 0, max(1, amount_out)
        while await self.quote_in(token_in, hi, block) < amount_out:
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if await self.quote_in(token_in, mid, block) >= amount_out:
                hi = mid
            else:
                lo = mid
        return hi

    def spender(self) -> str:
        return self.address

    def get_dy_call(self, token_in: Token, amount_in: int) -> str:
        """Calldata of get_dy for selling ``amount_in`` of ``token_in``."""
        i, j = self._ij(token_in)
        return str(self._pool.encode_abi("get_dy", args=[i, j, amount_in]))

    def swap_call(
        self, token_in: Token, amount_in: int, min_out: int, recipient: str, deadline: int
    ) -> tuple[str, str]:
        i, j = self._ij(token_in)
        return self.address, self._pool.encode_abi("exchange", args=[i, j, amount_in, min_out])

    def log_filter(self) -> tuple[str, list[Any]]:
        return self.address, [TOPIC_TOKEN_EXCHANGE_CURVE]

    def decode_swap(self, log: Any) -> SwapLog | None:
        block, bh, idx, th, data, _topics = self._swap_log_fields(log)
        sold_id, sold, bought_id, bought = abi_decode(
            ["int128", "uint256", "int128", "uint256"], data
        )
        if {sold_id, bought_id} != {self.base_index, self.quote_index}:
            return None
        if sold_id == self.quote_index:
            return SwapLog(
                block_number=block,
                block_hash=bh,
                log_index=idx,
                tx_hash=th,
                base_wei=bought,
                quote_wei=sold,
                side=1,
            )
        return SwapLog(
            block_number=block,
            block_hash=bh,
            log_index=idx,
            tx_hash=th,
            base_wei=sold,
            quote_wei=bought,
            side=-1,
        )


ADAPTERS: dict[str, type[PoolAdapter]] = {
    "uniswap-v2": UniswapV2Pool,
    "uniswap-v3": UniswapV3Pool,
    "balancer-v2": BalancerV2Pool,
    "curve": CurvePool,
}
