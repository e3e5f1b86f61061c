"""What the strategy proposes and what risk filters say about it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from tradewind.model.orders import Side


@attrs.frozen(kw_only=True)
class Signal:
    """A trade idea: side, entry, protective stop, score and the values that produced it."""

    instrument: str
    side: Side
    entry: Decimal
    stop: Decimal
    score: float
    ts_ns: int
    reasons: Mapping[str, float] = attrs.field(factory=dict)
    quantity: Decimal | None = None
    intent: str = "open"  # "open" a position or "close" one (exits)


@attrs.frozen(kw_only=True)
class Veto:
    """A filter's refusal of a signal, with the reason journaled."""

    filter: str
    reason: str
    signal: Signal
    ts_ns: int
    #: What the engine does besides refusing: "" nothing; "close_opposite" close the position
    #: on the other side (a reversal; the signal may come again once flat); "close_all" close
    #: every position (a circuit breaker).
    action: str = ""
    #: Where the check ran: "" in one process; ``strategy-<shard>`` when an account-free
    #: filter ran on a strategy host of a cluster (docs/deployment.md).
    host: str = ""


@attrs.frozen(kw_only=True)
class ExitDecision:
    """An exit monitor's verdict that a position must close, and why."""

    monitor: str
    reason: str
    ts_ns: int
    price: float
