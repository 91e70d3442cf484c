"""Channel user ids at rest: a keyed hash to find a user by, the id itself only encrypted.

A WhatsApp user's id is their phone number, a Telegram chat id a permanent handle to the person,
a web chat's id the bearer token in their cookie. None of these is stored as it is:

- every table refers to a user by `ref(channel, id)`: an HMAC-SHA256 under ID_HASH_KEY, the same
  for the same person every time, so rows can be found, grouped and ordered by it, and useless
  without the key (a phone number's hash cannot be tried out without it);
- the one place that needs the id itself, sending a reply, reads it from the `addresses` table,
  encrypted with Fernet (AES-128-CBC + HMAC) under the first of ID_KEYS.

Rotation (README, "Keys for channel ids"): a new encryption key goes first in ID_KEYS, the old
ones stay behind it until `make rotate-id-keys` has re-encrypted every address; the hash key is
changed with the same command (ID_HASH_KEY_PREVIOUS names the old one), which recomputes every
reference from the decrypted addresses while the bot is stopped.
"""

import base64
import hashlib
import hmac
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.errors import ConfigError
from bot.settings import kept_secret

if TYPE_CHECKING:
    from sqlalchemy import Connection

# A reference starts with this, so that an id stored before encryption (a migration's input) is
# never mistaken for one.
REF_PREFIX = "h:"


class ChannelIds:
    """Turns a channel's user id into the reference stored everywhere, and seals and opens the
    id itself for the address book. (No repr of the keys.)"""

    def __init__(self, encryption_keys: tuple[bytes, ...], hash_key: bytes) -> None:
        if not encryption_keys:
            raise ConfigError("ID_KEYS must hold at least one key")
        if len(hash_key) < 32:
            raise ConfigError("ID_HASH_KEY must be at least 32 characters (make one with `make id-key`)")
        self._multi = MultiFernet([Fernet(key) for key in encryption_keys])
        self._hash_key = hash_key

    def ref(self, channel: str, user_id: str) -> str:
        """The stored reference of a channel's user id (the same input, the same reference)."""
        digest = hmac.new(self._hash_key, f"{channel}\x00{user_id}".encode(), hashlib.sha256).digest()
        return REF_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def seal(self, user_id: str) -> str:
        """The id encrypted under the current (first) key."""
        return self._multi.encrypt(user_id.encode()).decode()

    def open(self, sealed: str) -> str:
        """The id from its encrypted form, under whichever listed key sealed it."""
        try:
            return self._multi.decrypt(sealed.encode()).decode()
        except InvalidToken as error:
            raise ConfigError("an address was encrypted with a key that is not in ID_KEYS") from error

    def reseal(self, sealed: str) -> str:
        """The same id encrypted under the current key (rotation)."""
        return self._multi.rotate(sealed.encode()).decode()


def parse_keys(text: str) -> tuple[bytes, ...]:
    """ID_KEYS: Fernet keys (32 bytes, url-safe base64), newest first, separated by commas."""
    keys = tuple(part.strip().encode() for part in text.split(",") if part.strip())
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError as error:
            raise ConfigError(f"ID_KEYS: key {number} is not a Fernet key (32 bytes, url-safe base64; "
                              "make one with `make id-key`)") from error
    return keys


def new_key() -> str:
    return Fernet.generate_key().decode()


def channel_ids(id_keys: str, id_hash_key: str, keys_file: Path) -> ChannelIds:
    """From the settings: ID_KEYS and ID_HASH_KEY, else (a developer's machine) two keys made once
    and kept in `keys_file` and `keys_file` + ".hash"."""
    keys = parse_keys(id_keys) if id_keys.strip() else (kept_secret(keys_file, new_key).encode(),)
    hash_key = id_hash_key.strip() or kept_secret(keys_file.with_name(keys_file.name + ".hash"), new_key)
    return ChannelIds(keys, hash_key.encode())




# (table, channel column, id column) of every place that holds a user's reference
REF_COLUMNS = (("users", "channel", "channel_user_id"), ("inbound", "channel", "user_ref"),
               ("inbound", "channel", "reply_to"), ("outbound", "channel", "recipient"),
               ("cases", "channel", "recipient"), ("addresses", "channel", "ref"))


def rewrite_refs(connection: "Connection", channel: str, old: str, new: str) -> None:
    """Every row that names `old` (an id, or a reference under an old hash key) names `new`
    instead, also inside the parsed message a pending inbox row keeps. Synchronous: run in a
    migration or through `AsyncConnection.run_sync`."""
    from sqlalchemy import text

    for table, channel_column, column in REF_COLUMNS:
        connection.execute(text(f"UPDATE {table} SET {column} = :new WHERE {channel_column} = :channel "
                                f"AND {column} = :old"), {"new": new, "channel": channel, "old": old})
    for row_id, message in list(connection.execute(text(
            "SELECT id, message FROM inbound WHERE channel = :channel AND user_ref = :new AND message <> ''"),
            {"channel": channel, "new": new})):
        try:
            body = json.loads(message)
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("user_ref") == old:
            body["user_ref"] = new
            connection.execute(text("UPDATE inbound SET message = :message WHERE id = :id"),
                               {"message": json.dumps(body, ensure_ascii=False), "id": row_id})


@dataclass(frozen=True)
class Rotated:
    resealed: int  # addresses encrypted anew under the first key
    rehashed: int  # users' references recomputed under the new hash key


def rotate(connection: "Connection", ids: ChannelIds, previous: ChannelIds | None) -> Rotated:
    """Every address sealed under the current key; with `previous` (the same keys, the old hash
    key), every reference recomputed under the current hash key. One transaction (the caller's)."""
    from sqlalchemy import text

    rows = list(connection.execute(text("SELECT channel, ref, sealed FROM addresses ORDER BY channel, ref")))
    rehashed = 0
    for channel, ref, sealed in rows:
        new_ref = ref
        if previous is not None:
            user_id = ids.open(sealed)
            if previous.ref(channel, user_id) == ref:
                new_ref = ids.ref(channel, user_id)
                rewrite_refs(connection, channel, ref, new_ref)
                rehashed += 1
        connection.execute(text("UPDATE addresses SET sealed = :sealed WHERE channel = :channel AND ref = :ref"),
                           {"sealed": ids.reseal(sealed), "channel": channel, "ref": new_ref})
    return Rotated(len(rows), rehashed)


async def _rotate_now() -> Rotated:
    from bot.settings import load_settings
    from bot.storage import make_engine, migrate

    settings = load_settings()
    ids = channel_ids(settings.id_keys, settings.id_hash_key, settings.id_keys_file)
    previous = None
    if settings.id_hash_key_previous.strip():
        previous = ChannelIds(parse_keys(settings.id_keys) or (kept_secret(settings.id_keys_file, new_key).encode(),),
                              settings.id_hash_key_previous.strip().encode())
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        async with engine.begin() as connection:
            return await connection.run_sync(lambda sync: rotate(sync, ids, previous))
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    """`new-key`: print a new key (for ID_KEYS or ID_HASH_KEY); `rotate`: see `rotate`."""
    import asyncio

    if argv == ["new-key"]:
        print(new_key())
        return 0
    if argv != ["rotate"]:
        print("usage: python -m bot.channel_ids new-key | rotate", file=sys.stderr)
        return 2
    try:
        rotated = asyncio.run(_rotate_now())
    except ConfigError as error:
        print(f"cannot rotate: {error}", file=sys.stderr)
        return 2
    print(f"{rotated.resealed} addresses encrypted with the first key of ID_KEYS; "
          f"{rotated.rehashed} users' references recomputed with ID_HASH_KEY")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
