"""Instruments: what can be traded where, and how prices and sizes are quantised."""

from __future__ import annotations

import enum
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import attrs


class InstrumentKind(enum.Enum):
    """Whether an instrument is a spot pair or a perpetual future."""

    SPOT = "spot"
    PERP = "perp"


def _decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # str() keeps the shortest repr, so 0.1 stays 0.1 and not 0.1000000000000000055...
        return Decimal(str(value))
    return Decimal(value)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class Instrument:
    """A tradable instrument on one venue, with its quantisation and fee schedule.

    Fees are fractions of notional (0.0004 = 4 bp); negative maker fees are rebates.
    """

    venue: str
    symbol: str
    kind: InstrumentKind = InstrumentKind.SPOT
    tick_size: Decimal = attrs.field(converter=_decimal, default=Decimal("0.01"))
    lot_size: Decimal = attrs.field(converter=_decimal, default=Decimal("0.001"))
    min_notional: Decimal = attrs.field(converter=_decimal, default=Decimal("0"))
    maker_fee: Decimal = attrs.field(converter=_decimal, default=Decimal("0"))
    taker_fee: Decimal = attrs.field(converter=_decimal, default=Decimal("0"))
    #: The traded asset and the asset prices are quoted in ("BTC", "USDT"); empty when not
    #: known (a simulated venue without currencies). A perpetual settles in ``quote``.
    base: str = ""
    quote: str = ""

    def __attrs_post_init__(self) -> None:
        if self.tick_size <= 0:
            raise ValueError(f"{self.key}: tick_size must be positive, got {self.tick_size}")
        if self.lot_size <= 0:
            raise ValueError(f"{self.key}: lot_size must be positive, got {self.lot_size}")

    @property
    def settlement_currency(self) -> str:
        """The currency the instrument's P&L settles in: the quote currency, for spot and for
        linear perpetuals (the model has no inverse contracts); empty when not known."""
        return self.quote

    @property
    def key(self) -> str:
        """The instrument's identity, ``venue:symbol``."""
        return f"{self.venue}:{self.symbol}"

    def round_price(self, price: Decimal | float, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """Quantise a price to the tick size."""
        p = _decimal(price)
        return (p / self.tick_size).quantize(Decimal(1), rounding=rounding) * self.tick_size

    def round_size(self, size: Decimal | float) -> Decimal:
        """Quantise a size down to the lot size (never rounds up past what was asked)."""
        s = _decimal(size)
        return (s / self.lot_size).quantize(Decimal(1), rounding=ROUND_DOWN) * self.lot_size
