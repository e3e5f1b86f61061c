"""The control and watchlist HTTP API of a running host, with its dashboard (docs/api.md).

Optional: ``pip install 'tradewind[api]'`` (FastAPI and uvicorn) and ``[api] enabled = true``.
The modules: :mod:`.auth` (token and rate limit), :mod:`.views` (what the API reads from the
engine and its journal), :mod:`.app` (the routes), :mod:`.server` (uvicorn beside the feed).
"""
