"""Where clients reach the live server, as the HTTP side names it to them (match rooms, the live page)."""

from django.conf import settings

LEADERBOARD_PATH = "/v1/ws/leaderboard"


def live_url(request) -> str:
    """Where clients reach the live server: LIVE_PUBLIC_URL, or the request's host on WS_PORT."""
    if settings.LIVE_PUBLIC_URL:
        return settings.LIVE_PUBLIC_URL.rstrip("/")
    host = request.get_host()
    host = host if host.endswith("]") else host.rsplit(":", 1)[0]  # without its port; [IPv6] kept whole
    return f"{'wss' if request.is_secure() else 'ws'}://{host}:{settings.WS_PORT}"
