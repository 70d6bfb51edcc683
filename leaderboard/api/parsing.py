"""JSON request bodies, read the same way on Django's path and the fast path.

orjson turns integers beyond 64 bits into floats, which would make 10**22 "not an integer" rather
than out of range; a body with such a number is read again with the standard library, which keeps
integers exact.
"""

import json

import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

# The magnitude from which orjson gives a float for an integer literal.
_BEYOND_64_BITS = 2.0**63


def loads(content: bytes | str):
    """The JSON value; ValueError if it is not JSON."""
    data = orjson.loads(content)
    return json.loads(content) if _has_huge_float(data) else data


def _has_huge_float(value) -> bool:
    if isinstance(value, float):
        return abs(value) >= _BEYOND_64_BITS
    if isinstance(value, dict):
        return any(_has_huge_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_huge_float(item) for item in value)
    return False


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return loads(stream.read().decode(encoding))
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
