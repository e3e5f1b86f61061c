"""Raydium AMM v4 and CPMM pools: account decoding, quotes and swap instructions.

Ports of what Raydium's SDK (``@raydium-io/raydium-sdk-v2``) computes: AMM v4 quotes as its
liquidity module's ``computeAmountOut`` / ``computeAmountIn`` (0.25 % fee, taken rounded up on
the input; reserves are the vaults less ``*NeedTakePnl``), CPMM quotes as its
``CurveCalculator.swapBaseInput`` / ``swapBaseOutput`` (trade fee and creator fee in 1e-6,
rounded up; reserves are the vaults less the protocol, fund and creator fees owed), and the
instructions as ``makeSwapFixedIn/OutInstruction`` (v4) and ``makeSwapCpmmBaseIn/Out
Instruction``. tests/test_solana_raydium.py checks all of it against the SDK under node.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal

import attrs
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

AMM_V4_PROGRAM = Pubkey.from_string("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8")
AMM_V4_AUTHORITY = Pubkey.from_string("5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1")
CPMM_PROGRAM = Pubkey.from_string("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")
CPMM_AUTHORITY = Pubkey.from_string("GpMZbSM2GgvTKHJirzeGfMFoaZ8UR2X7F4v8vHTvxFbL")
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
V4_FEE_NUMERATOR, V4_FEE_DENOMINATOR = 25, 10_000
CPMM_FEE_DENOMINATOR = 1_000_000
U64_MAX = 2**64 - 1


class RaydiumError(Exception):
    """A pool account or a quote the program would refuse."""


def _pk(data: bytes, offset: int) -> Pubkey:
    return Pubkey.from_bytes(data[offset : offset + 32])


def _u64(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<Q", data, offset)[0])


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _slipped(amount: int, factor: float) -> int:
    # The SDK: new Decimal(amount).mul(1 +/- slippage).toFixed(0) with decimal.js defaults (20
    # significant digits, half up), the factor a JS double printed shortest (Python's repr).
    ctx = Context(prec=20, rounding=ROUND_HALF_UP)
    product = ctx.multiply(Decimal(amount), Decimal(repr(factor)))
    return int(product.to_integral_value(ROUND_HALF_UP))


# -- AMM v4 ----------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class AmmV4Pool:
    """The fields of an AMM v4 pool account (752 bytes) a swap needs."""

    address: Pubkey
    base_decimals: int
    quote_decimals: int
    swap_fee_numerator: int
    swap_fee_denominator: int
    base_need_take_pnl: int
    quote_need_take_pnl: int
    base_vault: Pubkey
    quote_vault: Pubkey
    base_mint: Pubkey
    quote_mint: Pubkey
    open_orders: Pubkey
    market_id: Pubkey
    market_program: Pubkey
    target_orders: Pubkey


def decode_amm_v4(address: Pubkey, data: bytes) -> AmmV4Pool:
    """Decode an AMM v4 pool account (the SDK's ``liquidityStateV4Layout``)."""
    if len(data) != 752:
        raise RaydiumError(f"{address}: not an AMM v4 pool account ({len(data)} bytes, not 752)")
    return AmmV4Pool(
        address=address,
        base_decimals=_u64(data, 32),
        quote_decimals=_u64(data, 40),
        swap_fee_numerator=_u64(data, 176),
        swap_fee_denominator=_u64(data, 184),
        base_need_take_pnl=_u64(data, 192),
        quote_need_take_pnl=_u64(data, 200),
        base_vault=_pk(data, 336),
        quote_vault=_pk(data, 368),
        base_mint=_pk(data, 400),
        quote_mint=_pk(data, 432),
        open_orders=_pk(data, 496),
        market_id=_pk(data, 528),
        market_program=_pk(data, 560),
        target_orders=_pk(data, 592),
    )


@attrs.frozen
class Quote:
    """A pool quote: what goes in and out, the bound at the slippage, and the fee."""

    amount_in: int
    amount_out: int
    bound: int
    fee: int


def amm_v4_reserves(
    pool: AmmV4Pool, base_vault_amount: int, quote_vault_amount: int
) -> tuple[int, int]:
    """The tradable reserves: vault balances less the PnL the pool still owes."""
    return (
        base_vault_amount - pool.base_need_take_pnl,
        quote_vault_amount - pool.quote_need_take_pnl,
    )


def amm_v4_quote_in(
    reserves: tuple[int, int], amount_in: int, *, base_in: bool, slippage: float
) -> Quote:
    """Exact input: the SDK's ``computeAmountOut`` (min out rounded half up)."""
    r_in, r_out = reserves if base_in else reserves[::-1]
    fee = _ceil_div(amount_in * V4_FEE_NUMERATOR, V4_FEE_DENOMINATOR) if amount_in else 0
    net = amount_in - fee
    out = r_out * net // (r_in + net) if amount_in else 0
    return Quote(amount_in, out, _slipped(out, 1 - slippage), fee)


def amm_v4_quote_out(
    reserves: tuple[int, int], amount_out: int, *, base_in: bool, slippage: float
) -> Quote:
    """Exact output: the SDK's ``computeAmountIn`` (max in rounded half up)."""
    r_in, r_out = reserves if base_in else reserves[::-1]
    if amount_out == 0:
        return Quote(0, 0, 0, 0)
    want = r_out - 1 if amount_out > r_out else amount_out
    before_fee = r_in * want // (r_out - want)
    amount_in = before_fee * V4_FEE_DENOMINATOR // (V4_FEE_DENOMINATOR - V4_FEE_NUMERATOR)
    return Quote(amount_in, amount_out, _slipped(amount_in, 1 + slippage), amount_in - before_fee)


@attrs.frozen(kw_only=True)
class SerumMarketKeys:
    """The OpenBook market accounts an AMM v4 swap still lists."""

    bids: Pubkey
    asks: Pubkey
    event_queue: Pubkey
    base_vault: Pubkey
    quote_vault: Pubkey
    authority: Pubkey


def decode_openbook_market(address: Pubkey, data: bytes, program: Pubkey) -> SerumMarketKeys:
    """The accounts an AMM v4 swap lists from its OpenBook (Serum v3) market account (the
    SDK's ``MARKET_STATE_LAYOUT_V3``, 388 bytes); the vault signer is the program address of
    the market and its ``vaultSignerNonce``."""
    if len(data) < 388 or data[:5] != b"serum":
        raise RaydiumError(f"{address}: not an OpenBook market account ({len(data)} bytes)")
    nonce = data[45:53]
    try:
        authority = Pubkey.create_program_address([bytes(address), nonce], program)
    except Exception as exc:  # solders raises its own PubkeyError
        raise RaydiumError(
            f"{address}: vault signer nonce {int.from_bytes(nonce, 'little')} "
            f"gives no program address ({exc})"
        ) from None
    return SerumMarketKeys(
        bids=_pk(data, 285),
        asks=_pk(data, 317),
        event_queue=_pk(data, 253),
        base_vault=_pk(data, 117),
        quote_vault=_pk(data, 165),
        authority=authority,
    )


@attrs.frozen
class AmmV4Swap:
    """A decoded AMM v4 swap instruction: what the wallet's pre-sign check needs."""

    pool: Pubkey
    owner: Pubkey
    user_in: Pubkey
    user_out: Pubkey
    exact_in: bool
    #: swapBaseIn: the input sold; swapBaseOut: the most paid.
    max_in: int
    #: swapBaseIn: the least received; swapBaseOut: the output bought.
    min_out: int


def decode_amm_v4_swap(data: bytes, accounts: Sequence[Pubkey]) -> AmmV4Swap | None:
    """``swapBaseIn`` (9) / ``swapBaseOut`` (11) with the market's accounts (18); None for
    another instruction."""
    if len(data) < 17 or data[0] not in (9, 11) or len(accounts) != 18:
        return None
    first, second = struct.unpack_from("<QQ", data, 1)
    return AmmV4Swap(
        pool=accounts[1],
        owner=accounts[17],
        user_in=accounts[15],
        user_out=accounts[16],
        exact_in=data[0] == 9,
        max_in=first,
        min_out=second,
    )


def amm_v4_swap_instruction(
    pool: AmmV4Pool,
    market: SerumMarketKeys,
    *,
    user_in: Pubkey,
    user_out: Pubkey,
    owner: Pubkey,
    amount: int,
    threshold: int,
    exact_in: bool,
) -> Instruction:
    """``swapBaseIn`` (9: amount in, min out) or ``swapBaseOut`` (11: max in, amount out)."""
    if not (0 <= amount <= U64_MAX and 0 <= threshold <= U64_MAX):
        raise RaydiumError("an AMM v4 swap amount exceeds u64")
    data = (
        bytes([9]) + struct.pack("<QQ", amount, threshold)
        if exact_in
        else bytes([11]) + struct.pack("<QQ", threshold, amount)
    )
    w = lambda k: AccountMeta(k, False, True)  # noqa: E731
    r = lambda k: AccountMeta(k, False, False)  # noqa: E731
    metas = [
        r(TOKEN_PROGRAM),
        w(pool.address),
        r(AMM_V4_AUTHORITY),
        w(pool.open_orders),
        w(pool.target_orders),
        w(pool.base_vault),
        w(pool.quote_vault),
        r(pool.market_program),
        w(pool.market_id),
        w(market.bids),
        w(market.asks),
        w(market.event_queue),
        w(market.base_vault),
        w(market.quote_vault),
        r(market.authority),
        w(user_in),
        w(user_out),
        AccountMeta(owner, True, False),
    ]
    return Instruction(AMM_V4_PROGRAM, data, metas)


# -- CPMM ------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class CpmmPool:
    """The fields of a CPMM pool account a swap needs."""

    address: Pubkey
    config: Pubkey
    vault_a: Pubkey
    vault_b: Pubkey
    mint_a: Pubkey
    mint_b: Pubkey
    program_a: Pubkey
    program_b: Pubkey
    observation: Pubkey
    decimals_a: int
    decimals_b: int
    protocol_fees: tuple[int, int]
    fund_fees: tuple[int, int]
    creator_fees: tuple[int, int]
    enable_creator_fee: bool
    #: ``creator_fee_on``: 0 both tokens (on the input), 1 only token A, 2 only token B.
    creator_fee_on: int = 0


@attrs.frozen(kw_only=True)
class CpmmConfig:
    """An AMM config's fee rates (1e-6)."""

    trade_fee_rate: int
    protocol_fee_rate: int
    fund_fee_rate: int
    creator_fee_rate: int


def _anchor_account(data: bytes, name: str, address: Pubkey, size: int) -> None:
    if len(data) < size or data[:8] != hashlib.sha256(f"account:{name}".encode()).digest()[:8]:
        raise RaydiumError(f"{address}: not a CPMM {name} account ({len(data)} bytes)")


def decode_cpmm_pool(address: Pubkey, data: bytes) -> CpmmPool:
    """Decode a CPMM ``PoolState`` account (637 bytes)."""
    _anchor_account(data, "PoolState", address, 637)
    return CpmmPool(
        address=address,
        config=_pk(data, 8),
        vault_a=_pk(data, 72),
        vault_b=_pk(data, 104),
        mint_a=_pk(data, 168),
        mint_b=_pk(data, 200),
        program_a=_pk(data, 232),
        program_b=_pk(data, 264),
        observation=_pk(data, 296),
        decimals_a=data[331],
        decimals_b=data[332],
        protocol_fees=(_u64(data, 341), _u64(data, 349)),
        fund_fees=(_u64(data, 357), _u64(data, 365)),
        creator_fees=(_u64(data, 397), _u64(data, 405)),
        enable_creator_fee=data[390] == 1,
        creator_fee_on=data[389],
    )


def cpmm_creator_fee_on_input(pool: CpmmPool, *, a_in: bool) -> bool:
    """Whether the program takes the creator fee from the input (``PoolState::
    is_creator_fee_on_input`` of raydium-cp-swap): always with ``BothToken`` (0), else when the
    fee's token (1: token 0 = A, 2: token 1 = B) is the input. (The SDK's
    ``computeSwapAmount`` treats 2 as on the input in both directions; the program decides.)"""
    if pool.creator_fee_on not in (0, 1, 2):
        raise RaydiumError(f"{pool.address}: creator_fee_on {pool.creator_fee_on} is unknown")
    return pool.creator_fee_on == 0 or (pool.creator_fee_on == 1) == a_in


def cpmm_effective_config(pool: CpmmPool, cfg: CpmmConfig) -> CpmmConfig:
    """The config's rates as the pool applies them (no creator fee unless it enables one)."""
    return cfg if pool.enable_creator_fee else attrs.evolve(cfg, creator_fee_rate=0)


def decode_cpmm_config(address: Pubkey, data: bytes) -> CpmmConfig:
    """Decode a CPMM ``AmmConfig`` account (236 bytes)."""
    _anchor_account(data, "AmmConfig", address, 236)
    return CpmmConfig(
        trade_fee_rate=_u64(data, 12),
        protocol_fee_rate=_u64(data, 20),
        fund_fee_rate=_u64(data, 28),
        creator_fee_rate=_u64(data, 108),
    )


def cpmm_reserves(pool: CpmmPool, vault_a_amount: int, vault_b_amount: int) -> tuple[int, int]:
    """The tradable reserves: vault balances less the fees owed to protocol, fund, creator."""
    return (
        vault_a_amount - pool.protocol_fees[0] - pool.fund_fees[0] - pool.creator_fees[0],
        vault_b_amount - pool.protocol_fees[1] - pool.fund_fees[1] - pool.creator_fees[1],
    )


def _pre_fee(amount: int, rate: int) -> int:
    if rate == 0:
        return amount
    return _ceil_div(amount * CPMM_FEE_DENOMINATOR, CPMM_FEE_DENOMINATOR - rate)


def cpmm_quote_in(
    reserves: tuple[int, int],
    cfg: CpmmConfig,
    amount_in: int,
    *,
    a_in: bool,
    creator_fee_on_input: bool,
) -> Quote:
    """Exact input: ``CurveCalculator.swapBaseInput`` (fee = trade fee)."""
    r_in, r_out = reserves if a_in else reserves[::-1]
    d = CPMM_FEE_DENOMINATOR
    trade_fee = _ceil_div(amount_in * cfg.trade_fee_rate, d)
    net = amount_in - trade_fee
    if creator_fee_on_input:
        net -= _ceil_div(amount_in * cfg.creator_fee_rate, d)
    out = net * r_out // (r_in + net)
    if not creator_fee_on_input:
        out -= _ceil_div(out * cfg.creator_fee_rate, d)
    return Quote(amount_in, out, 0, trade_fee)


def cpmm_quote_out(
    reserves: tuple[int, int],
    cfg: CpmmConfig,
    amount_out: int,
    *,
    a_in: bool,
    creator_fee_on_input: bool,
) -> Quote:
    """Exact output: ``CurveCalculator.swapBaseOutput``."""
    r_in, r_out = reserves if a_in else reserves[::-1]
    out_before = amount_out if creator_fee_on_input else _pre_fee(amount_out, cfg.creator_fee_rate)
    if out_before >= r_out:
        raise RaydiumError(f"the pool holds {r_out} of the output, {out_before} asked")
    net_in = _ceil_div(out_before * r_in, r_out - out_before)
    if creator_fee_on_input:
        gross = _pre_fee(net_in, cfg.trade_fee_rate + cfg.creator_fee_rate)
        fees = gross - net_in
        creator = fees * cfg.creator_fee_rate // (cfg.trade_fee_rate + cfg.creator_fee_rate)
        trade_fee = fees - creator
    else:
        gross = _pre_fee(net_in, cfg.trade_fee_rate)
        trade_fee = gross - net_in
    return Quote(gross, amount_out, 0, trade_fee)


def cpmm_swap_instruction(
    pool: CpmmPool,
    *,
    payer: Pubkey,
    user_in: Pubkey,
    user_out: Pubkey,
    a_in: bool,
    amount: int,
    threshold: int,
    exact_in: bool,
) -> Instruction:
    """``swap_base_input`` (amount in, min out) or ``swap_base_output`` (max in, amount out)."""
    name = "swap_base_input" if exact_in else "swap_base_output"
    first, second = (amount, threshold) if exact_in else (threshold, amount)
    data = hashlib.sha256(f"global:{name}".encode()).digest()[:8] + struct.pack(
        "<QQ", first, second
    )
    v_in, v_out, p_in, p_out, m_in, m_out = (
        (pool.vault_a, pool.vault_b, pool.program_a, pool.program_b, pool.mint_a, pool.mint_b)
        if a_in
        else (pool.vault_b, pool.vault_a, pool.program_b, pool.program_a, pool.mint_b, pool.mint_a)
    )
    w = lambda k: AccountMeta(k, False, True)  # noqa: E731
    r = lambda k: AccountMeta(k, False, False)  # noqa: E731
    metas = [
        AccountMeta(payer, True, False),
        r(CPMM_AUTHORITY),
        r(pool.config),
        w(pool.address),
        w(user_in),
        w(user_out),
        w(v_in),
        w(v_out),
        r(p_in),
        r(p_out),
        r(m_in),
        r(m_out),
        w(pool.observation),
    ]
    return Instruction(CPMM_PROGRAM, data, metas)


@attrs.frozen
class CpmmSwap:
    """A decoded CPMM swap instruction: what the wallet's pre-sign check needs."""

    pool: Pubkey
    payer: Pubkey
    user_in: Pubkey
    user_out: Pubkey
    exact_in: bool
    #: ExactIn: the input sold; ExactOut: the most paid.
    max_in: int
    #: ExactIn: the least received; ExactOut: the output bought.
    min_out: int


_CPMM_SWAPS = {
    hashlib.sha256(f"global:{name}".encode()).digest()[:8]: name == "swap_base_input"
    for name in ("swap_base_input", "swap_base_output")
}


def decode_cpmm_swap(data: bytes, accounts: Sequence[Pubkey]) -> CpmmSwap | None:
    """``swap_base_input`` / ``swap_base_output`` fields; None for another instruction."""
    exact_in = _CPMM_SWAPS.get(data[:8])
    if exact_in is None or len(data) < 24 or len(accounts) < 13:
        return None
    first, second = struct.unpack_from("<QQ", data, 8)
    return CpmmSwap(
        pool=accounts[3],
        payer=accounts[0],
        user_in=accounts[4],
        user_out=accounts[5],
        exact_in=exact_in,
        max_in=first,
        min_out=second,
    )
