"""The v1 API: games, play sessions and scores, and the leaderboard reads; one module per resource."""
