"""Best execution on chain: the aggregators' quote model, the safety checks of a quoted
transaction, and the router that picks the best net quote (docs/aggregators.md)."""

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
