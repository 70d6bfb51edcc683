"""A bare WSGI callable answering fixed JSON: what the server alone can serve, the ceiling for bench_http.py."""

BODY = b'[{"rank":1,"username":"player1","points":1}]'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
