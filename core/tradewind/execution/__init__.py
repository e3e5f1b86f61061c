"""Best execution on chain: the aggregators' quote model, the safety checks of a quoted
transaction, and the router that picks the best net quote (docs/aggregators.md).

The names below are imported from :mod:`.quotes` and :mod:`.router` at their first use
(PEP 562): every config imports :mod:`tradewind.execution.config` (``[routing]``), and a run
without aggregators — every backtest — uses neither module (issue 17: start-up)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradewind.execution.quotes import (
        AggregatorError,
        KnownRouter,
        SwapQuote,
        SwapRequest,
        TxRequest,
        UnsafeTransaction,
        check_transaction,
    )
    from tradewind.execution.router import (
        BestExecutionRouter,
        Considered,
        NotSent,
        RouteResult,
        RoutingFailed,
    )

#: Each public name and the module that defines it.
_WHERE = {
    "AggregatorError": "quotes",
    "KnownRouter": "quotes",
    "SwapQuote": "quotes",
    "SwapRequest": "quotes",
    "TxRequest": "quotes",
    "UnsafeTransaction": "quotes",
    "check_transaction": "quotes",
    "BestExecutionRouter": "router",
    "Considered": "router",
    "NotSent": "router",
    "RouteResult": "router",
    "RoutingFailed": "router",
}

__all__ = [
    "AggregatorError",
    "BestExecutionRouter",
    "Considered",
    "KnownRouter",
    "NotSent",
    "RouteResult",
    "RoutingFailed",
    "SwapQuote",
    "SwapRequest",
    "TxRequest",
    "UnsafeTransaction",
    "check_transaction",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later reads find it without this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
