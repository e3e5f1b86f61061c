"""The log notifier: writes events at or above ``min_severity`` to ``tradewind.events``."""

from __future__ import annotations

import logging
from typing import ClassVar

import attrs

from tradewind.hookspecs import hookimpl
from tradewind.model import Event, Severity

log = logging.getLogger("tradewind.events")


@attrs.frozen(kw_only=True)
class LogNotifierConfig:
    """Options of the log notifier."""

    #: Lowest severity written: debug, info, warning or critical.
    min_severity: str = "info"

    def __attrs_post_init__(self) -> None:
        if self.min_severity.upper() not in Severity.__members__:
            raise ValueError(
                f"min_severity must be one of debug, info, warning, critical, "
                f"got {self.min_severity!r}"
            )


class LogNotifier:
    """Formats each event as one log line."""

    name: ClassVar[str] = "log"
    config_class: ClassVar[type] = LogNotifierConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"text"})

    def __init__(self, config: LogNotifierConfig) -> None:
        self.config = config
        self.min_severity = Severity[config.min_severity.upper()]
        self.sent = 0

    async def start(self) -> None:
        """Nothing to open."""

    async def notify(self, event: Event) -> None:
        """Log ``event`` if it is severe enough."""
        if event.severity < self.min_severity:
            return
        level = {Severity.CRITICAL: logging.CRITICAL, Severity.WARNING: logging.WARNING}.get(
            event.severity, logging.INFO
        )
        if log.isEnabledFor(level):  # formatting every field costs more than the check
            log.log(level, "%s", format_event(event))
        self.sent += 1

    async def close(self) -> None:
        """Nothing to close."""


def format_event(event: Event) -> str:
    """One line describing ``event``: its type and fields (secrets are never fields of events)."""
    fields = ", ".join(
        f"{f.name}={getattr(event, f.name)!r}"
        for f in attrs.fields(type(event))
        if f.name != "ts_ns"
    )
    return f"{type(event).__name__}({fields}) @ {event.ts_ns}"


@hookimpl
def tradewind_register_notifiers(registry):  # type: ignore[no-untyped-def]
    """Register the log notifier."""
    registry.add(LogNotifier)
