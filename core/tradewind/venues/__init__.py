"""The venues the core ships: the simulated venue and the replay data venue (the capability
Protocols are in tradewind.protocols).
"""
