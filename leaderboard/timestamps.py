"""How the API writes a moment: ISO-8601 in UTC with a Z."""

from datetime import datetime


def iso_utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
