"""A landed transaction's metadata as the venue's domain values."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from .constants import LAMPORTS_PER_SOL


@attrs.frozen(kw_only=True)
class BalanceChanges:
    """What one transaction moved for the wallet, from its ``meta``."""

    signature: str
    slot: int
    #: Base units per mint (post - pre over the wallet's token accounts).
    tokens: Mapping[str, int]
    #: The network fee (base + priority) in lamports, from ``meta.fee``.
    fee_lamports: int
    #: The wallet's whole SOL change less the fee: rent of accounts it paid for (negative).
    other_lamports: int
    compute_units: int

    @property
    def cost_lamports(self) -> int:
        """Everything the wallet paid in SOL: fee plus rent of created accounts."""
        return self.fee_lamports - self.other_lamports

    @property
    def cost_sol(self) -> Decimal:
        """:attr:`cost_lamports` in SOL, exact."""
        return Decimal(self.cost_lamports) / LAMPORTS_PER_SOL


def _amounts(rows: Any, wallet: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows or ():
        if row.get("owner") == wallet:
            mint = row["mint"]
            out[mint] = out.get(mint, 0) + int(row["uiTokenAmount"]["amount"])
    return out


def balance_changes(tx: Mapping[str, Any], signature: str, wallet: str) -> BalanceChanges:
    """The wallet's balance changes in a ``getTransaction`` result (JSON shape)."""
    meta = tx["meta"]
    if meta.get("err") is not None:
        raise ValueError(f"transaction {signature} failed on chain: {meta['err']}")
    pre, post = _amounts(meta["preTokenBalances"], wallet), _amounts(
        meta["postTokenBalances"], wallet)
    tokens = {m: post.get(m, 0) - pre.get(m, 0) for m in set(pre) | set(post)}
    # The fee payer is account 0, the wallet (the pre-sign check makes sure of it).
    sol_delta = int(meta["postBalances"][0]) - int(meta["preBalances"][0])
    fee = int(meta["fee"])
    return BalanceChanges(
        signature=signature, slot=int(tx["slot"]), tokens={m: d for m, d in tokens.items() if d},
        fee_lamports=fee, other_lamports=sol_delta + fee,
        compute_units=int(meta.get("computeUnitsConsumed") or 0),
    )
