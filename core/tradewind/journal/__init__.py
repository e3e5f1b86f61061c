"""The journal: the write-ahead store of a run (orders, fills, events) and its errors."""
