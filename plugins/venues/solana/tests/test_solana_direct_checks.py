"""The pre-sign check on the transactions the venue builds itself (direct pools, wrapping
SOL): what a buggy builder or a wrong config could produce is refused before signing."""

from __future__ import annotations

import pytest
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.instructions import get_associated_token_address
from tradewind_venue_solana import raydium as ray
from tradewind_venue_solana import whirlpool as wp
from tradewind_venue_solana.constants import BASE_PROGRAMS, NATIVE_MINT, TOKEN_PROGRAM
from tradewind_venue_solana.native import unwrap_instruction, wrap_instructions, wsol_account
from tradewind_venue_solana.txcheck import SwapExpectation, UnsafeSwap, check_swap

WALLET = Keypair().pubkey()
USDC = Keypair().pubkey()
POOL = Keypair().pubkey()


def tx(*ixs: Instruction, payer: Pubkey = WALLET) -> VersionedTransaction:
    msg = MessageV0.try_compile(payer, list(ixs), [], Hash.default())
    return VersionedTransaction.populate(
        msg, [Signature.default()] * msg.header.num_required_signatures
    )


def whirlpool(address: Pubkey = POOL) -> wp.Whirlpool:
    return wp.Whirlpool(
        address=address,
        tick_spacing=64,
        fee_tier_index_seed=64,
        fee_rate=3000,
        protocol_fee_rate=1300,
        liquidity=10**12,
        sqrt_price=2**64,
        tick_current_index=0,
        token_mint_a=NATIVE_MINT,
        token_vault_a=Keypair().pubkey(),
        token_mint_b=USDC,
        token_vault_b=Keypair().pubkey(),
    )


def sell_sol(
    amount: int, threshold: int, *, pool: wp.Whirlpool | None = None, out_owner: Pubkey = WALLET
) -> Instruction:
    """swap_v2 selling ``amount`` SOL (token A) for USDC (B)."""
    pool = pool or whirlpool()
    return wp.swap_v2_instruction(
        pool=pool,
        token_program_a=TOKEN_PROGRAM,
        token_program_b=TOKEN_PROGRAM,
        authority=WALLET,
        owner_account_a=wsol_account(WALLET),
        owner_account_b=get_associated_token_address(out_owner, USDC, TOKEN_PROGRAM),
        tick_arrays=[wp.tick_array_address(pool.address, s) for s in (0, -5632, -11264)],
        oracle=wp.oracle_address(pool.address),
        amount=amount,
        other_amount_threshold=threshold,
        by_input=True,
        a_to_b=True,
    )


WANT = SwapExpectation(
    wallet=WALLET,
    input_mint=NATIVE_MINT,
    input_program=TOKEN_PROGRAM,
    output_mint=USDC,
    output_program=TOKEN_PROGRAM,
    swap_mode="ExactIn",
    max_in=1_000,
    min_out=140,
    max_cu_price=10**6,
    extra_programs=frozenset({wp.WHIRLPOOL_PROGRAM, ray.CPMM_PROGRAM}),
    pools=frozenset({POOL}),
)


def test_a_wrapped_sol_swap_through_the_configured_pool_passes():
    checked = check_swap(
        tx(*wrap_instructions(WALLET, 1_000), sell_sol(1_000, 140), unwrap_instruction(WALLET)),
        WANT,
        BASE_PROGRAMS,
    )
    assert (checked.paid, checked.received) == (1_000, 140)
    assert checked.creates_accounts == (str(wsol_account(WALLET)),)


@pytest.mark.parametrize(
    ("ixs", "match"),
    [
        # the swap of a pool the config does not name
        (
            lambda: [
                *wrap_instructions(WALLET, 1_000),
                sell_sol(1_000, 140, pool=whirlpool(Keypair().pubkey())),
            ],
            "not a swap_v2 of a configured pool",
        ),
        # the bought USDC paid to another owner's account
        (
            lambda: [
                *wrap_instructions(WALLET, 1_000),
                sell_sol(1_000, 140, out_owner=Keypair().pubkey()),
            ],
            "not from the wallet's",
        ),
        # wrapping more SOL than the order sells
        (lambda: [*wrap_instructions(WALLET, 5_000), sell_sol(1_000, 140)], "wraps 5000 lamports"),
        # selling more than the order
        (lambda: [*wrap_instructions(WALLET, 1_000), sell_sol(2_000, 140)], "sells exactly 1000"),
        # a threshold below the order's minimum
        (lambda: [*wrap_instructions(WALLET, 1_000), sell_sol(1_000, 139)], "at least 140"),
        # the wallet's lamports to anyone but its wrapped-SOL account
        (
            lambda: [
                transfer(
                    TransferParams(from_pubkey=WALLET, to_pubkey=Keypair().pubkey(), lamports=1_000)
                ),
                sell_sol(1_000, 140),
            ],
            "moves the wallet's lamports",
        ),
        # a CPMM swap of an unnamed pool
        (
            lambda: [
                ray.cpmm_swap_instruction(
                    ray.CpmmPool(
                        address=Keypair().pubkey(),
                        config=Keypair().pubkey(),
                        vault_a=Keypair().pubkey(),
                        vault_b=Keypair().pubkey(),
                        mint_a=NATIVE_MINT,
                        mint_b=USDC,
                        program_a=TOKEN_PROGRAM,
                        program_b=TOKEN_PROGRAM,
                        observation=Keypair().pubkey(),
                        decimals_a=9,
                        decimals_b=6,
                        protocol_fees=(0, 0),
                        fund_fees=(0, 0),
                        creator_fees=(0, 0),
                        enable_creator_fee=False,
                    ),
                    payer=WALLET,
                    user_in=wsol_account(WALLET),
                    user_out=get_associated_token_address(WALLET, USDC, TOKEN_PROGRAM),
                    a_in=True,
                    amount=1_000,
                    threshold=140,
                    exact_in=True,
                )
            ],
            "not a Raydium swap of a configured",
        ),
    ],
)
def test_unsafe_direct_swaps_are_refused_naming_why(ixs, match):
    with pytest.raises(UnsafeSwap, match=match):
        check_swap(tx(*ixs()), WANT, BASE_PROGRAMS)


def test_a_pool_program_the_swap_may_not_call_is_refused():
    want = SwapExpectation(
        **{
            **{
                f: getattr(WANT, f)
                for f in (
                    "wallet",
                    "input_mint",
                    "input_program",
                    "output_mint",
                    "output_program",
                    "swap_mode",
                    "max_in",
                    "min_out",
                    "max_cu_price",
                    "pools",
                )
            },
            "extra_programs": frozenset(),
        }
    )
    with pytest.raises(UnsafeSwap, match="is not one the swap may call"):
        check_swap(tx(*wrap_instructions(WALLET, 1_000), sell_sol(1_000, 140)), want, BASE_PROGRAMS)
