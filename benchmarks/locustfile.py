"""Both APIs under load with Locust: a seed user and a v1 player, side by side.

The seed user's mix: 3 top-players reads, 2 my-rank reads, 1 score submission. The v1 player plays
matches on the game `default`: it opens a session, plays (its think time), submits the session's
score with the session's token, reads its rank with its neighbours, then the top 10, and starts over.

Run through `make loadtest`. LOADTEST_SEED_WEIGHT and LOADTEST_V1_WEIGHT (1 and 1) share the users
between the two (0 leaves one out); LOADTEST_PLAYERS, LOADTEST_MIN_WAIT and LOADTEST_MAX_WAIT shape
the load. Every user comes from one IP, so against a server from `make run` the /v1/ rate limits
must be raised first, or the v1 player gets 429s within seconds: start it with, for instance,
`RATE_LIMIT_READS_PER_IP=1000000000 RATE_LIMIT_WRITES_PER_IP=1000000000
RATE_LIMIT_WRITES_PER_PLAYER=1000000000 make run` (or `RATE_LIMITS_ENABLED=0`).
FastHttpUser (geventhttpclient, which Locust ships with) rather than HttpUser (requests): on a
small machine requests' own overhead gives the client a tail of 60 ms and more, which would be
measured as the server's.
"""

import os
import random

from locust import FastHttpUser, SequentialTaskSet, between, task

PLAYERS = int(os.environ.get("LOADTEST_PLAYERS", "10000"))
MIN_WAIT = float(os.environ.get("LOADTEST_MIN_WAIT", "1"))
MAX_WAIT = float(os.environ.get("LOADTEST_MAX_WAIT", "3"))
SEED_WEIGHT = int(os.environ.get("LOADTEST_SEED_WEIGHT", "1"))
V1_WEIGHT = int(os.environ.get("LOADTEST_V1_WEIGHT", "1"))
POINTS_MAX = 1_000_000
NOT_RANKED_MESSAGE = "Player not found in leaderboard."
GAME = "default"  # the seed's board; it has no time check, so any score in its range is accepted


def random_player() -> str:
    return f"player{random.randrange(PLAYERS)}"


class LeaderboardUser(FastHttpUser):
    weight = SEED_WEIGHT
    # 0/0 gives between(0, 0): no think time, each user sends its next request at once.
    wait_time = between(MIN_WAIT, MAX_WAIT)

    @task(3)
    def top_players(self) -> None:
        self.client.get("/api/top-players/", name="/api/top-players/")

    @task(2)
    def my_rank(self) -> None:
        path = f"/api/my-rank/?username={random_player()}"
        with self.client.get(path, name="/api/my-rank/", catch_response=True) as response:
            # The contract answers 404 for a player with no score yet: correct, so a success.
            # Any other 404 (a wrong path, say) stays a failure.
            if response.status_code == 404 and NOT_RANKED_MESSAGE in response.text:
                response.success()

    @task(1)
    def submit_score(self) -> None:
        score = {"username": random_player(), "points": random.randint(0, POINTS_MAX)}
        self.client.post("/api/score/", json=score, name="/api/score/")


class V1Match(SequentialTaskSet):
    """One match of a v1 player, task after task with the think time between: the play is the wait
    between opening the session and submitting its score."""

    @task
    def open_session(self) -> None:
        self.player, self.session, self.scored = random_player(), None, False
        body = {"player_id": self.player, "game_id": GAME}
        with self.client.post("/v1/sessions", json=body, name="/v1/sessions", catch_response=True) as response:
            if response.status_code == 201:
                self.session = started_session(response)
                if self.session is None:
                    response.failure("201 without a session_id and a token")

    @task
    def submit_score(self) -> None:
        if self.session is None:
            return  # the session was refused, and that failure is counted already
        session_id, token = self.session
        body = {
            "player_id": self.player,
            "game_id": GAME,
            "score": random.randint(0, POINTS_MAX),
            "session_id": session_id,
        }
        headers = {"Authorization": f"Bearer {token}"}
        response = self.client.post("/v1/scores", json=body, headers=headers, name="/v1/scores")
        self.scored = response.status_code == 201

    @task
    def read_rank(self) -> None:
        path = f"/v1/leaderboard/rank?game_id={GAME}&player_id={self.player}&context=5"
        with self.client.get(path, name="/v1/leaderboard/rank", catch_response=True) as response:
            # Once its score is accepted the player is on the board; only a player whose score was
            # not may be missing from it, and then 404 player_not_ranked is the correct answer.
            if response.status_code == 404 and not self.scored and error_code(response) == "player_not_ranked":
                response.success()

    @task
    def read_top(self) -> None:
        self.client.get(f"/v1/leaderboard?game_id={GAME}&top=10", name="/v1/leaderboard")


class V1Player(FastHttpUser):
    weight = V1_WEIGHT
    wait_time = between(MIN_WAIT, MAX_WAIT)
    tasks = [V1Match]


def started_session(response) -> tuple[str, str] | None:
    try:
        answer = response.json()
        return answer["session_id"], answer["token"]
    except (ValueError, KeyError, TypeError):
        return None


def error_code(response) -> str | None:
    try:
        return response.json().get("error")
    except (ValueError, AttributeError):
        return None
