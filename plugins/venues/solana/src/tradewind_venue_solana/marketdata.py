"""Market data from a pool's own accounts: its swaps decoded from the transactions that touch
its vaults, and its state (price, liquidity) from the vault balances.

Any pool that keeps its reserves in two token accounts (Raydium AMM v4 and CPMM, Orca
Whirlpool, a market maker's RFQ accounts) is read the same way: a transaction's trade is the
change of the two vault balances in its ``preTokenBalances`` / ``postTokenBalances`` — size the
base vault's change, price the quote change over it, and the aggressor side from the direction
(the base vault paid out: a taker bought, +1; it took base in: a taker sold, -1). A transaction
that moves only one vault (a deposit, a fee claim) is no trade.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
from solders.transaction import VersionedTransaction
from tradewind.model import TickBatch


@attrs.frozen(kw_only=True)
class PoolTrade:
    """One decoded swap."""

    signature: str
    slot: int
    ts_ns: int
    price: Decimal
    size: Decimal
    side: int


def _vault_amounts(rows: Any, index: Mapping[int, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows or ():
        key = index.get(int(row["accountIndex"]))
        if key is not None:
            out[key] = int(row["uiTokenAmount"]["amount"])
    return out


def decode_pool_trade(
    tx: Mapping[str, Any],
    signature: str,
    *,
    base_vault: str,
    quote_vault: str,
    base_decimals: int,
    quote_decimals: int,
) -> PoolTrade | None:
    """The swap a ``getTransaction`` result (base64 encoding) made on the pool, or None."""
    meta = tx.get("meta") or {}
    if meta.get("err") is not None:
        return None
    raw = base64.b64decode(tx["transaction"][0])
    keys = [str(k) for k in VersionedTransaction.from_bytes(raw).message.account_keys]
    index = {i: k for i, k in enumerate(keys) if k in (base_vault, quote_vault)}
    pre = _vault_amounts(meta.get("preTokenBalances"), index)
    post = _vault_amounts(meta.get("postTokenBalances"), index)
    d_base = post.get(base_vault, 0) - pre.get(base_vault, 0)
    d_quote = post.get(quote_vault, 0) - pre.get(quote_vault, 0)
    if d_base == 0 or d_quote == 0 or (d_base > 0) == (d_quote > 0):
        return None
    size = Decimal(abs(d_base)).scaleb(-base_decimals)
    quote = Decimal(abs(d_quote)).scaleb(-quote_decimals)
    block_time = int(tx.get("blockTime") or 0)
    return PoolTrade(
        signature=signature,
        slot=int(tx["slot"]),
        ts_ns=block_time * 10**9,
        price=quote / size,
        size=size,
        side=1 if d_base < 0 else -1,
    )


def trades_to_batch(instrument: str, trades: Sequence[PoolTrade]) -> TickBatch:
    """Trades (oldest first) as a TickBatch; trade ids are slot x 1000 + position in slot."""
    ids, last_slot, n = [], None, 0
    for t in trades:
        n = n + 1 if t.slot == last_slot else 0
        last_slot = t.slot
        ids.append(t.slot * 1000 + n)
    return TickBatch.from_arrays(
        instrument,
        np.array([t.ts_ns for t in trades], dtype=np.int64),
        np.array([float(t.price) for t in trades], dtype=np.float64),
        np.array([float(t.size) for t in trades], dtype=np.float64),
        np.array([t.side for t in trades], dtype=np.int8),
        np.array(ids, dtype=np.int64),
    )
