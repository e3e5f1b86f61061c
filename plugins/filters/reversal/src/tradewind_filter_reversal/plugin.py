"""The reversal filter: a signal against an open position closes that position first.

The second check of the seed's pre-trade chain (``ReversalDetectionHandler``: "Close existing
position if signal direction opposes it"). A filter cannot trade, so it answers with a Veto
whose ``action`` is ``"close_opposite"``: the engine refuses the signal as it stands and closes
the open opposite position (a reduce-only market order for its whole quantity, journaled like
any exit). The new entry is not sent in the same step: once flat, the strategy may emit the
signal again and it then runs the whole chain (max positions, exposure, ...) against the
portfolio as it is after the close, never against a guess of it.

``min_score`` keeps weak opposing signals from flipping a position: an opposing signal whose
score is below it is refused *without* closing anything (the position keeps its own exits).
Closing signals always pass.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.filtering.helpers import fmt_position
from tradewind.model import Signal, Veto
from tradewind.protocols import RiskContext

#: The Veto action that asks the engine to close the opposite position.
CLOSE_OPPOSITE = "close_opposite"


@attrs.frozen(kw_only=True)
class ReversalConfig:
    """Options of the reversal filter."""

    #: Least score of an opposing signal that closes the open position; weaker ones are
    #: refused and the position is kept. 0 (the seed's behaviour): every opposing signal closes.
    min_score: float = 0.0


class ReversalFilter:
    """Answers an opening signal against an open position with ``action="close_opposite"``."""

    name: ClassVar[str] = "reversal"
    config_class: ClassVar[type] = ReversalConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade", "veto:close_opposite"})
    essential: ClassVar[bool] = False

    def __init__(self, config: ReversalConfig) -> None:
        self.config = config

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Veto (closing the opposite position) an entry that opposes the open position."""
        if signal.intent != "open":
            return None
        pos = ctx.position(signal.instrument)
        if pos.is_flat or pos.side is signal.side:
            return None
        wants = signal.side.value
        opened = fmt_position(ctx, pos)
        if signal.score < self.config.min_score:
            return Veto(
                filter=self.name,
                reason=(
                    f"{wants} signal for {signal.instrument} opposes the open {opened}, but its "
                    f"score {signal.score:g} is below min_score {self.config.min_score:g}: "
                    f"position kept"
                ),
                signal=signal,
                ts_ns=signal.ts_ns,
            )
        return Veto(
            filter=self.name,
            reason=(
                f"{wants} signal for {signal.instrument} opposes the open {opened}: "
                f"closing it first"
            ),
            signal=signal,
            ts_ns=signal.ts_ns,
            action=CLOSE_OPPOSITE,
        )


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the reversal filter."""
    registry.add(ReversalFilter)
