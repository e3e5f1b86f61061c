"""Options of the order-flow analyzer (``[analyzers.orderflow]`` in tradewind.toml)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
from tradewind.timeframes import parse_timeframe


def _check_timeframes(_inst: Any, _attr: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    if not value:
        raise ValueError('timeframes must name at least one timeframe, e.g. ["1m", "5m"]')
    seen: dict[int, str] = {}
    for text in value:
        try:
            ns = parse_timeframe(text)
        except ValueError as exc:
            raise ValueError(f"timeframes: {exc}") from None
        if ns in seen:
            raise ValueError(
                f"timeframes lists the same timeframe twice: {seen[ns]!r} and {text!r}"
            )
        seen[ns] = text


def _positive(_inst: Any, attr: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attr.name} must be positive, got {value!r}")


def _check_reset(_inst: Any, _attr: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        try:
            parse_timeframe(value)
        except ValueError as exc:
            raise ValueError(f"cvd_reset: {exc}") from None


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """``tuple(value)``: the field's converter as a function, whose signature attrs reads
    without parsing a builtin's text signature (that parse compiles the tokenizer's patterns,
    ~6 ms of every process's start-up)."""
    return tuple(value)


@attrs.frozen(kw_only=True)
class OrderFlowConfig:
    """Options of :class:`~tradewind_analyzer_orderflow.plugin.OrderFlowAnalyzer`.

    Defaults are the seed's numbers (shared design §5, level 3 and the exit rules).
    """

    #: Timeframes to measure, any order; the cascade runs over them fastest first.
    timeframes: tuple[str, ...] = attrs.field(
        default=("1m", "5m", "15m"), converter=_tuple, validator=_check_timeframes
    )
    #: Imbalance reported when a candle has buy volume and no sell volume (buy/0 is infinite).
    #: Ratios above it are capped to it too, so one stray candle cannot dominate an average.
    max_imbalance: float = attrs.field(default=100.0, validator=_positive)
    #: Long cascade: imbalances strictly falling from the fastest to the slowest timeframe
    #: and the fastest one above this (2.0 = at least 2:1 buy pressure).
    cascade_long_min: float = attrs.field(default=2.0, validator=_positive)
    #: Short cascade: imbalances strictly rising from the fastest to the slowest timeframe
    #: and the fastest one below this (0.5 = at least 2:1 sell pressure).
    cascade_short_max: float = attrs.field(default=0.5, validator=_positive)
    #: Exit signal for a long: fastest imbalance below this and rising towards slower ones.
    reversal_long_max: float = attrs.field(default=0.5, validator=_positive)
    #: Exit signal for a short: fastest imbalance above this and falling towards slower ones.
    reversal_short_min: float = attrs.field(default=2.0, validator=_positive)
    #: Reset the cumulative volume delta at each boundary of this timeframe (e.g. "1d" for a
    #: UTC-daily CVD); None keeps one running total from the first candle.
    cvd_reset: str | None = attrs.field(default=None, validator=_check_reset)

    def __attrs_post_init__(self) -> None:
        for name in ("cascade_long_min", "reversal_short_min"):
            if getattr(self, name) >= self.max_imbalance:
                raise ValueError(
                    f"{name} ({getattr(self, name)}) is not below max_imbalance "
                    f"({self.max_imbalance}); capped imbalances could never pass it"
                )
