"""Live updates over WebSocket, served by the live server (speedrank.asgi) on WS_PORT: clients
follow a board's top, pushed as it changes, fanned out through Redis, never per-process memory."""
