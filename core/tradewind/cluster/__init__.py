"""Hosts over NATS JetStream: ``tradewind serve data|strategy|execution`` (docs/deployment.md).

The engine split at its seams: a data host publishes the feed's TickBatches, strategy hosts
(one per shard of instruments) publish the strategy's decisions, and the execution host trades
them. ``tradewind run`` stays one process with the in-process bus.
"""
