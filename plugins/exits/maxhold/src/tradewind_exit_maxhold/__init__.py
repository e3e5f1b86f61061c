"""tradewind-exit-maxhold: close a position after a maximum holding time."""

from tradewind_exit_maxhold.plugin import MaxHold, MaxHoldConfig

__all__ = ["MaxHold", "MaxHoldConfig"]
