"""GET /health/: 200 when the database and Redis answer, 503 naming the one that failed."""

import urllib.error
import urllib.request

import orjson
import pytest

from .conftest import LiveServer, free_port, not_on_cluster, only_on_cluster, single_redis


@not_on_cluster
@pytest.mark.django_db
def test_health_is_200_when_both_answer(api):
    response = api.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "redis_cluster": None}


@only_on_cluster
@pytest.mark.django_db
def test_health_names_the_cluster_state_and_each_shards_master_and_replicas(api, redis_url):
    response = api.get("/health/")

    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["redis"], body["redis_cluster"]["state"]) == ("ok", "ok", "ok")
    shards = body["redis_cluster"]["shards"]
    assert [shard["slots"] for shard in shards] == ["0-5460", "5461-10922", "10923-16383"]
    nodes = [shard["master"] for shard in shards] + [replica for shard in shards for replica in shard["replicas"]]
    assert len(set(nodes)) == 6
    assert redis_url.removeprefix("redis://") in nodes


@pytest.mark.django_db
def test_health_is_503_naming_redis_when_it_is_down(api):
    with single_redis(f"redis://127.0.0.1:{free_port()}/0"):
        response = api.get("/health/")

    body = response.json()
    assert response.status_code == 503
    assert (body["status"], body["database"]) == ("unavailable", "ok")
    assert body["redis"].startswith("error: ")


@pytest.mark.server
def test_health_is_503_naming_the_database_when_it_cannot_be_opened(redis_url, tmp_path):
    server = LiveServer(
        redis_url=redis_url,
        log_path=tmp_path / "server.log",
        workers=1,
        database_url=f"sqlite:///{tmp_path}/missing-dir/db.sqlite3",
    )
    try:
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"{server.url}/health/", timeout=5)
    finally:
        server.stop()

    body = orjson.loads(answer.value.read())
    assert answer.value.code == 503
    assert (body["status"], body["redis"]) == ("unavailable", "ok")
    assert body["database"].startswith("error: ")
