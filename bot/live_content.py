"""Live content: staff edit content/ while the bot runs, and each valid edit is in use within 2 s.

Every application process watches content/ for itself (no signal between processes, nothing in
the database): every POLL_SECONDS it reads the files' bytes in a thread and compares their digest
(file stamps alone miss an edit within the same second on some Docker volumes). A changed digest
is loaded and validated in a thread too, then swapped in as a whole: a turn takes the version in
use when it begins (`LiveContent.current`) and reads only that one to its end.

An edit that fails validation is not loaded: the bot keeps the last good version, the error
(file:line, as ContentError gives it) is logged, shown to staff (`/staff/api/content`) and in
`/healthz`, until the files change again.
"""

import asyncio
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot.content import ContentStore, load_content
from bot.errors import ContentError
from bot.handoff import TeamHours, load_team_hours

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # an edit is seen within this, and loaded within about 1 s more


@dataclass(frozen=True)
class ContentVersion:
    """One valid version of content/: the store (topics, concepts, words, crisis) and the team's
    hours. `version` is the digest of its files: the same in every process that loaded them."""

    store: ContentStore
    team_hours: TeamHours = TeamHours(())
    version: str = ""
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


class ContentSource(Protocol):
    """Where a turn gets its content: a fixed version, or the live one."""

    @property
    def current(self) -> ContentVersion: ...


@dataclass(frozen=True)
class FixedContent:
    """Content that never changes (tests, `make eval`)."""

    current: ContentVersion


@dataclass(frozen=True)
class RejectedEdit:
    """An edit that failed validation: its digest, when it was found, and what is wrong."""

    version: str
    at: dt.datetime
    error: str


def content_digest(content_dir: Path) -> str:
    """The digest of every content file (*.yml, at any depth, hidden files left out), names included,
    so that a new, removed or renamed file counts as an edit."""
    digest = hashlib.sha256()
    for path in sorted(content_dir.rglob("*.yml")):
        relative = path.relative_to(content_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue  # an editor's lock or swap file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # removed since it was listed: the next poll sees the store without it
        except OSError as error:
            data = f"unreadable: {error}".encode()  # the load says so, and staff see it
        digest.update(f"{relative.as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:12]


def load_version(content_dir: Path, languages: set[str], version: str) -> ContentVersion:
    """Read and validate the whole of content/; ContentError says file:line what is wrong.

    The one place where content is validated, at start and on every edit."""
    store = load_content(content_dir, languages)
    team_hours = load_team_hours(content_dir / "team.yml")
    return ContentVersion(store, team_hours, version)


class LiveContent:
    """The content in use, and the watcher that swaps in each valid edit (`watch`, a background task)."""

    def __init__(self, content_dir: Path, languages: set[str], poll_seconds: float = POLL_SECONDS) -> None:
        """Loads content/ now; a ContentError here means the application cannot start."""
        self._dir = content_dir
        self._languages = languages
        self._poll_seconds = poll_seconds
        digest = content_digest(content_dir)
        self._current = load_version(content_dir, languages, digest)
        self._tried = digest  # the last version loaded or rejected: not tried again
        self._rejected: RejectedEdit | None = None

    @property
    def current(self) -> ContentVersion:
        return self._current

    @property
    def rejected(self) -> RejectedEdit | None:
        """The edit now on disk, if it failed validation (None once the files are valid again)."""
        return self._rejected

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            await self.check()

    async def check(self) -> None:
        """Load the files if they changed since the last look; keep the last good version if they are invalid."""
        digest = await asyncio.to_thread(content_digest, self._dir)
        if digest == self._tried:
            return
        if digest == self._current.version:  # back to the version in use (a broken edit undone)
            self._tried, self._rejected = digest, None
            log.info("content: the files are version %s again, the one in use", digest)
            return
        version: ContentVersion | Exception
        try:
            version = await asyncio.to_thread(load_version, self._dir, self._languages, digest)
        except (ContentError, OSError, UnicodeDecodeError) as error:
            version = error
        if await asyncio.to_thread(content_digest, self._dir) != digest:
            # Changed while being read (an editor still writing, a second file saved): what was
            # read may be half of one edit and half of another. The next poll reads it all again.
            return
        self._tried = digest
        if isinstance(version, Exception):
            message = self._readable(version)
            self._rejected = RejectedEdit(digest, dt.datetime.now(dt.timezone.utc), message)
            log.error("content: edit %s not loaded, still serving version %s:\n%s", digest, self._current.version,
                      message)
            return
        self._current, self._rejected = version, None
        log.info("content: version %s loaded", digest)

    def _readable(self, error: Exception) -> str:
        """The error with paths from content/ on ("content/topics/cafeo.women.yml:12: ..."), as staff know them."""
        text = str(error) if isinstance(error, ContentError) else f"{type(error).__name__}: {error}"
        return text.replace(str(self._dir), self._dir.name)

    def status(self) -> dict[str, Any]:
        """For /healthz and the staff console: the version in use, and the rejected edit if any."""
        rejected = self._rejected
        return {"version": self._current.version, "loaded_at": self._current.loaded_at.isoformat(timespec="seconds"),
                "error": None if rejected is None else {
                    "version": rejected.version, "at": rejected.at.isoformat(timespec="seconds"),
                    "message": rejected.error}}
