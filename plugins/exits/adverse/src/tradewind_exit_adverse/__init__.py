"""tradewind-exit-adverse: consecutive adverse price moves with a profit-based threshold."""

from tradewind_exit_adverse.config import AdverseConfig
from tradewind_exit_adverse.plugin import AdverseMoves

__all__ = ["AdverseConfig", "AdverseMoves"]
