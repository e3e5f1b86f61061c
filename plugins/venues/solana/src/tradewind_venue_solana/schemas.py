"""A landed transaction's metadata as the venue's domain values."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from .constants import LAMPORTS_PER_SOL, NATIVE_MINT

NATIVE_MINT_STR = str(NATIVE_MINT)


@attrs.frozen(kw_only=True)
class BalanceChanges:
    """What one transaction moved for the wallet, from its ``meta``."""

    signature: str
    slot: int
    #: Base units per mint (post - pre over the wallet's token accounts; the native mint's
    #: units are the lamports held wrapped).
    tokens: Mapping[str, int]
    #: The network fee (base + priority) in lamports, from ``meta.fee``.
    fee_lamports: int
    #: Rent the wallet locked in token accounts the transaction created (positive), less rent
    #: returned by token accounts it closed (a wrapped-SOL account created and closed in the
    #: same transaction nets to zero).
    rent_lamports: int
    #: SOL traded, in lamports (+ received, - spent): the wallet's lamport change plus its
    #: wrapped-SOL change, the fee and the rent added back. Zero in a swap of two SPL tokens.
    native_lamports: int
    compute_units: int

    @property
    def other_lamports(self) -> int:
        """The wallet's lamport change less the fee and the SOL traded (minus the rent)."""
        return -self.rent_lamports

    @property
    def cost_lamports(self) -> int:
        """Everything the wallet paid in SOL besides the trade: fee plus rent."""
        return self.fee_lamports + self.rent_lamports

    @property
    def cost_sol(self) -> Decimal:
        """:attr:`cost_lamports` in SOL, exact."""
        return Decimal(self.cost_lamports) / LAMPORTS_PER_SOL


def _rows(rows: Any, wallet: str) -> dict[int, tuple[str, int]]:
    """The wallet's token accounts: account index -> (mint, amount)."""
    return {
        int(r["accountIndex"]): (r["mint"], int(r["uiTokenAmount"]["amount"]))
        for r in rows or ()
        if r.get("owner") == wallet
    }


def _amounts(rows: Mapping[int, tuple[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for mint, amount in rows.values():
        out[mint] = out.get(mint, 0) + amount
    return out


def _rent(rows: Mapping[int, tuple[str, int]], lamports: Any) -> int:
    """Lamports of those token accounts that are not wrapped SOL: their rent."""
    return sum(
        int(lamports[i]) - (amount if mint == NATIVE_MINT_STR else 0)
        for i, (mint, amount) in rows.items()
    )


def balance_changes(tx: Mapping[str, Any], signature: str, wallet: str) -> BalanceChanges:
    """The wallet's balance changes in a ``getTransaction`` result (JSON shape)."""
    meta = tx["meta"]
    if meta.get("err") is not None:
        raise ValueError(f"transaction {signature} failed on chain: {meta['err']}")
    pre_rows, post_rows = (
        _rows(meta["preTokenBalances"], wallet),
        _rows(meta["postTokenBalances"], wallet),
    )
    pre, post = _amounts(pre_rows), _amounts(post_rows)
    tokens = {m: post.get(m, 0) - pre.get(m, 0) for m in set(pre) | set(post)}
    rent = _rent(post_rows, meta["postBalances"]) - _rent(pre_rows, meta["preBalances"])
    # The fee payer is account 0, the wallet (the pre-sign check makes sure of it).
    sol_delta = int(meta["postBalances"][0]) - int(meta["preBalances"][0])
    fee = int(meta["fee"])
    return BalanceChanges(
        signature=signature,
        slot=int(tx["slot"]),
        tokens={m: d for m, d in tokens.items() if d},
        fee_lamports=fee,
        rent_lamports=rent,
        native_lamports=sol_delta + fee + rent + tokens.get(NATIVE_MINT_STR, 0),
        compute_units=int(meta.get("computeUnitsConsumed") or 0),
    )
