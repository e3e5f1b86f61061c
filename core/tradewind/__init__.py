"""tradewind: a plugin-based algorithmic trading host.

Plugin authors need :data:`hookimpl` (to implement the registration hooks), the Protocols in
:mod:`tradewind.protocols` and the domain model in :mod:`tradewind.model`.
"""

from tradewind import _dists
from tradewind.hookspecs import hookimpl


def _version() -> str:
    """``importlib.metadata.version("tradewind")``, read without importing it where
    :mod:`tradewind._dists` can (issue 17: it imports the email parser)."""
    found = _dists.version("tradewind")
    if found is not None:
        return found
    from importlib import metadata

    try:
        return metadata.version("tradewind")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


__version__ = _version()

__all__ = ["__version__", "hookimpl"]
