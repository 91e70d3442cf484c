"""Channel ids at rest (bot/channel_ids.py): a keyed hash to find a user by, the id encrypted,
keys rotated, and a database from before turned over by its migration."""

import datetime as dt
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.channel_ids import ChannelIds, parse_keys
from bot.errors import ConfigError
from bot.language_detection import LanguageGuesser
from bot.settings import PROJECT_ROOT
from bot.storage import Address, Case, Inbound, Outbound, Storage, User, make_engine, migrate
from tests.conftest import make_settings, stored, stored_addresses
from tests.test_whatsapp import USER, start, text

K1, K2, H1, H2 = (Fernet.generate_key() for _ in range(4))


def test_the_same_id_gives_the_same_reference_only_under_the_same_key() -> None:
    ids = ChannelIds((K1,), H1)
    assert ids.ref("whatsapp", USER) == ids.ref("whatsapp", USER)
    assert ids.ref("whatsapp", USER) != ids.ref("telegram", USER)
    assert ids.ref("whatsapp", USER) != ChannelIds((K1,), H2).ref("whatsapp", USER)
    assert USER not in ids.ref("whatsapp", USER) and USER not in ids.seal(USER)


def test_an_address_opens_under_any_listed_key_and_rotation_moves_it_to_the_first() -> None:
    old = ChannelIds((K1,), H1)
    sealed = old.seal(USER)
    both = ChannelIds((K2, K1), H1)
    assert both.open(sealed) == USER
    rotated = both.reseal(sealed)
    assert ChannelIds((K2,), H1).open(rotated) == USER
    with pytest.raises(ConfigError, match="ID_KEYS"):
        ChannelIds((K2,), H1).open(sealed)


def test_bad_keys_are_refused_with_the_variables_name() -> None:
    with pytest.raises(ConfigError, match="ID_KEYS: key 2"):
        parse_keys(f"{K1.decode()}, not-a-key")
    with pytest.raises(ConfigError, match="ID_HASH_KEY"):
        ChannelIds((K1,), b"short")
    assert "K1" not in repr(ChannelIds((K1,), H1)) and K1.decode() not in repr(ChannelIds((K1,), H1))


async def test_rotating_both_keys_keeps_every_user_and_their_conversation(
    database_url: str, rasa_server: tuple[str, str], guesser: LanguageGuesser
) -> None:
    """A WhatsApp user chose Arabic under the old keys; `python -m bot.channel_ids rotate` with a
    new encryption key first and a new hash key (the old one as ID_HASH_KEY_PREVIOUS); the bot,
    now with only the new keys, still knows the user (Arabic, one user) and reaches them."""
    old = {"id_keys": K1.decode(), "id_hash_key": H1.decode()}
    async for whatsapp in start(database_url, rasa_server, guesser, **old):
        await whatsapp.deliver(text("wamid.R1", "مرحبا"))
        await whatsapp.fake.wait_for(1, USER)
        await whatsapp.settled()
    [before] = await stored(database_url, User)

    environment = {**os.environ, "DATABASE_URL": database_url, "ID_KEYS": f"{K2.decode()},{K1.decode()}",
                   "ID_HASH_KEY": H2.decode(), "ID_HASH_KEY_PREVIOUS": H1.decode()}
    done = subprocess.run([sys.executable, "-m", "bot.channel_ids", "rotate"], cwd=PROJECT_ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 addresses encrypted") and "1 users' references recomputed" in done.stdout

    new = ChannelIds((K2,), H2)
    [after] = await stored(database_url, User)
    assert (after.id, after.language, after.channel_user_id) == (before.id, "ar", new.ref("whatsapp", USER))
    [address] = await stored_addresses(database_url)
    assert new.open(address.sealed) == USER  # under the new key alone
    assert {row.user_ref for row in await stored(database_url, Inbound)} == {after.channel_user_id}
    async for whatsapp in start(database_url, rasa_server, guesser, id_keys=K2.decode(), id_hash_key=H2.decode()):
        await whatsapp.deliver(text("wamid.R2", "/menu"))
        [menu] = await whatsapp.fake.wait_for(1, USER)
        assert menu["to"] == USER
        assert [u.id for u in await stored(database_url, User)] == [before.id]


async def test_the_migration_turns_stored_ids_into_references_and_sealed_addresses(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database written before ids were encrypted: its phone numbers and chat ids become
    references everywhere (inside a pending message too), and sealed addresses."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(make_settings(database_url).database_url)

    def upgrade_to(revision: str) -> Any:
        def upgrade(connection: object) -> None:
            config = Config(str(PROJECT_ROOT / "alembic.ini"))
            config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return upgrade

    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to("0009"))
        now = dt.datetime.now(dt.timezone.utc)
        async with Storage(engine).session() as session, session.begin():
            user = User(channel="whatsapp", channel_user_id=USER, language="uk")
            session.add(user)
            await session.flush()
            session.add(Inbound(channel="whatsapp", external_id="wamid.OLD", user_ref=USER, reply_to=USER,
                                message=json.dumps({"user_ref": USER, "text": "привіт"}), platform_at=now))
            session.add(Outbound(channel="whatsapp", recipient=USER, payload="{}"))
            session.add(Case(user_id=user.id, channel="whatsapp", recipient=USER, language="uk", consent_version="v"))
        monkeypatch.setenv("ID_KEYS", K1.decode())
        monkeypatch.setenv("ID_HASH_KEY", H1.decode())
        await migrate(engine)
        ids = ChannelIds((K1,), H1)
        ref = ids.ref("whatsapp", USER)
        async with Storage(engine).session() as session:
            assert (await session.scalar(select(User.channel_user_id))) == ref
            [inbound] = (await session.scalars(select(Inbound))).all()
            assert (inbound.user_ref, inbound.reply_to, json.loads(inbound.message)["user_ref"]) == (ref, ref, ref)
            assert (await session.scalar(select(Outbound.recipient))) == ref
            assert (await session.scalar(select(Case.recipient))) == ref
            [address] = (await session.scalars(select(Address))).all()
            assert (address.ref, ids.open(address.sealed)) == (ref, USER)
    finally:
        await engine.dispose()
