"""The hook specifications of tradewind.

Hooks register classes and observe the run's lifecycle; they never sit on the tick path.
All hooks are collecting (none is firstresult). Plugin authors implement them with
:data:`tradewind.hookimpl`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:
    from tradewind.registry import KindRegistry, RunInfo

hookspec = HookspecMarker("tradewind")
hookimpl = HookimplMarker("tradewind")


@hookspec
def tradewind_register_venues(registry: KindRegistry) -> None:
    """Register venue classes (market data and/or execution).

    :param registry: the venue registry; call ``registry.add(VenueClass)`` for each class.
    :returns: nothing; duplicate names raise DuplicatePluginError.
    Called: once per host start, after the plugin's module is loaded, before config is validated.
    """


@hookspec
def tradewind_register_aggregators(registry: KindRegistry) -> None:
    """Register DEX aggregator classes.

    :param registry: the aggregator registry; call ``registry.add(AggregatorClass)``.
    :returns: nothing; duplicate names raise DuplicatePluginError.
    Called: once per host start, after the plugin's module is loaded, before config is validated.
    """


@hookspec
def tradewind_register_analyzers(registry: KindRegistry) -> None:
    """Register analyzer classes (streaming indicators fed candles and ticks).

    :param registry: the analyzer registry; call ``registry.add(AnalyzerClass)``.
    :returns: nothing; duplicate names raise DuplicatePluginError.
    Called: once per host start, after the plugin's module is loaded, before config is validated.
    """


@hookspec
def tradewind_register_filters(registry: KindRegistry) -> None:
    """Register filter classes (pre-trade risk checks).

    :param registry: the filter registry; call ``registry.add(FilterClass)``.
    :returns: nothing; duplicate names raise DuplicatePluginError.
    Called: once per host start, after the plugin's module is loaded, before config is validated.
    """


@hookspec
def tradewind_register_exits(registry: KindRegistry) -> None:
    """Register exit monitor classes.

    :param registry: the exit monitor registry; call ``registry.add(ExitClass)``.
    :returns: nothing; duplicate names raise DuplicatePluginError.
    Called: once per host start, after the plugin's module is loaded, before config is validated.
    """


@hookspec
def tradewind_register_notifiers(registry: KindRegistry) -> None:
    """Register notifier classes.

    :param registry: the notifier registry; call ``registry.add(NotifierClass)``.
    :returns: nothing; duplicate names raise DuplicatePluginError.
    Called: once per host start, after the plugin's module is loaded, before config is validated.
    """


@hookspec
def tradewind_run_start(run: RunInfo) -> None:
    """Observe the start of a run, after plugins are built and before the first tick.

    :param run: the run's id, mode, config path and instruments.
    :returns: nothing; an exception aborts the run before any order is sent.
    Called: once per run, by every loaded plugin module that implements it.
    """


@hookspec
def tradewind_run_end(run: RunInfo, summary: dict[str, Any]) -> None:
    """Observe the end of a run, after the last event is journaled.

    :param run: the run's id, mode, config path and instruments.
    :param summary: the run's summary metrics (equity, P&L, counts); plugins may read it.
    :returns: nothing; an exception is reported as a SystemError event and the run still ends.
    Called: once per run, also when the run ended with an error.
    """
