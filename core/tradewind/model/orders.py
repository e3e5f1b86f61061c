"""Orders, their states and fills."""

from __future__ import annotations

import enum
from decimal import Decimal

import attrs

from tradewind.model.frozen import builder


class Side(enum.Enum):
    """Order or position side."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.Enum):
    """How an order is priced."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(enum.Enum):
    """How long an order rests. POST_ONLY rests as maker or is rejected."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class OrderStatus(enum.Enum):
    """The order state machine's states."""

    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    #: True when no further change can happen. Set on each member below: an attribute read,
    #: where a property is a Python call (asked ~10 times per paper order and fill).
    is_terminal: bool


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
for _status in OrderStatus:
    _status.is_terminal = _status in _TERMINAL
del _status


#: The intents an order can carry (see :attr:`Order.intent`).
INTENTS: tuple[str, ...] = ("entry", "add", "reduce", "close", "flip")


@attrs.frozen(kw_only=True)
class Order:
    """An order request. ``client_order_id`` makes every submission idempotent."""

    client_order_id: str
    instrument: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    created_ts_ns: int = 0
    tag: str = ""
    #: Why the order exists: "entry" (opens a position), "add" (adds to one, see
    #: ``pyramiding``), "reduce", "close" (the whole position) or "flip" (through zero).
    intent: str = "entry"

    def __attrs_post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"order {self.client_order_id}: quantity must be positive")
        if self.type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and self.price is None:
            raise ValueError(f"order {self.client_order_id}: {self.type.value} order needs price")
        if self.type in (OrderType.STOP, OrderType.STOP_LIMIT) and self.stop_price is None:
            raise ValueError(
                f"order {self.client_order_id}: {self.type.value} order needs stop_price"
            )
        if self.intent not in INTENTS:
            raise ValueError(
                f"order {self.client_order_id}: intent must be one of {', '.join(INTENTS)}, "
                f"got {self.intent!r}"
            )


@attrs.frozen(kw_only=True)
class OrderReport:
    """A venue's statement of an order's state at one instant."""

    client_order_id: str
    instrument: str
    status: OrderStatus
    ts_ns: int
    filled_quantity: Decimal = Decimal(0)
    venue_order_id: str = ""
    reason: str = ""


@attrs.frozen(kw_only=True)
class Fill:
    """An execution of (part of) an order.

    ``fee`` is what the venue charged, in ``fee_currency`` (positive is paid). ``fee_currency``
    empty means the instrument's quote currency (the simulated venue's convention). A fee
    charged in the bought asset reduces what arrives: ``quantity`` is what was traded, and the
    account receives ``quantity - fee`` of the base asset (see :mod:`tradewind.trading.accounts`).
    """

    client_order_id: str
    instrument: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    ts_ns: int
    liquidity: str = "taker"
    trade_id: str = ""
    fee_currency: str = ""
    #: Which asset the fee was taken from: "quote" (default), "base" (the bought asset:
    #: what arrives is ``quantity - fee``) or "other" (a third currency, e.g. BNB).
    fee_asset: str = "quote"
    #: For a fee in a third currency: the price of one unit of ``fee_currency`` in the
    #: instrument's P&L currency when the fill was booked, from the host's marks at that
    #: moment (:meth:`tradewind.trading.portfolio.Portfolio.price_fee`); None when no price
    #: was known then (the fee cannot be taken out of its trade's P&L) or not a third currency.
    fee_rate: Decimal | None = None

    @property
    def fee_in_quote(self) -> Decimal:
        """The fee valued in the quote currency at the fill price (0 for a third currency,
        which is booked against that currency's balance instead)."""
        if self.fee_asset == "base":
            return self.fee * self.price
        if self.fee_asset == "other":
            return Decimal(0)
        return self.fee

    @property
    def fee_in_pnl(self) -> Decimal | None:
        """The fee in the instrument's P&L currency: :attr:`fee_in_quote`, or for a third
        currency the fee at its :attr:`fee_rate` (None when it has none)."""
        if self.fee_asset == "other":
            return None if self.fee_rate is None else self.fee * self.fee_rate
        return self.fee_in_quote

    @property
    def net_quantity(self) -> Decimal:
        """The base quantity that changes hands after a fee taken from the bought asset."""
        if self.fee_asset == "base" and self.side is Side.BUY:
            return self.quantity - self.fee
        return self.quantity


#: ``OrderReport(...)`` of every field, positionally in this order (the simulated venue's
#: reports and the journal's, made per fill).
new_report = builder(
    OrderReport,
    (
        "client_order_id",
        "instrument",
        "status",
        "ts_ns",
        "filled_quantity",
        "venue_order_id",
        "reason",
    ),
)

#: ``Fill(...)`` of every field, positionally in this order (the simulated venue's fills, and
#: the fills a paper run's journal reads back at its end).
new_fill = builder(
    Fill,
    (
        "client_order_id",
        "instrument",
        "side",
        "quantity",
        "price",
        "fee",
        "ts_ns",
        "liquidity",
        "trade_id",
        "fee_currency",
        "fee_asset",
        "fee_rate",
    ),
)
