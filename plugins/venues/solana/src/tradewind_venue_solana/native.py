"""Native SOL in swaps: wrapping lamports into the wallet's wrapped-SOL (native mint) associated
token account before a swap that spends SOL, and closing that account after the swap, which
unwraps what it holds (and returns its rent) to the wallet.

Wrapping is a System transfer of lamports into the account followed by SPL Token ``SyncNative``
(the token amount of a native account is its lamports above rent); unwrapping is
``CloseAccount`` to the wallet. Both run in the swap's own transaction, so the wrapped-SOL
account is created and closed in it and its rent nets to zero: the fill is the wallet's lamport
change plus its token changes (:func:`~tradewind_venue_solana.schemas.balance_changes`).
"""

from __future__ import annotations

from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from spl.token.instructions import (
    close_account,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    sync_native,
)
from spl.token.models import CloseAccountParams, SyncNativeParams

from .constants import NATIVE_MINT, TOKEN_PROGRAM


def wsol_account(wallet: Pubkey) -> Pubkey:
    """The wallet's wrapped-SOL associated token account."""
    return get_associated_token_address(wallet, NATIVE_MINT, TOKEN_PROGRAM)


def wrap_instructions(wallet: Pubkey, lamports: int) -> list[Instruction]:
    """Create the wrapped-SOL account if needed, move ``lamports`` into it, sync its amount."""
    account = wsol_account(wallet)
    return [
        create_idempotent_associated_token_account(wallet, wallet, NATIVE_MINT, TOKEN_PROGRAM),
        transfer(TransferParams(from_pubkey=wallet, to_pubkey=account, lamports=lamports)),
        sync_native(SyncNativeParams(program_id=TOKEN_PROGRAM, account=account)),
    ]


def unwrap_instruction(wallet: Pubkey) -> Instruction:
    """Close the wrapped-SOL account: everything in it (and its rent) back to the wallet."""
    return close_account(
        CloseAccountParams(
            program_id=TOKEN_PROGRAM, account=wsol_account(wallet), dest=wallet, owner=wallet
        )
    )
