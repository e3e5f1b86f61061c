"""tradewind-filter-balance: an entry's margin must fit in the free equity."""

from tradewind_filter_balance.plugin import BalanceConfig, BalanceFilter, initial_margin

__all__ = ["BalanceConfig", "BalanceFilter", "initial_margin"]
