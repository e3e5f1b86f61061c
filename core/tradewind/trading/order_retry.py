"""Retry and circuit-breaker policy of venue calls: bounded retries with backoff, the timeout
of each call, and a circuit per venue that opens after consecutive failed creates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import attrs

from tradewind.errors import (
    OrderRejectedError,
    VenueTimeoutError,
    VenueUnavailableError,
)
from tradewind.model import CircuitBreaker, Event

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff for calls that found the venue unavailable
    (or timed out). The wait after failed attempt *n* is
    ``min(max_delay_s, base_delay_s * multiplier ** (n - 1))``."""

    max_attempts: int = 5
    base_delay_s: float = 0.25
    multiplier: float = 2.0
    max_delay_s: float = 5.0

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.multiplier < 1:
            raise ValueError("delays must be >= 0 and multiplier >= 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * self.multiplier ** (attempt - 1))


@attrs.frozen(kw_only=True)
class BreakerPolicy:
    """A venue's circuit opens after ``failure_threshold`` consecutive failed calls and stays
    open ``cooldown_s``; then one trial call decides (success closes it, failure reopens it)."""

    failure_threshold: int = 5
    cooldown_s: float = 30.0

    def __attrs_post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {self.failure_threshold}")
        if self.cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {self.cooldown_s}")


@attrs.frozen(kw_only=True)
class OrderSettings:
    """Retries, circuit breaker and the timeout of each venue call."""

    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    breaker: BreakerPolicy = attrs.Factory(BreakerPolicy)
    #: Seconds a venue call may take before it counts as a timeout; None waits forever.
    call_timeout_s: float | None = 10.0
    #: Seconds an order whose create outcome is unknown may stay unknown before a critical
    #: event says so (it stays in doubt, its instrument paused, after that too).
    unknown_deadline_s: float = 60.0
    #: Seconds an order in doubt must be "not found" (by id, among the venue's recent orders
    #: and the account's trades) before it is concluded that it never reached the venue.
    #: Exchanges answer "does not exist" for seconds after accepting an order under load.
    not_found_settle_s: float = 120.0
    #: Least seconds between two attempts to resolve the orders in doubt (:meth:`poll`).
    resolve_interval_s: float = 1.0
    #: Seconds a cancel may take to settle (its retries after a late, failed or refused
    #: answer, and the lookups that settle them) before a critical event names the order.
    cancel_deadline_s: float = 30.0


class CircuitOpenError(VenueUnavailableError):
    """A venue's circuit breaker is open: the call was not made."""


@attrs.define
class _Breaker:
    name: str
    policy: BreakerPolicy
    failures: int = 0
    opened_at: float | None = None
    half_open_announced: bool = False

    def allows(self, now: float) -> bool:
        return self.opened_at is None or now - self.opened_at >= self.policy.cooldown_s


def venue_key(venue: object) -> str:
    """The name a venue goes by in ids, breakers and the journal (its config instance)."""
    return str(
        getattr(venue, "instance", None) or getattr(venue, "name", None) or type(venue).__name__
    )


class VenueCalls:
    """Calls a venue under the timeout and its circuit breaker."""

    settings: OrderSettings
    pending: list[Event]
    _clock: Callable[[], float]
    _breakers: dict[str, _Breaker]
    _ts: int
    submitters: dict[str, Callable[..., Awaitable[Any]]]

    # -- the circuit breaker --------------------------------------------------------------
    def _breaker(self, key: str) -> _Breaker:
        br = self._breakers.get(key)
        if br is None:
            br = self._breakers[key] = _Breaker(name=f"venue:{key}", policy=self.settings.breaker)
        return br

    def breaker_open(self, venue: object) -> bool:
        """True while ``venue``'s circuit is open (calls fail fast)."""
        return not self._breaker(venue_key(venue)).allows(self._clock())

    async def _call(
        self,
        venue: Any,
        key: str,
        fn: Callable[[], Awaitable[T]],
        *,
        create: bool = False,
        trial: bool = False,
    ) -> T:
        """Call the venue with the timeout. Only creates go through the circuit breaker and
        count for it (lookups that succeed while creates fail must not reset it); ``trial``
        (an exit) is sent even while the circuit is open."""
        br = self._breakers.get(key)
        if br is None:
            br = self._breaker(key)
        if create and br.opened_at is not None:
            # (A closed breaker allows every create and has no half-open state to announce:
            # the clock is read only for an open one.)
            now = self._clock()
            if not br.allows(now) and not trial:
                raise CircuitOpenError(
                    f"circuit breaker of venue '{key}' is open ({br.failures} consecutive "
                    f"failed creates)"
                )
            if br.opened_at is not None and not br.half_open_announced and br.allows(now):
                br.half_open_announced = True
                self.pending.append(
                    CircuitBreaker(
                        ts_ns=self._ts,
                        name=br.name,
                        tripped=True,
                        reason="half-open: the cooldown is over, one trial create decides",
                    )
                )
        timeout = self.settings.call_timeout_s
        if type(venue).__dict__.get("answers_at_once") and key not in self.submitters:
            # The simulated venue itself (not a wrapper around it): a call that cannot wait
            # cannot time out, and a cancel scope per call is a measurable share of a fill.
            timeout = None
        try:
            if timeout is None:
                result = await fn()
            else:
                with anyio.fail_after(timeout):
                    result = await fn()
        except TimeoutError as exc:
            err = VenueTimeoutError(f"venue '{key}' did not answer within {timeout} s")
            if create:
                self._failure(br, err)
            raise err from exc
        except OrderRejectedError:
            if create:
                self._success(br)  # the venue answered
            raise
        except Exception as exc:
            if create:
                self._failure(br, exc)
            raise
        if create and (br.failures or br.opened_at is not None or br.half_open_announced):
            self._success(br)  # (a closed breaker with no failure counted: nothing to reset)
        return result

    def _failure(self, br: _Breaker, exc: BaseException) -> None:
        br.failures += 1
        now = self._clock()
        half_open = br.opened_at is not None
        if half_open or br.failures >= br.policy.failure_threshold:
            br.opened_at = now
            br.half_open_announced = False
            why = "the trial call failed" if half_open else f"{br.failures} consecutive failures"
            self.pending.append(
                CircuitBreaker(
                    ts_ns=self._ts,
                    name=br.name,
                    tripped=True,
                    reason=f"{why} (last: {type(exc).__name__}: {exc}); calls fail fast for "
                    f"{br.policy.cooldown_s} s",
                )
            )

    def _success(self, br: _Breaker) -> None:
        if br.opened_at is not None:
            self.pending.append(
                CircuitBreaker(
                    ts_ns=self._ts,
                    name=br.name,
                    tripped=False,
                    reason="the venue answered the trial call; circuit closed",
                )
            )
        br.opened_at = None
        br.half_open_announced = False
        br.failures = 0
