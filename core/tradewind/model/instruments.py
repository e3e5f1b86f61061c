"""Instruments: what can be traded where, and how prices and sizes are quantised."""

from __future__ import annotations

import enum
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, getcontext

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


_ONE = Decimal(1)


def _is_power_of_ten(step: Decimal) -> bool:
    """Whether ``step`` is ``1``, ``0.1``, ``0.01``, ... written with one digit (``0.10`` is
    not: its exponent is -2).

    For such a step, and an ``x`` whose coefficient has no more digits than the context's
    precision, ``x.quantize(step)`` is the same Decimal as ``(x / step).quantize(1) * step``:
    dividing by the step only moves the exponent (exact), the quantize rounds at the step's
    digit, and multiplying back moves the exponent to the step's, which is what quantizing to
    the step gives directly, with the same rounding, value and exponent (and the same
    InvalidOperation when the result has more digits than the precision). An ``x`` with more
    digits than the precision (a Decimal built from a long string) is rounded by the division
    first, so the two can differ in the last digit: only floats, whose shortest repr has at
    most 17 digits, take the one-quantize path (:data:`_FLOAT_DIGITS`)."""
    sign, digits, exponent = step.as_tuple()
    return sign == 0 and digits == (1,) and isinstance(exponent, int) and exponent <= 0


#: Most significant digits of ``str(float)`` (the shortest repr that round-trips).
_FLOAT_DIGITS = 17
#: Ticks below which a float's spacing is under a quarter tick (:meth:`Instrument.round_price`).
_GRID = float(2**50)


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
    #: Whether the tick and lot sizes are powers of ten (:func:`_is_power_of_ten`), known once.
    _tick_pow10: bool = attrs.field(init=False, repr=False, eq=False, default=False)
    _lot_pow10: bool = attrs.field(init=False, repr=False, eq=False, default=False)
    #: ``1 / tick_size`` as an int and as a float, for a power-of-ten tick (else 0).
    _tick_scale: int = attrs.field(init=False, repr=False, eq=False, default=0)
    _tick_scale_f: float = attrs.field(init=False, repr=False, eq=False, default=0.0)
    #: ``venue:symbol``, made once (:attr:`key` is read all over the engine's paths).
    _key: str = attrs.field(init=False, repr=False, eq=False, default="")

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_key", f"{self.venue}:{self.symbol}")
        if self.tick_size <= 0:
            raise ValueError(f"{self.key}: tick_size must be positive, got {self.tick_size}")
        if self.lot_size <= 0:
            raise ValueError(f"{self.key}: lot_size must be positive, got {self.lot_size}")
        object.__setattr__(self, "_tick_pow10", _is_power_of_ten(self.tick_size))
        if self._tick_pow10:
            scale = 10 ** -self.tick_size.as_tuple().exponent  # type: ignore[operator]
            object.__setattr__(self, "_tick_scale", scale)
            object.__setattr__(self, "_tick_scale_f", float(scale))
        object.__setattr__(self, "_lot_pow10", _is_power_of_ten(self.lot_size))

    @property
    def settlement_currency(self) -> str:
        """The currency the instrument's P&L settles in: the quote currency, for spot and for
        linear perpetuals (the model has no inverse contracts); empty when not known."""
        return self.quote

    @property
    def key(self) -> str:
        """The instrument's identity, ``venue:symbol`` (made when the instrument is)."""
        return self._key

    def round_price(self, price: Decimal | float, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """Quantise a price to the tick size."""
        tick = self.tick_size
        if self._tick_pow10:
            if type(price) is float:
                if getcontext().prec >= _FLOAT_DIGITS:
                    # A price on the tick's grid (a trade's, a close's): the float nearest to
                    # ``n`` ticks. Its shortest repr is then ``n`` ticks' value (another
                    # decimal of at most the tick's digits is a tick or more away, and both
                    # round to this float only if its spacing were a tick or more: not below
                    # 2**50 ticks), so the quantize below gives ``n`` ticks at the tick's
                    # exponent: ``tick * n``, exact, without the repr.
                    v = price * self._tick_scale_f
                    if -_GRID < v < _GRID:  # (NaN and infinities are not)
                        n = round(v)
                        if n and n / self._tick_scale == price:
                            return tick * n  # (an int operand is converted exactly)
                    # The same Decimal as the quotient formula below, in one operation.
                    return Decimal(str(price)).quantize(tick, rounding=rounding)
            elif type(price) is Decimal and +price == price:
                # A value the context's precision holds (``+price`` rounds to it: what
                # Decimal arithmetic gives, a stop computed from an entry): the division by
                # the step is exact, so the quotient formula's Decimal, in one operation
                # (:func:`_is_power_of_ten`). NaN is unequal to itself: the formula's path.
                return price.quantize(tick, rounding=rounding)
        p = _decimal(price)
        return (p / tick).quantize(_ONE, rounding=rounding) * tick

    def round_size(self, size: Decimal | float) -> Decimal:
        """Quantise a size down to the lot size (never rounds up past what was asked)."""
        lot = self.lot_size
        if self._lot_pow10:
            if type(size) is float:
                if getcontext().prec >= _FLOAT_DIGITS:
                    return Decimal(str(size)).quantize(lot, rounding=ROUND_DOWN)
            elif type(size) is Decimal and +size == size:  # as in :meth:`round_price`
                return size.quantize(lot, rounding=ROUND_DOWN)
        s = _decimal(size)
        return (s / lot).quantize(_ONE, rounding=ROUND_DOWN) * lot
