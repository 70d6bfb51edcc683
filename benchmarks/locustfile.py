"""The seed API's load mix for Locust: 3 top-players reads, 2 my-rank reads, 1 score submission.

Run through `make loadtest`; LOADTEST_PLAYERS, LOADTEST_MIN_WAIT and LOADTEST_MAX_WAIT shape the load.
FastHttpUser (geventhttpclient, which Locust ships with) rather than HttpUser (requests): on a
small machine requests' own overhead gives the client a tail of 60 ms and more, which would be
measured as the server's.
"""

import os
import random

from locust import FastHttpUser, between, task

PLAYERS = int(os.environ.get("LOADTEST_PLAYERS", "10000"))
MIN_WAIT = float(os.environ.get("LOADTEST_MIN_WAIT", "1"))
MAX_WAIT = float(os.environ.get("LOADTEST_MAX_WAIT", "3"))
POINTS_MAX = 1_000_000
NOT_RANKED_MESSAGE = "Player not found in leaderboard."


def random_player() -> str:
    return f"player{random.randrange(PLAYERS)}"


class LeaderboardUser(FastHttpUser):
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
