"""What the four aggregator plugins share: their config's common keys and an HTTP-backed base.

A plugin subclasses :class:`HttpAggregator`, sets ``name``, ``config_class`` (a subclass of
:class:`AggregatorConfig` with its defaults: base URL, the router of each chain) and
implements :meth:`HttpAggregator.fetch_quote`, parsing the API's JSON with its own schemas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

from tradewind.execution.http import JsonApi
from tradewind.execution.quotes import AggregatorError, KnownRouter, SwapQuote, SwapRequest
from tradewind.secrets import Secret


@attrs.frozen(kw_only=True)
class RouterEntry:
    """A trusted router in config: ``{address = "0x...", family = "opaque"}``."""

    address: str
    #: How its calldata is checked: a family of tradewind.execution.quotes.FAMILIES.
    family: str = "opaque"

    def __attrs_post_init__(self) -> None:
        from tradewind.execution.quotes import FAMILIES

        if self.family not in FAMILIES:
            raise ValueError(
                f"router {self.address}: family {self.family!r} is not known; known: "
                f"{', '.join(FAMILIES)}"
            )


@attrs.frozen(kw_only=True)
class AggregatorConfig:
    """Keys every aggregator takes (``[aggregators.<name>]``)."""

    #: The API key, as env:NAME (sent in the API's header; never logged).
    api_key: Secret | None = None
    #: The API's base URL (override for a proxy or a local server).
    base_url: str = ""
    #: Chain ids quoted on; empty: every chain with a router below.
    chains: tuple[int, ...] = ()
    #: Trusted router contracts per chain id (as a string key, TOML tables need one).
    routers: Mapping[str, tuple[RouterEntry, ...]] = attrs.field(factory=dict)
    #: Seconds per HTTP request, and 429 retries (Retry-After waited out up to the cap).
    timeout_s: float = 5.0
    max_retries: int = 2
    max_retry_after_s: float = 5.0


class HttpAggregator:
    """Base of the HTTP aggregators (see the module doc)."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = AggregatorConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"quote", "transaction"})
    #: Header that carries the API key.
    key_header: ClassVar[str] = "Authorization"
    key_prefix: ClassVar[str] = ""
    #: Extra headers every request sends.
    extra_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, *, config: AggregatorConfig, instance: str = "") -> None:
        self.config = config
        self.instance = instance or self.name
        headers = dict(self.extra_headers)
        if config.api_key is not None:
            headers[self.key_header] = self.key_prefix + config.api_key.reveal()
        if not config.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"aggregator '{self.instance}' needs base_url = \"http(s)://...\" "
                f"@ $.aggregators.{self.instance}.base_url, got {config.base_url!r}"
            )
        self.api = JsonApi(
            self.name,
            config.base_url,
            headers=headers,
            timeout_s=config.timeout_s,
            max_retries=config.max_retries,
            max_retry_after_s=config.max_retry_after_s,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instance} {self.config.base_url}>"

    def serves(self, chain_id: int) -> bool:
        """True when configured for ``chain_id`` (and a router for it is known)."""
        if self.config.chains and chain_id not in self.config.chains:
            return False
        return bool(self.config.routers.get(str(chain_id)))

    def routers(self, chain_id: int) -> Sequence[KnownRouter]:
        """The trusted routers of ``chain_id``."""
        return [
            KnownRouter(address=r.address, family=r.family)
            for r in self.config.routers.get(str(chain_id), ())
        ]

    async def quote_swap(self, request: SwapRequest) -> SwapQuote:
        """The API's quote with its transaction, parsed into the core's model."""
        if not self.serves(request.chain_id):
            raise AggregatorError(
                self.name,
                "unsupported",
                f"chain {request.chain_id} is not configured @ $.aggregators.{self.instance}"
                ".chains / .routers",
            )
        return await self.fetch_quote(request)

    async def fetch_quote(self, request: SwapRequest) -> SwapQuote:
        """Ask the API (implemented by each plugin)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        await self.api.close()


def min_out(amount: int, slippage: str) -> int:
    """``amount`` less ``slippage`` (a decimal fraction), rounded down."""
    from decimal import ROUND_FLOOR, Decimal

    return int((Decimal(amount) * (1 - Decimal(slippage))).to_integral_value(ROUND_FLOOR))


def slippage_percent(slippage: str) -> str:
    """A fraction as the percent the APIs take (``0.005`` -> ``0.5``)."""
    from decimal import Decimal

    return format(Decimal(slippage) * 100, "f")


def hex_or_int(value: Any) -> int:
    """An integer the APIs send as a decimal string, an int or a 0x hex string."""
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    return int(str(value))
