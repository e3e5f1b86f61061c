"""tradewind-filter-drawdown: the daily-drawdown circuit breaker."""

from tradewind_filter_drawdown.plugin import DrawdownCircuitBreaker, DrawdownConfig

__all__ = ["DrawdownCircuitBreaker", "DrawdownConfig"]
