"""The statements the hot writes run, as SQL rather than built by the ORM: they run while the
transaction holds SQLite's one write lock, so their cost is what every other writer waits on.
Table and column names come from the models."""

from datetime import UTC, datetime

from django.db import connection

from ..models import Board, BoardEntry, IdempotencyRecord, Period, Player, PlaySession, Score

PLAYERS = Player._meta.db_table
SESSIONS = PlaySession._meta.db_table
SCORES = Score._meta.db_table
BOARDS = Board._meta.db_table
ENTRIES = BoardEntry._meta.db_table
ANSWERS = IdempotencyRecord._meta.db_table
PERIODS = Period._meta.db_table
_RESPONSE = IdempotencyRecord._meta.get_field("response")
_KEY = connection.ops.quote_name("key")  # a keyword in SQL, quoted as the ORM quotes it


def player_id(cursor, username: str, now: datetime, *, lock: bool) -> int:
    """The player's id, the player created on first sight. The unique constraint settles
    concurrent first sightings; `lock` takes the row lock (PostgreSQL; SQLite's IMMEDIATE
    transactions already run one at a time), so one player's scores take their ids in the order
    they are applied to the entry."""
    cursor.execute(
        f"INSERT INTO {PLAYERS} (username, created_at) VALUES (%s, %s) ON CONFLICT (username) DO NOTHING",
        [username, to_db(now)],
    )
    cursor.execute(f"SELECT id FROM {PLAYERS} WHERE username = %s{player_lock() if lock else ''}", [username])
    return cursor.fetchone()[0]


def lock_player(cursor, player_id: int) -> None:
    """The player's row lock, as player_id(lock=True) takes it, for a player known by id."""
    if connection.features.has_select_for_update:
        cursor.execute(f"SELECT id FROM {PLAYERS} WHERE id = %s{player_lock()}", [player_id])


def session_key(session_id) -> object:
    """A session id (UUID or its text) as the database stores it."""
    return PlaySession._meta.pk.get_db_prep_value(session_id, connection)


def to_db(moment: datetime) -> object:
    return connection.ops.adapt_datetimefield_value(moment)


def from_db(value: datetime | str) -> datetime:
    """A datetime column as read without the ORM: SQLite gives naive UTC (or its text)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def player_lock() -> str:
    """The lock that puts a player's writes in turn. NO KEY UPDATE where there is one: it still
    excludes itself, but not the key-share lock a row referencing the player takes, so a period's
    close, archiving the player's entry, does not wait on a writer that waits on the close."""
    if connection.features.has_select_for_no_key_update:
        return " FOR NO KEY UPDATE"
    return for_update()


def for_update(of: str = "") -> str:
    """The row-lock clause where the database has one; `of` names the table alias to lock."""
    if not connection.features.has_select_for_update:
        return ""
    return f" FOR UPDATE OF {of}" if of and connection.features.has_select_for_update_of else " FOR UPDATE"


# --- the answers kept for keyed requests (idempotency records) ------------------------------


def kept_answer(cursor, api_key_id: int, key: str) -> IdempotencyRecord | None:
    """The answer kept for this key's request, if one was (an unsaved record, as read)."""
    cursor.execute(
        f"SELECT request_hash, status_code, response FROM {ANSWERS} WHERE api_key_id = %s AND {_KEY} = %s",
        [api_key_id, key],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    response = _RESPONSE.from_db_value(row[2], None, connection)
    return IdempotencyRecord(api_key_id=api_key_id, key=key, request_hash=row[0], status_code=row[1], response=response)


def keep_answer(cursor, record: IdempotencyRecord) -> None:
    """Keep the answer to a keyed request; IntegrityError if one is kept for the key already."""
    cursor.execute(
        f"INSERT INTO {ANSWERS} (api_key_id, {_KEY}, request_hash, status_code, response, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        [
            record.api_key_id, record.key, record.request_hash, record.status_code,
            _RESPONSE.get_db_prep_save(record.response, connection), to_db(record.created_at),
        ],
    )  # fmt: skip


def replace_kept_response(cursor, api_key_id: int, key: str, response: dict) -> None:
    cursor.execute(
        f"UPDATE {ANSWERS} SET response = %s WHERE api_key_id = %s AND {_KEY} = %s",
        [_RESPONSE.get_db_prep_save(response, connection), api_key_id, key],
    )
