"""tradewind-exit-guard: daily-drawdown circuit breaker and exits correlated with a leader."""

from tradewind_exit_guard.config import GuardConfig
from tradewind_exit_guard.plugin import PortfolioGuard

__all__ = ["GuardConfig", "PortfolioGuard"]
