"""Routing config: per chain, ``best`` (rank by net output) or a ``primary`` / ``fallback``
order, as in the seed's config shape::

    [routing]
    deadline_s = 2.0

    [routing.chains.1]
    mode = "best"

    [routing.chains.8453]
    primary = "zeroex"
    fallback = ["odos", "oneinch"]

Sources not named in an ordered chain are not tried. A chain not listed is ``best``.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs


@attrs.frozen(kw_only=True)
class ChainRouting:
    """How one chain's quotes are chosen."""

    #: ``best`` (net output) or ``ordered`` (primary, then the fallbacks).
    mode: str = attrs.field(default="", validator=attrs.validators.in_(("", "best", "ordered")))
    primary: str = ""
    fallback: tuple[str, ...] = ()

    def order(self) -> list[str] | None:
        """The order to try sources in, or None for best net output."""
        if self.mode == "best" or (not self.mode and not self.primary):
            if self.primary or self.fallback:
                raise ValueError("mode = \"best\" takes no primary / fallback")
            return None
        if not self.primary:
            raise ValueError("an ordered chain needs primary = \"<aggregator>\"")
        return [self.primary, *self.fallback]


@attrs.frozen(kw_only=True)
class RoutingConfig:
    """``[routing]``: the router's deadline and each chain's choice."""

    deadline_s: float = 2.0
    chains: Mapping[str, ChainRouting] = attrs.field(factory=dict)

    def order_for(self, chain_id: int) -> list[str] | None:
        """The router's ``order`` argument for ``chain_id`` (None: best net output)."""
        chain = self.chains.get(str(chain_id))
        if chain is None:
            return None
        try:
            return chain.order()
        except ValueError as exc:
            raise ValueError(f"{exc} @ $.routing.chains.{chain_id}") from None
