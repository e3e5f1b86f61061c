"""Options of the portfolio guard (``[exits.guard]`` in tradewind.toml)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

NS_PER_MINUTE = 60_000_000_000


def _fraction(_inst: Any, attr: attrs.Attribute[Any], value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{attr.name} must be a fraction in (0, 1), e.g. 0.05; got {value!r}")


def _positive(_inst: Any, attr: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attr.name} must be positive, got {value!r}")


def _instrument_key(_inst: Any, attr: attrs.Attribute[Any], value: str) -> None:
    if value and ":" not in value:
        raise ValueError(
            f'{attr.name} must be an instrument key "<venue>:<symbol>", e.g. '
            f'"binance:BTCUSDT" (or "" to disable); got {value!r}'
        )


def _instrument_keys(_inst: Any, attr: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for key in value:
        if not isinstance(key, str) or ":" not in key:
            raise ValueError(
                f'{attr.name} must list instrument keys "<venue>:<symbol>", got {key!r}'
            )


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """``tuple(value)``: the field's converter as a function, whose signature attrs reads
    without parsing a builtin's text signature (that parse compiles the tokenizer's patterns,
    ~6 ms of every process's start-up)."""
    return tuple(value)


@attrs.frozen(kw_only=True)
class GuardConfig:
    """Options of :class:`~tradewind_exit_guard.plugin.PortfolioGuard`.

    Defaults are the seed's (section 2.2.5): the circuit breaker closes everything at a 5 %
    daily drawdown; a leader (BTC) dropping 1.5 % within 5 minutes closes correlated longs.
    """

    #: Close every position once equity is this fraction below the UTC day's starting equity,
    #: and keep closing any position for the rest of that day (seed: 5 %).
    daily_drawdown_pct: float = attrs.field(default=0.05, validator=_fraction)
    #: The market leader's instrument key; "" disables correlated exits.
    leader: str = attrs.field(default="binance:BTCUSDT", validator=_instrument_key)
    #: Close follower longs when the leader is this fraction below its highest mark of the
    #: window (seed: BTC dumps 1.5 % in 5 minutes).
    leader_drop_pct: float = attrs.field(default=0.015, validator=_fraction)
    #: The window of the leader's drop, in minutes (seed: 5).
    leader_window_minutes: float = attrs.field(default=5.0, validator=_positive)
    #: Instruments whose longs follow the leader; empty = every instrument but the leader.
    followers: tuple[str, ...] = attrs.field(
        default=(), converter=_tuple, validator=_instrument_keys
    )

    @property
    def leader_window_ns(self) -> int:
        """The leader's window in nanoseconds."""
        return round(self.leader_window_minutes * NS_PER_MINUTE)
