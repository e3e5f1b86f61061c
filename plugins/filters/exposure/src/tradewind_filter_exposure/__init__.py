"""tradewind-filter-exposure: cap total (and per-instrument) exposure in quote currency."""

from tradewind_filter_exposure.plugin import ExposureConfig, ExposureFilter

__all__ = ["ExposureConfig", "ExposureFilter"]
