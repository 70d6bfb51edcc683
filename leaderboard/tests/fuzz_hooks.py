"""Schemathesis hooks for test_fuzz.py: no generated header that HTTP itself forbids, a
connection of its own for each request, and image bodies (an avatar's) sent as the bytes
generated for them.

A header name must be a token and a value may hold no control character but tab (RFC 9110).
The HTTP server refuses such a request with a bare 400 before the application sees it, and
closes the connection; those cases would test the server's parser, not the API, and a client
reusing the connection would race with its close.
"""

import re

import schemathesis
from schemathesis.transport.serialization import serialize_binary

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
FORBIDDEN_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@schemathesis.hook
def filter_headers(context, headers) -> bool:
    return not headers or all(
        HEADER_NAME.fullmatch(str(name)) and not FORBIDDEN_IN_VALUE.search(str(value))
        for name, value in headers.items()
    )


@schemathesis.hook
def before_call(context, case, **kwargs) -> None:
    case.headers = {**(case.headers or {}), "Connection": "close"}


@schemathesis.serializer("image/jpeg", "image/png", "image/webp")
def image_body(context, value) -> bytes:
    return serialize_binary(value)
