"""Options of the adverse-moves exit monitor (``[exits.adverse]`` in tradewind.toml)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import attrs

NS_PER_SECOND = 1_000_000_000


def _positive(_inst: Any, attr: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attr.name} must be positive, got {value!r}")


def _check_tiers(_inst: Any, _attr: attrs.Attribute[Any], value: tuple[float, ...]) -> None:
    for t in value:
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t < 1:
            raise ValueError(f"profit_tiers must be fractions in (0, 1), e.g. 0.003; got {t!r}")
    if any(b <= a for a, b in itertools.pairwise(value)):
        raise ValueError(f"profit_tiers must be strictly increasing, got {list(value)}")


def _check_moves(_inst: Any, _attr: attrs.Attribute[Any], value: tuple[int, ...]) -> None:
    for m in value:
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"moves must be whole numbers of at least 1, got {m!r}")


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """``tuple(value)``: the field's converter as a function, whose signature attrs reads
    without parsing a builtin's text signature (that parse compiles the tokenizer's patterns,
    ~6 ms of every process's start-up)."""
    return tuple(value)


@attrs.frozen(kw_only=True)
class AdverseConfig:
    """Options of :class:`~tradewind_exit_adverse.plugin.AdverseMoves`.

    Defaults are the seed's numbers (section 2.6.2): profit below 0.3 % needs 5 consecutive
    adverse moves, below 1 % 3, below 2 % 2, else 1; prices sampled every 2 s, 15 s window.
    """

    #: Profit levels (fractions of the entry price) that separate the tiers, ascending.
    profit_tiers: tuple[float, ...] = attrs.field(
        default=(0.003, 0.01, 0.02), converter=_tuple, validator=_check_tiers
    )
    #: Consecutive adverse moves that trigger the exit in each tier, lowest profit first:
    #: one more entry than ``profit_tiers`` (``moves[i]`` applies while profit is below
    #: ``profit_tiers[i]``, the last one at or above the highest tier).
    moves: tuple[int, ...] = attrs.field(
        default=(5, 3, 2, 1), converter=_tuple, validator=_check_moves
    )
    #: Seconds between two price samples, on trade time from the position's open.
    interval_seconds: float = attrs.field(default=2.0, validator=_positive)
    #: Only moves between samples within this many seconds (inclusive) count: 15 s at 2 s
    #: holds 7 moves.
    window_seconds: float = attrs.field(default=15.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if len(self.moves) != len(self.profit_tiers) + 1:
            raise ValueError(
                f"moves needs one entry per profit tier plus one for profits above the last: "
                f"{len(self.profit_tiers)} tiers {list(self.profit_tiers)} need "
                f"{len(self.profit_tiers) + 1} moves, got {list(self.moves)}"
            )
        most = self.max_moves
        if most < 1:
            raise ValueError(
                f"window_seconds ({self.window_seconds:g}) is shorter than interval_seconds "
                f"({self.interval_seconds:g}): the window holds no move"
            )
        unreachable = [m for m in self.moves if m > most]
        if unreachable:
            raise ValueError(
                f"moves {unreachable} can never be reached: a {self.window_seconds:g} s window "
                f"sampled every {self.interval_seconds:g} s holds at most {most} moves"
            )

    @property
    def interval_ns(self) -> int:
        """The sampling interval in nanoseconds."""
        return round(self.interval_seconds * NS_PER_SECOND)

    @property
    def window_ns(self) -> int:
        """The window in nanoseconds."""
        return round(self.window_seconds * NS_PER_SECOND)

    @property
    def max_moves(self) -> int:
        """Moves between samples that fit in the window (both ends included)."""
        return self.window_ns // self.interval_ns
