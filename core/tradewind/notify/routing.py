"""Routing per notifier instance: which events become messages, and when they go out.

- ``min_severity`` and ``events`` (kinds: trade, position_closed, risk, error, watchlist,
  run, warning, signal, other) choose the events.
- Warning and critical events are sent at once. Info (and debug) events are sent at once too,
  unless ``digest_window_s`` > 0: then they are collected and sent as one digest message when
  the window (engine time, from the first collected event) has passed.
- ``daily_summary_at = "HH:MM"`` sends a daily summary (P&L, trades, fees, open positions,
  drawdown) once per UTC day at that engine time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from tradewind.errors import ConfigError
from tradewind.model import Event, Severity
from tradewind.notify.message import Message
from tradewind.notify.templates import DEFAULT_TEMPLATES, Templates, describe, iso_utc

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S

KINDS = tuple(
    sorted({k.removesuffix(".title") for k in DEFAULT_TEMPLATES} - {"digest", "daily_summary"})
)


def _severity(value: str) -> Severity:
    try:
        return Severity[value.upper()]
    except KeyError:
        raise ValueError(
            f"min_severity must be one of debug, info, warning, critical, got {value!r}"
        ) from None


def _check_events(_inst: Any, _attr: Any, value: list[str]) -> None:
    bad = [k for k in value if k not in KINDS]
    if bad:
        raise ValueError(f"unknown event kind(s) {', '.join(bad)}; kinds: {', '.join(KINDS)}")


def _check_hhmm(_inst: Any, _attr: Any, value: str) -> None:
    if value:
        _parse_hhmm(value)


def _parse_hhmm(value: str) -> int:
    try:
        hh, mm = value.split(":")
        h, m = int(hh), int(mm)
        if not (0 <= h < 24 and 0 <= m < 60):
            raise ValueError
    except ValueError:
        raise ValueError(f"daily_summary_at must be HH:MM (UTC), got {value!r}") from None
    return (h * 3600 + m * 60) * NS_PER_S


@attrs.frozen(kw_only=True)
class NotifierOptions:
    """Routing and delivery options every outbox notifier has (its config class extends this)."""

    #: Lowest severity sent: debug, info, warning or critical.
    min_severity: str = attrs.field(default="info")
    #: Kinds of event sent (empty: every kind). Kinds: trade, position_closed, risk, error,
    #: watchlist, run, warning, signal, other.
    events: list[str] = attrs.field(factory=list, validator=_check_events)
    #: Collect info events for this many seconds (engine time) and send them as one digest;
    #: 0 sends each at once. Warning and critical events are always sent at once.
    digest_window_s: float = 0.0
    #: Send a daily summary at this UTC time ("HH:MM"); "" for none.
    daily_summary_at: str = attrs.field(default="", validator=_check_hhmm)
    #: Template overrides: ``<kind>`` (body) or ``<kind>.title`` → a str.format template.
    templates: dict[str, str] = attrs.field(factory=dict)
    #: Delivery attempts before a message is given up and journaled as undelivered.
    max_attempts: int = 10
    #: First retry delay in seconds; doubles per attempt up to ``retry_max_s``.
    retry_initial_s: float = 1.0
    #: Longest delay between two attempts, in seconds.
    retry_max_s: float = 300.0
    #: Messages queued in memory for this notifier; more wait in the outbox, never dropped.
    queue_size: int = 1000
    #: At shutdown, wait this long (seconds) for queued messages; the rest stay pending in the
    #: outbox and are sent by the next run.
    close_timeout_s: float = 5.0

    def __attrs_post_init__(self) -> None:
        _severity(self.min_severity)
        try:
            Templates(self.templates, where="")  # checked when the config is read
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if self.digest_window_s < 0:
            raise ValueError(f"digest_window_s must be >= 0, got {self.digest_window_s}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {self.queue_size}")


#: Figures of a daily summary, as text: pnl, trades, fees, open_positions, drawdown.
SummarySource = Callable[[int, int], Mapping[str, str]]


class Router:
    """Turns events into messages for one notifier instance (see the module docstring)."""

    def __init__(
        self,
        instance: str,
        options: NotifierOptions,
        *,
        summary_source: SummarySource | None = None,
    ) -> None:
        self.instance = instance
        self.options = options
        self.min_severity = _severity(options.min_severity)
        self.kinds = frozenset(options.events)
        self.templates = Templates(options.templates, where=f"$.notifiers.{instance}")
        self.window_ns = int(options.digest_window_s * NS_PER_S)
        self.summary_at_ns = (
            _parse_hhmm(options.daily_summary_at) if options.daily_summary_at else None
        )
        self.summary_source = summary_source
        self._digest: list[Message] = []
        self._digest_start = 0
        self._summary_day: int | None = None

    def message(self, kind: str, severity: int, fields: Mapping[str, str], ts_ns: int) -> Message:
        """A message of ``kind`` rendered with this instance's templates."""
        title, text = self.templates.render(kind, fields)
        return Message(
            id=uuid.uuid4().hex,
            notifier=self.instance,
            kind=kind,
            severity=int(severity),
            title=title,
            text=text,
            ts_ns=ts_ns,
            fields=dict(fields),
        )

    def route(self, event: Event, now_ns: int) -> list[Message]:
        """Messages to send now for ``event`` (a digest or summary may come due too).
        ``now_ns`` is engine time: the event's own time when routing from the bus."""
        out = self.due(now_ns, from_event=True)
        if event.severity < self.min_severity:
            return out
        kind, fields = describe(event)
        if self.kinds and kind not in self.kinds:
            return out
        msg = self.message(kind, event.severity, fields, event.ts_ns)
        if self.window_ns and event.severity < Severity.WARNING:
            if not self._digest:
                self._digest_start = now_ns
            self._digest.append(msg)
            return out
        out.append(msg)
        return out

    def due(self, now_ns: int, *, from_event: bool = False) -> list[Message]:
        """Digests and daily summaries that are due at ``now_ns``.

        The daily summary's clock starts at the first routed event's time (so a backtest,
        whose clock runs ahead of the events still queued for routing, sends the summaries
        of the days it replays).
        """
        out: list[Message] = []
        if self._digest and now_ns - self._digest_start >= self.window_ns:
            out.append(self.flush_digest(now_ns))
        if self.summary_at_ns is not None and self.summary_source is not None and now_ns > 0:
            # (A simulated clock reads 0 until the replay's first trade: not a time yet.)
            day = now_ns // NS_PER_DAY
            at = day * NS_PER_DAY + self.summary_at_ns
            if self._summary_day is None and not from_event:
                return out
            if self._summary_day is None:
                # The first look: a summary time already passed today is not sent late.
                self._summary_day = day if now_ns >= at else day - 1
            if now_ns >= at and self._summary_day < day:
                self._summary_day = day
                out.append(self.daily_summary(day * NS_PER_DAY, now_ns))
        return out

    def flush_digest(self, now_ns: int) -> Message:
        """The collected messages as one digest (one message alone is sent as itself)."""
        msgs, self._digest = self._digest, []
        if len(msgs) == 1:
            return msgs[0]
        lines = "\n".join(f"• {m.title}" for m in msgs)
        msg = self.message(
            "digest", Severity.INFO, {"count": str(len(msgs)), "lines": lines}, now_ns
        )
        return attrs.evolve(
            msg, fields={"count": str(len(msgs)), "ids": ",".join(m.id for m in msgs)}
        )

    def pending_digest(self) -> int:
        """Messages collected for the next digest."""
        return len(self._digest)

    def daily_summary(self, day_start_ns: int, now_ns: int) -> Message:
        """The daily summary message for the UTC day starting at ``day_start_ns``."""
        assert self.summary_source is not None
        fields = dict(self.summary_source(day_start_ns, now_ns))
        fields["date"] = iso_utc(day_start_ns)[:10]
        return self.message("daily_summary", Severity.INFO, fields, now_ns)
