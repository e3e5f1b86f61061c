"""The distribution is installed, its entry point registers the filter, and it conforms."""

from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import FilterConformance

from tradewind_filter_stopdistance import StopDistanceFilter

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("filters", "stopdistance", StopDistanceFilter)


class TestConformance(FilterConformance):
    plugin_class = StopDistanceFilter
