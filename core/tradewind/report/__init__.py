"""Reports: metrics computed from a run's results, round trips, the text summary and the HTML
report.
"""
