"""Bounds of the seed contract and the score encoding, shared by models, migrations, the API and redis_store."""

USERNAME_MAX_LENGTH = 150
POINTS_MIN = 0
POINTS_MAX = 1_000_000
TOP_PLAYERS_COUNT = 10

DEFAULT_BOARD_SLUG = "default"
DEFAULT_BOARD_NAME = "Default leaderboard"

# Bit budget of a board entry's sorted-set score (see redis_store): 20 + 33 = 53 bits,
# the integers a double holds exactly. A board's max_score - min_score fits in 20 bits
# (1,048,575) and score ids stay below 2**33.
POINTS_BITS = 20
SEQUENCE_BITS = 33
ENCODABLE_POINTS_MAX = 2**POINTS_BITS - 1
SEQUENCE_LIMIT = 2**SEQUENCE_BITS

SESSION_SECONDS_DEFAULT = 3600

# A game sharded by region: how many regions, and how long a region's slug may be.
REGIONS_MIN = 2
REGIONS_MAX = 16
REGION_MAX_LENGTH = 16
# The global view of a game with regions merges each region's best offset + top: it reads that
# deep at most (a region's own board, read with region=, pages as deep as any board).
GLOBAL_VIEW_DEPTH_MAX = 1_000
