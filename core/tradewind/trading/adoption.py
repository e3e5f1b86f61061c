"""The entry price of a spot holding the host adopts (found at the venue, unknown to the
journal): a spot exchange reports a balance, not a position, so it knows no entry price.

- With capability ``"trades:account"`` the account's executions of the instrument are
  replayed first in, first out; the newest open lots that make up the holding are its entry
  (:func:`lots_from_trades`). Buying 0.1 at 50 000 and 0.1 at 52 000, then selling 0.05,
  leaves 0.05 @ 50 000 and 0.1 @ 52 000.
- Otherwise, or when the history does not cover the holding (a deposit, trades older than the
  venue keeps), the holding is priced at the first mark after adoption
  (:meth:`tradewind.trading.portfolio.Portfolio.mark`), journaled as a position with reason
  ``entry_priced``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tradewind.model import Fill, Position


def lots_from_trades(
    instrument: str, held: Decimal, fills: Sequence[Fill]
) -> tuple[tuple[Decimal, Decimal], ...] | None:
    """The ``(quantity, price)`` lots of a long holding of ``held`` rebuilt from the account's
    executions ``fills`` (any order): the newest lots left open by a first-in first-out replay,
    totalling ``held``. None when the replay leaves less than ``held`` long."""
    pos = Position(instrument=instrument)
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        pos = pos.apply(fill)
    if pos.quantity < held or held <= 0:
        return None
    out: list[tuple[Decimal, Decimal]] = []
    need = held
    for qty, price in reversed(pos.lots):
        take = min(qty, need)
        out.append((take, price))
        need -= take
        if need == 0:
            break
    return tuple(reversed(out))
