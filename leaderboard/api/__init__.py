"""The HTTP interface of both APIs, and nothing else: the Endpoint base view (endpoints.py), the
fast path that serves plain calls in front of Django (fastpath.py), input parsing (inputs.py,
fields.py, parsing.py), the one error mapping (errors.py), the seed API (seed/), the v1 API (v1/),
health and the OpenAPI schema. Handlers call services and selectors and render what they return."""
