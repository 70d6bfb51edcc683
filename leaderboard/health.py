"""Health of the two backing services, for /health/ and operators."""

from django.db import DatabaseError, connection

from . import redis_store
from .exceptions import BoardUnavailable


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"error: {error}"
    return "ok"


def redis_status() -> str:
    try:
        redis_store.ping()
    except BoardUnavailable as error:
        return f"error: {error}"
    return "ok"
