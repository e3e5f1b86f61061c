"""Swaps the venue builds itself through a configured pool, for when the aggregator fails or
misses its deadline: the pool's accounts read over RPC, quoted exactly as the program does
(:mod:`.whirlpool` for Orca Whirlpools, :mod:`.raydium` for Raydium CPMM pools), and the swap
instruction wrapped in the wallet's own transaction.

The transaction holds, in order: the compute-unit limit and price, the creation of the wallet's
associated token account of the output (idempotent; its rent paid by the wallet), wrapping SOL
when the input is native SOL (:mod:`.native`), the pool's swap instruction, and closing the
wrapped-SOL account when either side is native SOL. The venue checks it like an aggregator's
(:func:`~tradewind_venue_solana.txcheck.check_swap`) before signing.
"""

from __future__ import annotations

import attrs
from solana.rpc.async_api import AsyncClient
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction
from solders.pubkey import Pubkey
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
)

from . import raydium as ray
from . import whirlpool as wp
from .constants import NATIVE_MINT
from .native import unwrap_instruction, wrap_instructions
from .swapsource import SolSwapQuote


class DirectPoolError(Exception):
    """The pool could not be read or quoted; the message names it."""


@attrs.frozen(kw_only=True)
class DirectSwap:
    """A quoted swap through one pool and the instructions of its transaction."""

    quote: SolSwapQuote
    instructions: tuple[Instruction, ...]
    program: Pubkey
    pool: Pubkey


@attrs.frozen(kw_only=True)
class SwapAsk:
    """The swap the venue asks of a pool: the wallet, the two mints and their token programs,
    the amount in (ExactIn) or out (ExactOut), the slippage and the compute budget."""

    wallet: Pubkey
    input_mint: Pubkey
    input_program: Pubkey
    output_mint: Pubkey
    output_program: Pubkey
    amount: int
    swap_mode: str
    slippage_bps: int
    compute_unit_limit: int
    compute_unit_price: int

    @property
    def exact_in(self) -> bool:
        return self.swap_mode == "ExactIn"

    def user_in(self) -> Pubkey:
        """The wallet's associated token account of the input."""
        return get_associated_token_address(self.wallet, self.input_mint, self.input_program)

    def user_out(self) -> Pubkey:
        """The wallet's associated token account of the output."""
        return get_associated_token_address(self.wallet, self.output_mint, self.output_program)

    def check_pair(self, pool: str, mint_a: Pubkey, mint_b: Pubkey) -> None:
        """Refuse a pool (``pool`` names it) that does not trade this swap's two mints."""
        if {mint_a, mint_b} != {self.input_mint, self.output_mint}:
            raise DirectPoolError(
                f"{pool} trades {mint_a} and {mint_b}, not {self.input_mint} and {self.output_mint}"
            )


def _transaction(
    wallet: Pubkey,
    swap: Instruction,
    *,
    input_mint: Pubkey,
    output_mint: Pubkey,
    output_program: Pubkey,
    max_in: int,
    compute_unit_limit: int,
    compute_unit_price: int,
) -> tuple[Instruction, ...]:
    """The swap wrapped: budget, the output account, SOL wrapped and unwrapped when a side."""
    ixs: list[Instruction] = [
        set_compute_unit_limit(compute_unit_limit),
        set_compute_unit_price(compute_unit_price),
        create_idempotent_associated_token_account(wallet, wallet, output_mint, output_program),
    ]
    if input_mint == NATIVE_MINT:
        ixs += wrap_instructions(wallet, max_in)
    ixs.append(swap)
    if NATIVE_MINT in (input_mint, output_mint):
        ixs.append(unwrap_instruction(wallet))
    return tuple(ixs)


def _bound(amount: int, slippage_bps: int, *, up: bool) -> int:
    """``amount`` moved by the slippage: the most paid (up) or the least received."""
    if up:
        return -(-amount * (10_000 + slippage_bps) // 10_000)
    return amount * (10_000 - slippage_bps) // 10_000


async def _pool_data(
    client: AsyncClient, address: Pubkey, program: Pubkey, what: str, program_name: str
) -> bytes:
    """The data of the pool account at ``address`` (``what``), which ``program`` must own."""
    got = (await client.get_account_info(address)).value
    if got is None or got.owner != program:
        raise DirectPoolError(
            f"{what} {address}: no account of the {program_name} program "
            f"({'none' if got is None else f'owner {got.owner}'})"
        )
    return bytes(got.data)


def _direct_swap(
    route: str,
    program: Pubkey,
    pool: Pubkey,
    swap: Instruction,
    ask: SwapAsk,
    *,
    in_amount: int,
    out_amount: int,
    threshold: int,
) -> DirectSwap:
    """The quote of ``ask``'s swap through one pool and its transaction's instructions.
    ``threshold``: the least received (ExactIn) or the most paid (ExactOut), which also bounds
    the SOL wrapped for an ExactOut swap of native SOL."""
    quote = SolSwapQuote(
        input_mint=str(ask.input_mint),
        output_mint=str(ask.output_mint),
        swap_mode=ask.swap_mode,
        in_amount=in_amount,
        out_amount=out_amount,
        other_amount_threshold=threshold,
        slippage_bps=ask.slippage_bps,
        route=(f"{route} {pool} 100% (direct)",),
    )
    ixs = _transaction(
        ask.wallet,
        swap,
        input_mint=ask.input_mint,
        output_mint=ask.output_mint,
        output_program=ask.output_program,
        max_in=in_amount if ask.exact_in else threshold,
        compute_unit_limit=ask.compute_unit_limit,
        compute_unit_price=ask.compute_unit_price,
    )
    return DirectSwap(quote=quote, instructions=ixs, program=program, pool=pool)


async def amm_v4_swap(
    client: AsyncClient,
    address: Pubkey,
    ask: SwapAsk,
) -> DirectSwap:
    """Quote and build a swap through the Raydium AMM v4 pool at ``address``: its account,
    then its two vaults and its OpenBook market account in one call."""
    data = await _pool_data(client, address, ray.AMM_V4_PROGRAM, "AMM v4 pool", "AMM v4")
    try:
        pool = ray.decode_amm_v4(address, data)
    except ray.RaydiumError as exc:
        raise DirectPoolError(str(exc)) from None
    ask.check_pair(f"AMM v4 pool {address}", pool.base_mint, pool.quote_mint)
    base_vault, quote_vault, market = (
        await client.get_multiple_accounts([pool.base_vault, pool.quote_vault, pool.market_id])
    ).value
    if base_vault is None or quote_vault is None or market is None:
        raise DirectPoolError(f"AMM v4 pool {address}: a vault or its market has no account")
    base_in = ask.input_mint == pool.base_mint
    exact_in = ask.exact_in
    slippage = ask.slippage_bps / 10_000
    amount = ask.amount
    try:
        keys = ray.decode_openbook_market(pool.market_id, bytes(market.data), pool.market_program)
        reserves = ray.amm_v4_reserves(
            pool,
            int.from_bytes(bytes(base_vault.data)[64:72], "little"),
            int.from_bytes(bytes(quote_vault.data)[64:72], "little"),
        )
        q = (
            ray.amm_v4_quote_in(reserves, amount, base_in=base_in, slippage=slippage)
            if exact_in
            else ray.amm_v4_quote_out(reserves, amount, base_in=base_in, slippage=slippage)
        )
        swap = ray.amm_v4_swap_instruction(
            pool,
            keys,
            user_in=ask.user_in(),
            user_out=ask.user_out(),
            owner=ask.wallet,
            amount=amount,
            threshold=q.bound,
            exact_in=exact_in,
        )
    except ray.RaydiumError as exc:
        raise DirectPoolError(f"AMM v4 pool {address}: {exc}") from None
    return _direct_swap(
        "Raydium AMM v4",
        ray.AMM_V4_PROGRAM,
        address,
        swap,
        ask,
        in_amount=q.amount_in,
        out_amount=q.amount_out,
        threshold=q.bound,
    )


async def cpmm_swap(
    client: AsyncClient,
    address: Pubkey,
    ask: SwapAsk,
) -> DirectSwap:
    """Quote and build a swap through the Raydium CPMM pool at ``address``: its account, its
    AMM config and its two vaults read in one call after the pool."""
    data = await _pool_data(client, address, ray.CPMM_PROGRAM, "CPMM pool", "CPMM")
    try:
        pool = ray.decode_cpmm_pool(address, data)
    except ray.RaydiumError as exc:
        raise DirectPoolError(str(exc)) from None
    ask.check_pair(f"CPMM pool {address}", pool.mint_a, pool.mint_b)
    cfg_acc, vault_a, vault_b = (
        await client.get_multiple_accounts([pool.config, pool.vault_a, pool.vault_b])
    ).value
    if cfg_acc is None or vault_a is None or vault_b is None:
        raise DirectPoolError(f"CPMM pool {address}: its config or a vault has no account")
    try:
        cfg = ray.cpmm_effective_config(
            pool, ray.decode_cpmm_config(pool.config, bytes(cfg_acc.data))
        )
        a_in = ask.input_mint == pool.mint_a
        reserves = ray.cpmm_reserves(
            pool,
            int.from_bytes(bytes(vault_a.data)[64:72], "little"),
            int.from_bytes(bytes(vault_b.data)[64:72], "little"),
        )
        on_input = ray.cpmm_creator_fee_on_input(pool, a_in=a_in)
        amount, exact_in = ask.amount, ask.exact_in
        if exact_in:
            q = ray.cpmm_quote_in(reserves, cfg, amount, a_in=a_in, creator_fee_on_input=on_input)
            threshold = _bound(q.amount_out, ask.slippage_bps, up=False)
        else:
            q = ray.cpmm_quote_out(reserves, cfg, amount, a_in=a_in, creator_fee_on_input=on_input)
            threshold = _bound(q.amount_in, ask.slippage_bps, up=True)
    except ray.RaydiumError as exc:
        raise DirectPoolError(f"CPMM pool {address}: {exc}") from None
    swap = ray.cpmm_swap_instruction(
        pool,
        payer=ask.wallet,
        user_in=ask.user_in(),
        user_out=ask.user_out(),
        a_in=a_in,
        amount=amount,
        threshold=threshold,
        exact_in=exact_in,
    )
    return _direct_swap(
        "Raydium CPMM",
        ray.CPMM_PROGRAM,
        address,
        swap,
        ask,
        in_amount=q.amount_in,
        out_amount=q.amount_out,
        threshold=threshold,
    )


async def whirlpool_swap(
    client: AsyncClient,
    address: Pubkey,
    ask: SwapAsk,
) -> DirectSwap:
    """Quote and build a swap through the Orca Whirlpool at ``address``."""
    data = await _pool_data(client, address, wp.WHIRLPOOL_PROGRAM, "whirlpool", "Whirlpool")
    try:
        pool = wp.decode_whirlpool(address, data)
    except wp.WhirlpoolError as exc:
        raise DirectPoolError(str(exc)) from None
    ask.check_pair(f"whirlpool {address}", pool.token_mint_a, pool.token_mint_b)
    a_to_b = ask.input_mint == pool.token_mint_a
    starts = wp.swap_tick_arrays(pool, a_to_b)
    keys = [wp.tick_array_address(address, s) for s in starts]
    accounts = (await client.get_multiple_accounts(keys)).value
    arrays = [
        wp.decode_tick_array(k, bytes(a.data))
        for k, a in zip(keys, accounts, strict=True)
        if a is not None and a.owner == wp.WHIRLPOOL_PROGRAM
    ]
    by_input = ask.exact_in
    try:
        q = wp.quote(
            pool,
            arrays,
            ask.amount,
            by_input=by_input,
            a_to_b=a_to_b,
            slippage_bps=ask.slippage_bps,
        )
    except wp.WhirlpoolError as exc:
        raise DirectPoolError(f"whirlpool {address}: {exc}") from None
    user_in, user_out = ask.user_in(), ask.user_out()
    programs = (ask.input_program, ask.output_program)
    prog_a, prog_b = programs if a_to_b else programs[::-1]
    swap = wp.swap_v2_instruction(
        pool=pool,
        token_program_a=prog_a,
        token_program_b=prog_b,
        authority=ask.wallet,
        owner_account_a=user_in if a_to_b else user_out,
        owner_account_b=user_out if a_to_b else user_in,
        tick_arrays=keys,
        oracle=wp.oracle_address(address),
        amount=ask.amount,
        other_amount_threshold=q.threshold,
        by_input=by_input,
        a_to_b=a_to_b,
    )
    return _direct_swap(
        "Whirlpool",
        wp.WHIRLPOOL_PROGRAM,
        address,
        swap,
        ask,
        in_amount=q.token_in,
        out_amount=q.token_out,
        threshold=q.threshold,
    )
