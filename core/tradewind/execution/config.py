"""Routing config: per chain, ``best`` (rank by net output) or a ``primary`` / ``fallback``
order, as in the seed's config shape::

    [routing]
    deadline_s = 2.0

    [routing.chains.1]
    mode = "best"

    [routing.chains.8453]
    primary = "zeroex"
    fallback = ["odos", "oneinch"]

Sources not named in an ordered chain are not tried. A chain not listed is ``best``. The
names are ``[aggregators.<key>]`` instances, or ``direct`` (the venue's own pool).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

#: The name of the venue's own pool among the quote sources.
DIRECT = "direct"


@attrs.frozen(kw_only=True)
class ChainRouting:
    """How one chain's quotes are chosen."""

    #: ``"best"`` (net output) or ``"ordered"`` (primary, then the fallbacks); empty: ordered
    #: when ``primary`` is set, else best.
    mode: str = attrs.field(default="", validator=attrs.validators.in_(("", "best", "ordered")))
    #: The source tried first (an ``[aggregators.<key>]`` instance or ``"direct"``).
    primary: str = ""
    #: The sources tried next, in order, when the one before fails before sending.
    fallback: tuple[str, ...] = ()

    def order(self) -> list[str] | None:
        """The order to try sources in, or None for best net output."""
        if self.mode == "best" or (not self.mode and not self.primary):
            if self.primary or self.fallback:
                raise ValueError('mode = "best" takes no primary / fallback')
            return None
        if not self.primary:
            raise ValueError('an ordered chain needs primary = "<aggregator>"')
        return [self.primary, *self.fallback]


@attrs.frozen(kw_only=True)
class RoutingConfig:
    """``[routing]``: how DEX orders are routed through the configured aggregators."""

    #: Seconds the router waits for every source's quote; later answers are failures.
    deadline_s: float = 2.0
    #: Largest accepted shortfall of the output below the quote, a fraction (the swap's
    #: minimum output is the quote less this).
    slippage: str = "0.005"
    #: Quote the venue's own pool too (source ``"direct"``) beside the aggregators.
    direct: bool = True
    #: Per chain id (a string key, as TOML tables need): ``{ mode, primary, fallback }``.
    chains: dict[str, ChainRouting] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.deadline_s <= 0:
            raise ValueError(f"deadline_s must be positive, got {self.deadline_s} @ $.routing")
        from decimal import Decimal, InvalidOperation

        try:
            ok = 0 <= Decimal(self.slippage) < 1
        except InvalidOperation:
            ok = False
        if not ok:
            raise ValueError(
                f"slippage must be a decimal fraction in [0, 1), got {self.slippage!r} "
                "@ $.routing.slippage"
            )

    def order_for(self, chain_id: int) -> list[str] | None:
        """The router's ``order`` argument for ``chain_id`` (None: best net output)."""
        chain = self.chains.get(str(chain_id))
        if chain is None:
            return None
        try:
            return chain.order()
        except ValueError as exc:
            raise ValueError(f"{exc} @ $.routing.chains.{chain_id}") from None

    def problems(self, aggregators: Iterable[str]) -> list[str]:
        """What is wrong with the chains' orders given the configured aggregator instances."""
        known = [*aggregators, DIRECT]
        out = []
        for chain_id, chain in self.chains.items():
            where = f"$.routing.chains.{chain_id}"
            if not chain_id.isdigit():
                out.append(f"a chain is named by its numeric chain id, got {chain_id!r} @ {where}")
            try:
                names = chain.order() or []
            except ValueError as exc:
                out.append(f"{exc} @ {where}")
                continue
            for name in names:
                if name not in known:
                    out.append(
                        f"routing names '{name}', which is not an [aggregators.<key>] instance "
                        f'or "direct"; configured: {", ".join(known)} @ {where}'
                    )
            if names and not self.direct and DIRECT in names:
                out.append(f"'direct' is named but [routing] direct = false @ {where}")
        return out
