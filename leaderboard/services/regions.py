"""Moving a player to another region of a game with regions: an admin's call."""

import logging
from dataclasses import dataclass

from django.db.models.functions import Now

from .. import redis_store, regional, writes
from ..exceptions import BoardUnavailable, InvalidRegion, PlayerNotRanked
from ..models import BoardEntry, Player
from ..writes import AfterCommit, Work
from .games import scoring_games

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RegionalStanding:
    """A player's standing on a game with regions: `rank` across every region, `regional_rank` in
    theirs (None for both if Redis could not say)."""

    game_id: str
    player_id: str
    region: str
    score: int
    rank: int | None
    regional_rank: int | None


@dataclass(frozen=True)
class MovePlayer(Work):
    """The player's entry moved to `region`, under the player's and the entry's row locks, so no
    score of theirs lands meanwhile; Redis sets it on the new region's board, then drops it from
    the old one's, which remembers them as moved out, so a late mirror of a score from before the
    move does not put them back there."""

    game_id: str
    player_id: str
    region: str

    def apply(self, after: AfterCommit) -> tuple[str, int]:
        board = scoring_games.get(self.game_id)
        player = Player.objects.select_for_update(no_key=True).filter(username=self.player_id).first()
        entry = BoardEntry.objects.select_for_update().filter(board_id=board.id, player=player).first()
        if entry is None:
            raise PlayerNotRanked(self.player_id)
        if entry.region != self.region:
            BoardEntry.objects.filter(id=entry.id).update(region=self.region, updated_at=Now())
            encoded = redis_store.encode(board.rules.rank_value(entry.value), entry.reached_seq)
            left = redis_store.board_of(board.slug, entry.region, board.rules.regions)
            moved = redis_store.MirroredEntry(
                redis_store.board_of(board.slug, self.region, board.rules.regions),
                board.rules,
                self.player_id,
                encoded,
                moved_from=left,
            )
            after.mirror(moved, score_id=entry.reached_seq)
        return entry.region, entry.value


def move_player(*, game_id: str, player_id: str, region: str) -> RegionalStanding:
    """Move the player to another region of the game; their standing once moved. InvalidRegion if
    the region is not one of the game's; PlayerNotRanked if the player has no entry on it."""
    regions = scoring_games.get(game_id).rules.regions
    if region not in regions:
        raise InvalidRegion.not_the_games(regions)
    left, score = writes.commit(MovePlayer(game_id, player_id, region))
    fields = {"event": "player_moved", "game_id": game_id, "player_id": player_id, "from": left, "to": region}
    logger.info("player_moved game=%s player=%s from=%s to=%s", game_id, player_id, left, region, extra=fields)
    try:
        found = regional.around(game_id, regions, player_id, 0, total=False)
        rank, regional_rank = found.rank, found.regional_rank
    except (BoardUnavailable, PlayerNotRanked):  # committed all the same; Redis cannot say now
        rank = regional_rank = None
    return RegionalStanding(game_id, player_id, region, score, rank, regional_rank)
