"""The live server's round trips on its event loop (redis_store.loop_client), against a real Redis:
conversations of several steps, scripts Redis lost, error replies, a Redis that stops answering or
was never there, and one that wants a password and a database of its own. On a cluster a round
trip goes through the threads' client, so the same conversations hold there too."""

import asyncio

import pytest
import redis

from leaderboard import redis_store
from leaderboard.exceptions import BoardUnavailable
from leaderboard.redis_store.client import Step, single
from leaderboard.redis_store.keys import match_key
from leaderboard.redis_store.loop_client import LoopConnection
from leaderboard.services import matches

from .conftest import OwnRedis, not_on_cluster, single_redis


def run(conversation):
    """A conversation on a new loop connection, in an event loop of its own."""
    return asyncio.run(LoopConnection().converse(conversation))


def counted_twice(key: str):
    """A conversation of two steps, the second depending on the first's reply."""
    first = yield Step([("INCRBY", key, 5)], lambda replies: replies[0])
    second = yield Step([("INCRBY", key, first), ("GET", key)], lambda replies: replies)
    return first, second


def test_a_conversation_takes_its_steps_in_order_each_given_what_the_last_replied():
    key = match_key("mch_counting")

    assert run(counted_twice(key)) == (5, [10, "10"])
    assert redis_store.client().get(key) == "10"


def test_a_script_redis_lost_is_loaded_again_and_runs():
    match = matches.MatchState(match_id="mch_scripted", players=("amy", "bob"))
    redis_store.matches.create_match(match.match_id, "{}", players=["amy", "bob"], now=1.0, keep_seconds=60)
    redis_store.client().script_flush()  # on a cluster, on every master
    changing = redis_store.matches.changing_match(
        match.match_id, version=0, state="{}", message="{}", keep_seconds=60, now=2.0
    )

    assert run(single(changing)) == 1
    assert redis_store.matches.match_record(match.match_id).version == 1


def test_an_error_reply_fails_the_round_trip_as_board_unavailable():
    key = match_key("mch_a_string")
    redis_store.client().set(key, "not a hash")

    with pytest.raises(BoardUnavailable, match="WRONGTYPE"):
        run(single(Step([("HGETALL", key)], lambda replies: replies[0])))


@not_on_cluster
def test_a_redis_that_never_answers_fails_within_the_socket_timeout(hung_redis, settings):
    settings.REDIS_SOCKET_TIMEOUT = 0.2

    async def asked_twice():
        connection = LoopConnection()
        outcomes = []
        for _attempt in range(2):
            started = asyncio.get_running_loop().time()
            with pytest.raises(BoardUnavailable):
                await connection.send([("PING",)])
            outcomes.append(asyncio.get_running_loop().time() - started)
        return outcomes

    waited = asyncio.run(asked_twice())
    assert all(0.15 <= seconds < 2 for seconds in waited)


@not_on_cluster
def test_a_redis_that_is_not_there_is_board_unavailable():
    with single_redis("redis://127.0.0.1:1/0"), pytest.raises(BoardUnavailable):
        run(single(Step([("PING",)], lambda replies: replies[0])))


@not_on_cluster
def test_the_connection_is_made_again_after_redis_closed_it():
    async def across_a_kill():
        connection = LoopConnection()
        _ok, loop_client_id = await connection.send([("SET", match_key("mch_before"), "1"), ("CLIENT", "ID")])
        redis_store.client().client_kill_filter(_id=loop_client_id)
        await asyncio.sleep(0.1)  # the close reaches the loop
        return await connection.send([("GET", match_key("mch_before"))])

    assert asyncio.run(across_a_kill()) == ["1"]


@not_on_cluster
def test_a_password_and_a_database_in_redis_url_are_used(own_redis_with_password):
    url = f"redis://:{own_redis_with_password.password}@127.0.0.1:{own_redis_with_password.port}/3"
    with single_redis(url):
        assert run(single(Step([("SET", "speedrank-probe", "x"), ("CLIENT", "INFO")], lambda replies: replies)))[1]

    on_three = redis.Redis(port=own_redis_with_password.port, password=own_redis_with_password.password, db=3)
    assert on_three.get("speedrank-probe") == b"x"


@pytest.fixture
def own_redis_with_password(tmp_path):
    server = OwnRedis(tmp_path / "redis", password="s3cret")
    yield server
    server.stop()


@not_on_cluster
def test_a_caller_cancelled_mid_round_trip_leaves_the_others_on_the_connection_answered():
    async def one_cancelled():
        connection = LoopConnection()
        await connection.send([("PING",)])
        blocked = asyncio.ensure_future(connection.send([("BLPOP", match_key("mch_nothing"), "0.2")]))
        await asyncio.sleep(0.05)
        behind = asyncio.ensure_future(connection.send([("PING",)]))  # its reply comes after BLPOP's
        await asyncio.sleep(0.01)
        blocked.cancel()
        return await behind, await connection.send([("ECHO", "after")])

    assert asyncio.run(one_cancelled()) == (["PONG"], ["after"])
