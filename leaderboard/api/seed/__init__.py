"""The seed API under /api/: its paths and JSON shapes are a contract existing clients rely on.
Its calls are the default game's /v1/ calls in another shape."""
