"""The plugin registry: name → class per kind, filled by the registration hooks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from tradewind.errors import DuplicatePluginError, PluginError
from tradewind.protocols import KINDS, SINGULAR


@attrs.frozen(kw_only=True)
class RunInfo:
    """What lifecycle hooks learn about a run."""

    run_id: str
    mode: str
    config_path: str
    instruments: tuple[str, ...]


def _check_plugin_class(kind: str, cls: Any) -> None:
    what = SINGULAR[kind]
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"{what} class {cls!r} has no 'name' string class attribute")
    config_class = getattr(cls, "config_class", None)
    if not isinstance(config_class, type) or not attrs.has(config_class):
        raise PluginError(
            f"{what} '{name}' ({cls.__module__}): config_class must be an attrs class"
        )
    caps = getattr(cls, "capabilities", None)
    if not isinstance(caps, frozenset):
        raise PluginError(f"{what} '{name}' ({cls.__module__}): capabilities must be a frozenset")


class KindRegistry:
    """The classes registered for one kind. Refuses a second class under a taken name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type] = {}

    def add(self, cls: type) -> type:
        """Register ``cls`` under ``cls.name``; usable as a class decorator."""
        _check_plugin_class(self.kind, cls)
        name: str = cls.name  # type: ignore[attr-defined]
        existing = self._classes.get(name)
        if existing is not None and existing is not cls:
            raise DuplicatePluginError(
                f"{SINGULAR[self.kind]} name '{name}' is claimed twice: by "
                f"{existing.__module__}.{existing.__qualname__} and by "
                f"{cls.__module__}.{cls.__qualname__}; uninstall one of them"
            )
        self._classes[name] = cls
        return cls

    def get(self, name: str) -> type:
        """The class registered under ``name``."""
        return self._classes[name]

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._classes))

    def __len__(self) -> int:
        return len(self._classes)

    def items(self) -> list[tuple[str, type]]:
        """(name, class) pairs, sorted by name."""
        return sorted(self._classes.items())


class Registry:
    """One :class:`KindRegistry` per plugin kind."""

    def __init__(self) -> None:
        self._kinds = {kind: KindRegistry(kind) for kind in KINDS}

    def __getitem__(self, kind: str) -> KindRegistry:
        return self._kinds[kind]

    @property
    def venues(self) -> KindRegistry:
        """Registered venue classes."""
        return self._kinds["venues"]

    @property
    def aggregators(self) -> KindRegistry:
        """Registered aggregator classes."""
        return self._kinds["aggregators"]

    @property
    def analyzers(self) -> KindRegistry:
        """Registered analyzer classes."""
        return self._kinds["analyzers"]

    @property
    def filters(self) -> KindRegistry:
        """Registered filter classes."""
        return self._kinds["filters"]

    @property
    def exits(self) -> KindRegistry:
        """Registered exit monitor classes."""
        return self._kinds["exits"]

    @property
    def notifiers(self) -> KindRegistry:
        """Registered notifier classes."""
        return self._kinds["notifiers"]

    def as_mapping(self) -> Mapping[str, KindRegistry]:
        """Kind → registry."""
        return dict(self._kinds)
