"""Market data: tick validation, candles, and the parquet market store.

Submodules are imported on use (``tradewind.market.candles``, ``.validation``, ``.store``,
``.importers``) so that importing the package stays cheap.
"""
