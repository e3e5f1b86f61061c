"""tradewind: a plugin-based algorithmic trading host.

Plugin authors need :data:`hookimpl` (to implement the registration hooks), the Protocols in
:mod:`tradewind.protocols` and the domain model in :mod:`tradewind.model`.
"""

from importlib import metadata as _metadata

from tradewind.hookspecs import hookimpl

try:
    __version__ = _metadata.version("tradewind")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "hookimpl"]
