"""A bare WSGI callable answering fixed JSON: what gunicorn alone can serve, the ceiling for bench_http.py."""

import django

# The shared gunicorn.conf.py's post_worker_init imports the app's services, which need Django's
# app registry; set it up once at import so the ceiling runs under the very same config. Requests
# never touch Django.
django.setup()

BODY = b'[{"rank":1,"username":"player1","points":1}]'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
