"""The trading flow: the engine, strategy and sizing, orders, accounts, reconciliation and the
run lifecycle.
"""
