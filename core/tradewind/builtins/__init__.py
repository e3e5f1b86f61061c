"""The core's built-in plugins. They register through the core's own entry points
(pyproject.toml), exactly like third-party plugins; nothing here is wired in by a back door.

- ``venues:sim`` — the simulated execution venue (backtest and paper).
- ``venues:replay`` — the replay data source (market store or a data file).
- ``notifiers:log`` — writes events to the ``tradewind.events`` logger.
- ``filters:killswitch`` — the essential kill switch; always loaded, cannot be disabled.
"""

#: (kind, name) of plugins that are loaded whatever the config says and cannot be disabled.
ESSENTIAL: frozenset[tuple[str, str]] = frozenset({("filters", "killswitch")})
