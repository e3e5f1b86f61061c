"""The domain model: frozen, keyword-only attrs values shared by the core and every plugin."""

from tradewind.model.events import (
    CandleClosed,
    CircuitBreaker,
    ConnectionLost,
    DataQuality,
    Event,
    FillEvent,
    OrderFailed,
    OrderSubmitted,
    OrderUpdated,
    PositionChanged,
    PositionClosed,
    RunFinished,
    RunStarted,
    Severity,
    SignalEvent,
    SystemError,
    VetoEvent,
)
from tradewind.model.instruments import Instrument, InstrumentKind
from tradewind.model.market import NS_PER_SECOND, BookTop, Candle
from tradewind.model.orders import (
    Fill,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradewind.model.portfolio import Position
from tradewind.model.signals import ExitDecision, Signal, Veto
from tradewind.model.ticks import BUY, SELL, TickBatch

__all__ = [
    "BUY",
    "NS_PER_SECOND",
    "SELL",
    "BookTop",
    "Candle",
    "CandleClosed",
    "CircuitBreaker",
    "ConnectionLost",
    "DataQuality",
    "Event",
    "ExitDecision",
    "Fill",
    "FillEvent",
    "Instrument",
    "InstrumentKind",
    "Order",
    "OrderFailed",
    "OrderReport",
    "OrderStatus",
    "OrderSubmitted",
    "OrderType",
    "OrderUpdated",
    "Position",
    "PositionChanged",
    "PositionClosed",
    "RunFinished",
    "RunStarted",
    "Severity",
    "Side",
    "Signal",
    "SignalEvent",
    "SystemError",
    "TickBatch",
    "TimeInForce",
    "Veto",
    "VetoEvent",
]
