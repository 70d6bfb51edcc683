"""Announcements heard by a live server, that a game's board changed or a match's state did: one
subscription per process (a pattern over every game's channel and one over every match's: on a
cluster, a node hears what is published on any node), with its own connection, read by asyncio.
On a cluster, a lost subscription is made again on the next master in turn, so a master that
failed for good is left behind."""

import asyncio
import logging
from collections.abc import AsyncIterator
from itertools import count
from typing import NamedTuple
from urllib.parse import urlsplit

import redis.asyncio
from django.conf import settings

from .client import connection
from .keys import changes_pattern, match_pattern

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 0.5
CHANGED, MATCH, RESUBSCRIBED = "changed", "match", "resubscribed"


class Announcement(NamedTuple):
    """CHANGED: `subject` is a game whose board changed. MATCH: `subject` is a match, `payload` its
    new state as published. RESUBSCRIBED: announcements published while the subscription was
    down are lost, so everything watched may have changed."""

    kind: str
    subject: str = ""
    payload: str = ""


async def announcements() -> AsyncIterator[Announcement]:
    """What is announced, for as long as it is iterated; RESUBSCRIBED after the subscription was
    lost and made again."""
    for attempt in count():
        client = await _subscriber(attempt)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.psubscribe(changes_pattern(), match_pattern())
                if attempt:
                    yield Announcement(RESUBSCRIBED)
                matches = match_pattern()
                async for message in pubsub.listen():
                    if message["type"] != "pmessage":
                        continue
                    if message["pattern"] == matches:
                        yield Announcement(MATCH, message["channel"][len(matches) - 1 :], message["data"])
                    else:
                        yield Announcement(CHANGED, message["data"])
        except (redis.RedisError, OSError) as error:
            logger.warning("live: the change announcements were lost, subscribing again: %s", error)
            await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            await client.aclose()


async def _subscriber(attempt: int) -> redis.asyncio.Redis:
    """A client of the Redis REDIS_URL names, or on a cluster, of its masters in turn."""
    options = {"socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT, "decode_responses": True}
    addresses = await asyncio.to_thread(_cluster_masters) if settings.REDIS_CLUSTER and attempt else []
    if not addresses:
        return redis.asyncio.Redis.from_url(settings.REDIS_URL, **options)
    host, port = addresses[attempt % len(addresses)].rsplit(":", 1)
    named = urlsplit(settings.REDIS_URL)  # the credentials and TLS of REDIS_URL serve every node
    return redis.asyncio.Redis(
        host=host, port=int(port), username=named.username, password=named.password,
        ssl=named.scheme == "rediss", **options,
    )  # fmt: skip


def _cluster_masters() -> list[str]:
    try:
        nodes = connection.nodes()
        return [] if nodes is None else sorted(node.name for node in nodes.masters())
    except (redis.RedisError, OSError):
        return []
