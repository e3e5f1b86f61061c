"""The exception hierarchy of tradewind.

Every error the host raises for a user mistake is a :class:`TradewindError`; the CLI prints its
message as one line and exits with its ``exit_code``. Messages name what was wrong and where.
"""

from __future__ import annotations


class TradewindError(Exception):
    """Base class of every error tradewind reports to a user."""

    exit_code = 1


class ConfigError(TradewindError):
    """A configuration file is malformed, has unknown keys or wrong types."""

    exit_code = 2


class SecretNotSetError(ConfigError):
    """An ``env:NAME`` secret reference names an environment variable that is not set."""


class PluginError(TradewindError):
    """A plugin could not be found, imported, registered or validated."""

    exit_code = 3


class PluginNotInstalledError(PluginError):
    """The config enables a plugin name that no installed distribution provides."""


class PluginImportError(PluginError):
    """A plugin's module raised while it was imported."""


class DuplicatePluginError(PluginError):
    """Two plugins claim the same name within one kind."""


class PluginBlockedError(PluginError):
    """The config enables a plugin that TRADEWIND_BLOCK_PLUGINS blocks."""


class DataError(TradewindError):
    """Market data could not be read or is unusable."""

    exit_code = 4


class VenueError(TradewindError):
    """A venue call failed."""

    exit_code = 5


class OrderRejectedError(VenueError):
    """The venue rejected an order."""


class VenueTimeoutError(VenueError):
    """A venue call did not answer in time; the outcome is unknown."""


class VenueUnavailableError(VenueError):
    """The venue cannot be reached (disconnected, circuit open). Raised by ``submit_order``
    it means the outcome is unknown (the request may have reached the venue) unless it is a
    :class:`VenueNotSentError`."""


class VenueNotSentError(VenueUnavailableError):
    """The request certainly did not reach the venue's matching (connection refused before
    sending): sending it again cannot duplicate anything."""


class VenueRateLimitedError(VenueNotSentError):
    """The venue refused the request for its rate limit (HTTP 429, Binance's 418 ban) before
    processing it. ``retry_after_s`` is the wait it asked for (``Retry-After``), if any."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ReconciliationError(VenueError):
    """Startup reconciliation with a venue failed; the host must not trade until it succeeds."""


class JournalError(TradewindError):
    """The journal cannot be opened or written: corrupt, truncated, a directory, locked by
    another host, out of disk space. The message says which, and what was not journaled."""

    exit_code = 6
