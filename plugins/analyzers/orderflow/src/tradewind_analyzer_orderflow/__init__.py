"""tradewind-analyzer-orderflow: order-flow imbalance, delta, CVD and the timeframe cascade.

The analyzer class is :class:`tradewind_analyzer_orderflow.plugin.OrderFlowAnalyzer`; its
options are :class:`tradewind_analyzer_orderflow.config.OrderFlowConfig`.
"""

from tradewind_analyzer_orderflow.config import OrderFlowConfig
from tradewind_analyzer_orderflow.plugin import OrderFlowAnalyzer

__all__ = ["OrderFlowAnalyzer", "OrderFlowConfig"]
