"""What risk filters read: the filter context, the risk view of accounts, and helpers for
config values and veto reasons.
"""
