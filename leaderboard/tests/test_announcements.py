"""The live server's one subscription (redis_store.announcements) against the real Redis of the
run, a single node or a cluster: a committed score announces its game, a match's change its new
state, and a lost subscription is made again and says so."""

import asyncio

import pytest
import redis

from leaderboard import redis_store
from leaderboard.redis_store import CHANGED, MATCH, RESUBSCRIBED, Announcement
from leaderboard.redis_store.client import connection
from leaderboard.services import keys, matches

from .factories import make_game, play

pytestmark = pytest.mark.django_db(transaction=True)


async def heard_until(wanted, act, *, seconds: float = 10) -> list[Announcement]:
    """Announcements heard while `act` runs (again every half second, in a thread) until one is
    `wanted`; the subscription is made by the time the first is heard."""
    heard: list[Announcement] = []
    stream = redis_store.announcements()

    async def listen():
        async for announcement in stream:
            heard.append(announcement)
            if wanted(announcement):
                return

    listener = asyncio.create_task(listen())
    try:
        async with asyncio.timeout(seconds):
            while not listener.done():
                await asyncio.to_thread(act)
                await asyncio.wait({listener}, timeout=0.5)
    finally:
        listener.cancel()
        await stream.aclose()
    return heard


def test_a_committed_score_announces_its_game(default_board):
    make_game("arena", operator="increment")

    arena_changed = Announcement(CHANGED, "arena")

    heard = asyncio.run(heard_until(lambda a: a == arena_changed, lambda: play("arena", ("amy", 1))))

    assert heard[-1] == arena_changed  # what other tests' writes still announce may come before


def test_a_match_move_announces_the_new_state_with_its_version(default_board):
    make_game("arena", operator="increment")
    key = keys.create_api_key(name="game-server", scope="server")
    caller = keys.authenticate_api_key(key=key, scope="server")
    created = matches.create_match(caller=caller, game_id="arena", players=["amy", "bob"], rules="connect_four")
    match_id = created.state.match_id
    moves = iter([("amy", 3), ("bob", 3), ("amy", 2), ("bob", 2), ("amy", 4), ("bob", 4)])

    def move():
        player, column = next(moves)
        matches.play(match_id=match_id, player_id=player, column=column)

    heard = asyncio.run(heard_until(lambda a: a.kind == MATCH and a.subject == match_id, move))

    announced = heard[-1]
    version, _, message = announced.payload.partition("|")
    assert announced.subject == match_id
    _state, kept_version = matches.match_state(match_id=match_id)
    assert int(version) <= kept_version
    assert f'"match_id":"{match_id}"' in message


def test_a_lost_subscription_is_made_again_and_says_so():
    killer = connection.client()

    def kill_subscribers():
        try:
            if isinstance(killer, redis.RedisCluster):
                killer.client_kill_filter(_type="pubsub", target_nodes=redis.RedisCluster.ALL_NODES)
            else:
                killer.client_kill_filter(_type="pubsub")
        except redis.RedisError:
            pass  # nobody subscribed yet on some node

    heard = asyncio.run(heard_until(lambda a: a.kind == RESUBSCRIBED, kill_subscribers))

    assert heard[-1] == Announcement(RESUBSCRIBED)
