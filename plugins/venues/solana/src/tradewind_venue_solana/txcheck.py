"""The check a swap transaction passes before the wallet signs it.

A compromised or buggy aggregator could hand the wallet a transaction that pays the bought
tokens to someone else, spends more than the order allows, grants a delegate, or calls a
program nobody vetted. Each instruction is decoded here and the transaction is refused
(:class:`UnsafeSwap`, naming the check) unless:

- the fee payer is the wallet, and the message uses no address lookup table (its accounts
  could not be checked offline);
- every instruction's program is System, Compute Budget, SPL Token, Token-2022, Associated
  Token Account or one the config and the aggregator allow;
- the only instructions the wallet authorises on the token programs are transfers out of its
  own account of the input mint, summing to the order's amount (ExactIn) or at most the
  quote's bound (ExactOut); no approve, set-authority, close or burn;
- System instructions never move the wallet's lamports (account rent goes through ATA
  creation, paid for the wallet's own accounts only), except wrapping SOL: a transfer into
  the wallet's own wrapped-SOL account when the input is native SOL, at most the order's bound;
  the only ``CloseAccount`` allowed is of that wrapped-SOL account, back to the wallet;
- a direct pool swap (Orca Whirlpool ``swap_v2``, Raydium CPMM ``swap_base_input`` /
  ``swap_base_output``, Raydium AMM v4 ``swapBaseIn`` / ``swapBaseOut``) is of a pool the
  config names, authorised by the wallet, from its input account to its output account, its
  amount and threshold counted as paid and received;
- the output mint arrives in the wallet's associated token account, at least the order's
  minimum (ExactIn) or exactly the order's amount (ExactOut);
- the compute-unit price and limit are within the config's bounds, and every other signature
  the transaction needs is already present and valid.
"""

from __future__ import annotations

import struct
from collections.abc import Collection

import attrs
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.instructions import get_associated_token_address

from .constants import (
    ASSOCIATED_TOKEN_PROGRAM,
    BASE_PROGRAMS,
    COMPUTE_BUDGET_PROGRAM,
    MAX_COMPUTE_UNITS,
    NATIVE_MINT,
    SYSTEM_PROGRAM,
    TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
)
from .raydium import (
    AMM_V4_PROGRAM,
    CPMM_PROGRAM,
    CpmmSwap,
    decode_amm_v4_swap,
    decode_cpmm_swap,
)
from .whirlpool import WHIRLPOOL_PROGRAM, decode_swap_v2


class UnsafeSwap(Exception):
    """A swap transaction failed a check; it was not signed."""


@attrs.frozen(kw_only=True)
class SwapExpectation:
    """What the order allows."""

    wallet: Pubkey
    input_mint: Pubkey
    input_program: Pubkey
    output_mint: Pubkey
    output_program: Pubkey
    swap_mode: str
    #: ExactIn: the input sold exactly; ExactOut: the most the wallet may pay.
    max_in: int
    #: ExactIn: the least accepted out; ExactOut: the exact amount bought.
    min_out: int
    max_cu_price: int
    extra_programs: frozenset[Pubkey] = frozenset()
    #: Direct pools (Whirlpool accounts) the transaction may swap through.
    pools: frozenset[Pubkey] = frozenset()


@attrs.frozen
class CheckedSwap:
    """What the checked transaction does."""

    paid: int
    received: int
    compute_unit_limit: int
    compute_unit_price: int
    creates_accounts: tuple[str, ...]


_TOKEN_TRANSFER, _TOKEN_TRANSFER_CHECKED, _TOKEN_CLOSE, _TOKEN_SYNC_NATIVE = 3, 12, 9, 17
_SYSTEM_TRANSFER = 2
_TOKEN_AUTHORITY_OPS = {
    4: "Approve",
    13: "ApproveChecked",
    6: "SetAuthority",
    9: "CloseAccount",
    8: "Burn",
    15: "BurnChecked",
    5: "Revoke",
}


def check_swap(
    tx: VersionedTransaction, want: SwapExpectation, programs: Collection[Pubkey] = BASE_PROGRAMS
) -> CheckedSwap:
    """The checked swap of ``tx`` for ``want``; UnsafeSwap naming what is wrong otherwise."""
    msg = tx.message
    keys = list(msg.account_keys)
    if not keys or keys[0] != want.wallet:
        raise UnsafeSwap(
            f"the fee payer is {keys[0] if keys else 'missing'}, not the wallet {want.wallet}"
        )
    if list(getattr(msg, "address_table_lookups", []) or []):
        raise UnsafeSwap(
            "the transaction uses address lookup tables; its accounts cannot be "
            "checked before signing"
        )
    allowed = set(programs) | set(want.extra_programs)
    wallet_in = get_associated_token_address(want.wallet, want.input_mint, want.input_program)
    wallet_out = get_associated_token_address(want.wallet, want.output_mint, want.output_program)
    paid = received = 0
    cu_limit = cu_price = 0
    created: list[str] = []
    wrapped = 0
    native_in = want.input_mint == NATIVE_MINT
    wsol = wallet_in if native_in else wallet_out if want.output_mint == NATIVE_MINT else None
    for n, ix in enumerate(msg.instructions):
        program = keys[ix.program_id_index]
        accts = [keys[i] for i in ix.accounts]
        data = bytes(ix.data)
        where = f"instruction {n} ({program})"
        if program not in allowed:
            raise UnsafeSwap(
                f"{where}: program {program} is not one the swap may call "
                f"(allowed: {', '.join(sorted(map(str, allowed)))})"
            )
        if program == COMPUTE_BUDGET_PROGRAM:
            if data[:1] == b"\x02":
                cu_limit = struct.unpack_from("<I", data, 1)[0]
            elif data[:1] == b"\x03":
                cu_price = struct.unpack_from("<Q", data, 1)[0]
        elif program == SYSTEM_PROGRAM:
            if want.wallet in accts[:1]:
                if not (
                    native_in
                    and len(data) == 12
                    and struct.unpack_from("<I", data)[0] == _SYSTEM_TRANSFER
                    and accts[1:2] == [wallet_in]
                ):
                    raise UnsafeSwap(
                        f"{where}: a System instruction moves the wallet's "
                        "lamports (other than wrapping SOL into its own "
                        f"wrapped-SOL account {wallet_in})"
                    )
                wrapped += struct.unpack_from("<Q", data, 4)[0]
        elif program in (CPMM_PROGRAM, AMM_V4_PROGRAM):
            cp = (
                decode_cpmm_swap(data, accts)
                if program == CPMM_PROGRAM
                else decode_amm_v4_swap(data, accts)
            )
            if cp is None or cp.pool not in want.pools:
                raise UnsafeSwap(
                    f"{where}: not a Raydium swap of a configured pool "
                    f"({', '.join(sorted(map(str, want.pools))) or 'none'})"
                )
            signer = cp.payer if isinstance(cp, CpmmSwap) else cp.owner
            if signer != want.wallet or (cp.user_in, cp.user_out) != (wallet_in, wallet_out):
                raise UnsafeSwap(
                    f"{where}: swaps from {cp.user_in} to {cp.user_out} "
                    f"authorised by {signer}, not from the wallet's "
                    f"{wallet_in} to its {wallet_out}"
                )
            paid += cp.max_in
            received += cp.min_out
        elif program == WHIRLPOOL_PROGRAM:
            leg = decode_swap_v2(data, accts)
            if leg is None or leg.whirlpool not in want.pools:
                raise UnsafeSwap(
                    f"{where}: not a swap_v2 of a configured pool "
                    f"({', '.join(sorted(map(str, want.pools))) or 'none'})"
                )
            mine_in, mine_out = (
                (leg.owner_account_a, leg.owner_account_b)
                if leg.a_to_b
                else (leg.owner_account_b, leg.owner_account_a)
            )
            if leg.authority != want.wallet or (mine_in, mine_out) != (wallet_in, wallet_out):
                raise UnsafeSwap(
                    f"{where}: swaps from {mine_in} to {mine_out} authorised by "
                    f"{leg.authority}, not from the wallet's {wallet_in} to its "
                    f"{wallet_out}"
                )
            paid += leg.amount if leg.by_input else leg.other_amount_threshold
            received += leg.other_amount_threshold if leg.by_input else leg.amount
        elif program == ASSOCIATED_TOKEN_PROGRAM:
            # create / create idempotent: [payer, ata, owner, mint, system, token program];
            # the wallet pays rent only for its own accounts.
            if len(accts) < 6 or accts[1] != get_associated_token_address(
                accts[2], accts[3], accts[5]
            ):
                raise UnsafeSwap(f"{where}: not an associated token account creation")
            if accts[0] == want.wallet and accts[2] != want.wallet:
                raise UnsafeSwap(
                    f"{where}: the wallet pays for a token account owned by {accts[2]}"
                )
            if accts[2] == want.wallet:
                created.append(str(accts[1]))
        elif program in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
            tag = data[0] if data else -1
            if tag in (_TOKEN_TRANSFER, _TOKEN_TRANSFER_CHECKED):
                amount = struct.unpack_from("<Q", data, 1)[0]
                if tag == _TOKEN_TRANSFER:
                    src, mint, dst, auth = accts[0], None, accts[1], accts[2]
                else:
                    src, mint, dst, auth = accts[0], accts[1], accts[2], accts[3]
                if auth == want.wallet:
                    if src != wallet_in or (mint is not None and mint != want.input_mint):
                        raise UnsafeSwap(
                            f"{where}: moves the wallet's tokens out of {src}, "
                            f"not its {want.input_mint} account {wallet_in}"
                        )
                    if dst in (wallet_in, wallet_out):
                        continue
                    paid += amount
                elif dst == wallet_out:
                    if mint is not None and mint != want.output_mint:
                        raise UnsafeSwap(f"{where}: pays mint {mint}, not {want.output_mint}")
                    received += amount
            elif (
                tag == _TOKEN_CLOSE
                and wsol is not None
                and accts[:3] == [wsol, want.wallet, want.wallet]
            ):
                continue  # unwrapping: the wrapped-SOL account closed to the wallet
            elif tag == _TOKEN_SYNC_NATIVE and wsol is not None and accts[:1] == [wsol]:
                continue
            elif tag in _TOKEN_AUTHORITY_OPS and want.wallet in accts:
                raise UnsafeSwap(f"{where}: {_TOKEN_AUTHORITY_OPS[tag]} on the wallet's account")
            elif want.wallet in accts:
                raise UnsafeSwap(f"{where}: token instruction {tag} involves the wallet")
    if wrapped > want.max_in:
        raise UnsafeSwap(
            f"the transaction wraps {wrapped} lamports; the order spends at most {want.max_in}"
        )
    if want.swap_mode == "ExactIn" and paid != want.max_in:
        raise UnsafeSwap(
            f"the transaction pays {paid} of {want.input_mint}; the order sells "
            f"exactly {want.max_in}"
        )
    if want.swap_mode == "ExactOut" and paid > want.max_in:
        raise UnsafeSwap(
            f"the transaction pays {paid} of {want.input_mint}; the order allows "
            f"at most {want.max_in}"
        )
    if received < want.min_out:
        raise UnsafeSwap(
            f"the transaction pays {received} of {want.output_mint} to the wallet's account "
            f"{wallet_out}; the order needs at least {want.min_out} (the output goes elsewhere)"
        )
    if cu_limit > MAX_COMPUTE_UNITS:
        raise UnsafeSwap(f"compute-unit limit {cu_limit} is above {MAX_COMPUTE_UNITS}")
    if cu_price > want.max_cu_price:
        raise UnsafeSwap(
            f"compute-unit price {cu_price} micro-lamports is above the config's "
            f"max_priority_fee_micro_lamports {want.max_cu_price}"
        )
    signers = msg.header.num_required_signatures
    checks = tx.verify_with_results() if signers > 1 else []
    for i in range(1, signers):
        if not checks[i]:
            raise UnsafeSwap(f"the signature of {keys[i]} (signer {i}) is missing or invalid")
    return CheckedSwap(paid, received, cu_limit, cu_price, tuple(created))
