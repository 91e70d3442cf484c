"""Create a staff console account (or change one): `make staff-user NAME=… ROLE=… LANGS=de,ar`.

    python -m bot.staff_user NAME ROLE LANGS   # the password is read from standard input

Uses DATABASE_URL like the bot (the schema is migrated first). ROLE: case_manager or admin;
LANGS: the languages the staff member speaks, comma-separated codes.
"""

import asyncio
import getpass
import sys

from bot.errors import ConfigError
from bot.i18n import load_languages
from bot.settings import load_settings
from bot.staff import add_staff_user
from bot.storage import Storage, make_engine, migrate


async def create(name: str, role: str, languages: list[str], password: str) -> None:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        await add_staff_user(Storage(engine), name, role, languages, password)
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    if len(argv) != 4 or not argv[1]:
        print(__doc__, file=sys.stderr)
        return 2
    name, role, langs = argv[1], argv[2], argv[3]
    try:
        known = set(load_languages(load_settings().locales_dir))
    except ConfigError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    languages = [code.strip() for code in langs.split(",") if code.strip()]
    unknown = [code for code in languages if code not in known]
    if unknown:
        print(f"LANGS: unknown language codes {unknown}; known: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    try:
        asyncio.run(create(name, role, languages, password))
    except ValueError as error:
        print(f"not created: {error}", file=sys.stderr)
        return 2
    print(f"staff account {name!r} ({role}; {', '.join(languages) or 'no languages'}) saved")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
