"""The staff console under /staff: sign-in, the queue of handoff cases, transcripts, claim,
release, reassign, reply and close, and the audit log; the page (bot/static/staff.html) uses the
same JSON API as scripts and tests. Two more pages: what the bot could not answer
(/staff/unanswered, admins only: the texts come from people who did not agree to share anything
with the team) with its export as Rasa NLU training data, and the statistics (/staff/statistics,
every staff member: anonymous weekly counts, charts drawn on the server).

Sessions: a random token in an HttpOnly, SameSite=Strict cookie (Secure behind TLS), stored only
as its SHA-256; every state change needs the session's CSRF token in `X-CSRF-Token`. Sign-in
attempts are limited per user name and address. Every transcript view and action is audited.
"""

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case as when, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.charts import horizontal_bars, weekly_columns
from bot.delivery import Delivery
from bot.dialogue import Dialogue
from bot.handoff import claim
from bot.messages import Reply
from bot.storage import (
    AuditEntry,
    Case,
    Message,
    Outbound,
    SentMessage,
    StaffSession,
    StaffUser,
    Storage,
    Unanswered,
    WeeklyCount,
    as_seen,
    iso,
    utcnow,
)
from bot.unanswered import HANDOFF as HANDOFF_COUNT, KINDS, QUESTION, guesses_from_json, nlu_export, week_of

COOKIE = "ki_staff"
SESSION_HOURS = 10
ROLES = ("case_manager", "admin")
MAX_REPLY = 4096
# Sign-in: at most this many failed attempts per user name and address in the window.
LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS = 5, 15 * 60
PAGE = Path(__file__).parent / "static" / "staff.html"
UNANSWERED_PAGE = Path(__file__).parent / "static" / "staff-unanswered.html"
STATISTICS_PAGE = Path(__file__).parent / "static" / "staff-statistics.html"
MAX_LISTED = 500  # unanswered messages per page of the list (the export has them all)
WEEK = re.compile(r"\d{4}-W\d{2}")
LANGUAGE = re.compile(r"[a-z]{2,3}")
DEFAULT_WEEKS, MAX_WEEKS = 12, 106
CHARTS = ("topics", "languages", "channels", "questions", "handoffs")

hasher = PasswordHasher()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def add_staff_user(storage: Storage, name: str, role: str, languages: list[str], password: str) -> None:
    """Create a staff account, or set a new password, role and languages for an existing one."""
    if role not in ROLES:
        raise ValueError(f"ROLE must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("the password must have at least 10 characters")
    async with storage.session() as session, session.begin():
        user = await session.scalar(select(StaffUser).where(StaffUser.username == name))
        if user is None:
            user = StaffUser(username=name, created_at=utcnow())
            session.add(user)
        user.password_hash, user.role, user.languages = hasher.hash(password), role, ",".join(languages)


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    role: str
    languages: tuple[str, ...]
    csrf_token: str


class LoginLimiter:
    """Failed sign-ins per (user name, address) in a sliding window (per process)."""

    def __init__(self, attempts: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW_SECONDS) -> None:
        self._attempts, self._window = attempts, window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def blocked(self, key: tuple[str, str]) -> bool:
        failures = self._failures[key]
        while failures and failures[0] < time.monotonic() - self._window:
            failures.popleft()
        return len(failures) >= self._attempts

    def failed(self, key: tuple[str, str]) -> None:
        self._failures[key].append(time.monotonic())

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _case_json(case: Case) -> dict[str, Any]:
    return {"id": case.id, "status": case.status, "urgent": case.urgent, "language": case.language,
            "channel": case.channel, "topic": case.topic, "district": case.district,
            "created_at": iso(case.created_at), "claimed_by": case.claimed_by,
            "claimed_at": iso(case.claimed_at) if case.claimed_at else None,
            "closed_at": iso(case.closed_at) if case.closed_at else None, "outcome": case.outcome}


def _html(page: str) -> HTMLResponse:
    return HTMLResponse(page, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                       "Content-Security-Policy": "frame-ancestors 'none'"})


def _weeks_between(first: str, last: str) -> list[str]:
    """Every ISO week from `first` to `last`, both included."""
    day = dt.date.fromisocalendar(int(first[:4]), int(first[6:]), 1)
    end = dt.date.fromisocalendar(int(last[:4]), int(last[6:]), 1)
    weeks = []
    while day <= end:
        year, week, _ = day.isocalendar()
        weeks.append(f"{year}-W{week:02d}")
        day += dt.timedelta(days=7)
    return weeks


def _valid_week(value: str) -> bool:
    if not WEEK.fullmatch(value):
        return False
    try:
        dt.date.fromisocalendar(int(value[:4]), int(value[6:]), 1)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Filters:
    """What a staff member chose to see: a language (or all) and a week, or a range of weeks."""

    language: str | None
    weeks: list[str] | None  # None: every week
    kind: str | None = None


def _filters(request: Request, default_weeks: int | None = None) -> Filters | Response:
    """`language`, `week` or `from`/`to` (ISO weeks, "2026-W49"), `kind`: checked, with an error
    that names what is wrong. Without weeks: all, or the last `default_weeks`."""
    query = request.query_params
    language = query.get("language") or None
    if language is not None and not LANGUAGE.fullmatch(language):
        return _error(400, "language: a language code such as de or ar")
    kind = query.get("kind") or None
    if kind is not None and kind not in KINDS:
        return _error(400, f"kind: one of {', '.join(KINDS)}")
    for name in ("week", "from", "to"):
        if query.get(name) and not _valid_week(query[name]):
            return _error(400, f"{name}: an ISO week such as 2026-W49")
    if query.get("week"):
        return Filters(language, [query["week"]], kind)
    this_week = week_of(utcnow())[0]
    last = query.get("to") or this_week
    if query.get("from"):
        first = query["from"]
    elif default_weeks is not None:
        start = dt.date.fromisocalendar(int(last[:4]), int(last[6:]), 1) - dt.timedelta(weeks=default_weeks - 1)
        first = week_of(dt.datetime.combine(start, dt.time(12), dt.timezone.utc))[0]
    else:
        return Filters(language, None, kind)
    weeks = _weeks_between(first, last)
    if not weeks or len(weeks) > MAX_WEEKS:
        return _error(400, f"from/to: from 1 to {MAX_WEEKS} weeks, the first not after the last")
    return Filters(language, weeks, kind)


Handler = Callable[[Request, AsyncSession, Staff], Awaitable[Response]]


class StaffConsole:
    def __init__(self, storage: Storage, delivery: Delivery, dialogue: Dialogue, secure_cookie: bool,
                 content_status: Callable[[], dict[str, Any]] = lambda: {}) -> None:
        """`content_status`: the content in use and an edit that could not be loaded (LiveContent.status)."""
        self._storage = storage
        self._content_status = content_status
        self._delivery = delivery
        self._dialogue = dialogue
        self._secure_cookie = secure_cookie
        self._limiter = LoginLimiter()
        self._page = PAGE.read_text(encoding="utf-8")
        self._unanswered_page = UNANSWERED_PAGE.read_text(encoding="utf-8")
        self._statistics_page = STATISTICS_PAGE.read_text(encoding="utf-8")

    def routes(self) -> list[Route]:
        api = self._api
        return [
            Route("/staff", self._console_page, methods=["GET"]),
            Route("/staff/login", self._login, methods=["POST"]),
            Route("/staff/logout", api(self._logout, change=True), methods=["POST"]),
            Route("/staff/api/session", api(self._session), methods=["GET"]),
            Route("/staff/api/cases", api(self._cases), methods=["GET"]),
            Route("/staff/api/cases/{id:int}", api(self._case), methods=["GET"]),
            Route("/staff/api/cases/{id:int}/claim", api(self._claim, change=True), methods=["POST"]),
            Route("/staff/api/cases/{id:int}/release", api(self._release, change=True), methods=["POST"]),
            Route("/staff/api/cases/{id:int}/reassign", api(self._reassign, change=True), methods=["POST"]),
            Route("/staff/api/cases/{id:int}/reply", api(self._reply, change=True), methods=["POST"]),
            Route("/staff/api/cases/{id:int}/close", api(self._close, change=True), methods=["POST"]),
            Route("/staff/api/audit", api(self._audit, admin=True), methods=["GET"]),
            Route("/staff/unanswered", self._unanswered_console, methods=["GET"]),
            Route("/staff/statistics", self._statistics_console, methods=["GET"]),
            Route("/staff/api/unanswered", api(self._unanswered, admin=True), methods=["GET"]),
            Route("/staff/api/unanswered/export.yml", api(self._export, admin=True), methods=["GET"]),
            Route("/staff/api/unanswered/{id:int}", api(self._forget, change=True, admin=True), methods=["DELETE"]),
            Route("/staff/api/statistics", api(self._statistics), methods=["GET"]),
            Route("/staff/api/statistics/{chart}.svg", api(self._chart), methods=["GET"]),
            Route("/staff/api/content", api(self._content), methods=["GET"]),
        ]

    # -- sessions ------------------------------------------------------------------------

    def _api(self, handler: Handler, change: bool = False, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """A JSON endpoint for a signed-in staff member: 401 without a session, 403 without the
        CSRF token on a change or without the admin role where it is needed. One transaction."""

        async def endpoint(request: Request) -> Response:
            token = request.cookies.get(COOKIE, "")
            async with self._storage.session() as session, session.begin():
                found = (await session.execute(
                    select(StaffSession, StaffUser).join(StaffUser, StaffUser.id == StaffSession.staff_id)
                    .where(StaffSession.token_hash == _digest(token), StaffSession.expires_at > utcnow())
                )).first() if token else None
                if found is None:
                    return _error(401, "not signed in")
                stored, user = found
                staff = Staff(user.id, user.username, user.role,
                              tuple(c for c in user.languages.split(",") if c), stored.csrf_token)
                if change and not hmac.compare_digest(request.headers.get("x-csrf-token", ""), staff.csrf_token):
                    return _error(403, "the X-CSRF-Token header is missing or wrong")
                if admin and staff.role != "admin":
                    return _error(403, "for admins only")
                return await handler(request, session, staff)

        return endpoint

    async def _console_page(self, request: Request) -> Response:
        return _html(self._page)

    async def _unanswered_console(self, request: Request) -> Response:
        return _html(self._unanswered_page)

    async def _statistics_console(self, request: Request) -> Response:
        return _html(self._statistics_page)

    async def _login(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _error(415, "send the form fields username and password as application/x-www-form-urlencoded")
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
        name, password = (form.get("username") or [""])[0], (form.get("password") or [""])[0]
        key = (name.lower(), request.client.host if request.client else "")
        if self._limiter.blocked(key):
            return _error(429, "too many failed sign-ins; try again in 15 minutes")
        async with self._storage.session() as session, session.begin():
            user = await session.scalar(select(StaffUser).where(StaffUser.username == name))
            try:
                if user is None:
                    raise VerificationError("no such user")
                hasher.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                self._limiter.failed(key)
                session.add(AuditEntry(staff=name[:64], action="login_failed", at=utcnow()))
                return _error(401, "user name or password is wrong")
            self._limiter.succeeded(key)
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            now = utcnow()
            session.add(StaffSession(token_hash=_digest(token), staff_id=user.id, csrf_token=csrf, created_at=now,
                                     expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
            session.add(AuditEntry(staff=user.username, action="login", at=now))
            body = {"user": user.username, "role": user.role,
                    "languages": [c for c in user.languages.split(",") if c], "csrf_token": csrf}
        response = JSONResponse(body)
        response.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="strict",
                            secure=self._secure_cookie or request.url.scheme == "https", path="/staff")
        return response

    async def _logout(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        await session.execute(delete(StaffSession).where(StaffSession.token_hash == _digest(request.cookies[COOKIE])))
        session.add(AuditEntry(staff=staff.name, action="logout", at=utcnow()))
        response = JSONResponse({"signed_out": True})
        response.delete_cookie(COOKIE, path="/staff")
        return response

    async def _session(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        return JSONResponse({"user": staff.name, "role": staff.role, "languages": list(staff.languages),
                             "csrf_token": staff.csrf_token})

    async def _content(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        """The content version in use and, while the files on disk are invalid, what is wrong with them."""
        return JSONResponse(self._content_status(), headers={"Cache-Control": "no-store"})

    # -- cases ---------------------------------------------------------------------------

    async def _cases(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        """Open cases, urgent first, then the longest waiting."""
        rows = (await session.scalars(select(Case).where(Case.status != "closed").order_by(
            when((Case.urgent.is_(True), 0), else_=1), Case.created_at, Case.id))).all()
        return JSONResponse({"cases": [_case_json(c) for c in rows]}, headers={"Cache-Control": "no-store"})

    async def _load(self, request: Request, session: AsyncSession) -> Case | None:
        return await session.get(Case, request.path_params["id"], with_for_update=self._postgres)

    @property
    def _postgres(self) -> bool:
        return self._storage.engine.dialect.name == "postgresql"

    async def _case(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        case = await session.get(Case, request.path_params["id"])
        if case is None:
            return _error(404, "no such case")
        messages = list((await session.scalars(select(Message).where(Message.user_id == case.user_id)
                                               .order_by(Message.id))).all())
        # What the platform reported it could not deliver to this person (a WhatsApp `failed` report).
        undelivered = (await session.execute(
            select(SentMessage.error, SentMessage.status_at, Outbound.payload)
            .join(Outbound, Outbound.id == SentMessage.outbound_id)
            .where(Outbound.channel == case.channel, Outbound.recipient == case.recipient,
                   SentMessage.status == "failed").order_by(SentMessage.status_at))).all()
        session.add(AuditEntry(staff=staff.name, action="view", case_id=case.id, at=utcnow()))
        return JSONResponse({"case": _case_json(case), "messages": [
            {"direction": m.direction, "text": seen, "at": iso(m.created_at)}
            for m, seen in zip(messages, as_seen(messages))
        ], "undelivered": [{"text": json.loads(payload).get("text", ""), "error": error, "at": iso(at)}
                           for error, at, payload in undelivered]}, headers={"Cache-Control": "no-store"})

    async def _claim(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        case_id = request.path_params["id"]
        if not await claim(session, case_id, staff.name):
            case = await session.get(Case, case_id)
            if case is None:
                return _error(404, "no such case")
            return _error(409, f"the case is {case.status}" + (f" by {case.claimed_by}" if case.claimed_by else ""))
        session.add(AuditEntry(staff=staff.name, action="claim", case_id=case_id, at=utcnow()))
        case = await session.get(Case, case_id, populate_existing=True)
        assert case is not None
        return JSONResponse({"case": _case_json(case)})

    async def _mine(self, request: Request, session: AsyncSession, staff: Staff) -> Case | Response:
        """The case, if it is claimed by this staff member (or they are an admin)."""
        case = await self._load(request, session)
        if case is None:
            return _error(404, "no such case")
        if case.status != "claimed":
            return _error(409, f"the case is {case.status}; claim it first")
        if case.claimed_by != staff.name and staff.role != "admin":
            return _error(403, f"the case is claimed by {case.claimed_by}")
        return case

    async def _release(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        case = await self._mine(request, session, staff)
        if isinstance(case, Response):
            return case
        case.status, case.claimed_by, case.claimed_at = "waiting", None, None
        session.add(AuditEntry(staff=staff.name, action="release", case_id=case.id, at=utcnow()))
        return JSONResponse({"case": _case_json(case)})

    async def _reassign(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        body = await _json(request)
        to = body.get("to") if isinstance(body, dict) else None
        if not isinstance(to, str) or not to:
            return _error(400, "send {\"to\": \"<user name>\"}")
        case = await self._mine(request, session, staff)
        if isinstance(case, Response):
            return case
        if await session.scalar(select(StaffUser.id).where(StaffUser.username == to)) is None:
            return _error(400, f"no staff member {to!r}")
        case.claimed_by, case.claimed_at = to, utcnow()
        session.add(AuditEntry(staff=staff.name, action="reassign", case_id=case.id, detail=to, at=utcnow()))
        return JSONResponse({"case": _case_json(case)})

    async def _reply(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        body = await _json(request)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY:
            return _error(400, f"send {{\"text\": \"...\"}} with 1 to {MAX_REPLY} characters")
        case = await self._mine(request, session, staff)
        if isinstance(case, Response):
            return case
        now = utcnow()
        session.add(Message(user_id=case.user_id, direction="staff", text=text.strip(), language=case.language,
                            topic="handoff.reply", created_at=now))
        self._delivery.queue(session, case.channel, case.recipient, (Reply(text.strip()),))
        session.add(AuditEntry(staff=staff.name, action="reply", case_id=case.id, at=now))
        await session.flush()
        self._after_commit(session)
        return JSONResponse({"case": _case_json(case), "sent": True})

    async def _close(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        body = await _json(request)
        outcome = body.get("outcome") if isinstance(body, dict) else None
        if not isinstance(outcome, str) or not outcome.strip() or len(outcome) > 500:
            return _error(400, "send {\"outcome\": \"...\"} with 1 to 500 characters")
        case = await self._mine(request, session, staff)
        if isinstance(case, Response):
            return case
        now = utcnow()
        case.status, case.closed_at, case.outcome = "closed", now, outcome.strip()
        back = self._dialogue.back_with_bot(case.language)
        for reply in back.replies:
            session.add(Message(user_id=case.user_id, direction="out", text=reply.text, language=case.language,
                                topic=back.topic, created_at=now, buttons=json.dumps(
                                    [{"title": b.title, "payload": b.payload} for b in reply.buttons],
                                    ensure_ascii=False)))
        self._delivery.queue(session, case.channel, case.recipient, back.replies)
        session.add(AuditEntry(staff=staff.name, action="close", case_id=case.id, detail=outcome.strip(), at=now))
        self._after_commit(session)
        return JSONResponse({"case": _case_json(case)})

    def _after_commit(self, session: AsyncSession) -> None:
        from sqlalchemy import event

        event.listen(session.sync_session, "after_commit", lambda _: self._delivery.wake(), once=True)

    async def _audit(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        session.add(AuditEntry(staff=staff.name, action="audit_view", at=utcnow()))
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1000))).all()
        return JSONResponse({"entries": [{"staff": r.staff, "action": r.action, "case_id": r.case_id,
                                          "detail": r.detail, "at": iso(r.at)} for r in rows]})

    # -- what the bot could not answer (admins) -----------------------------------------------

    @staticmethod
    def _unanswered_query(filters: Filters) -> Any:
        query = select(Unanswered)
        if filters.language is not None:
            query = query.where(Unanswered.language == filters.language)
        if filters.weeks is not None:
            query = query.where(Unanswered.week.in_(filters.weeks))
        if filters.kind is not None:
            query = query.where(Unanswered.kind == filters.kind)
        return query

    async def _unanswered(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        """The unanswered messages chosen (newest week first, by language), and how many there are
        per week and language (of every kind, language and week: the page's overview)."""
        filters = _filters(request)
        if isinstance(filters, Response):
            return filters
        rows = (await session.scalars(self._unanswered_query(filters).order_by(
            Unanswered.week.desc(), Unanswered.language, Unanswered.id).limit(MAX_LISTED + 1))).all()
        summary = (await session.execute(select(Unanswered.week, Unanswered.language, func.count(Unanswered.id))
                                         .group_by(Unanswered.week, Unanswered.language)
                                         .order_by(Unanswered.week.desc(), Unanswered.language))).all()
        session.add(AuditEntry(staff=staff.name, action="unanswered_view", at=utcnow(),
                               detail=_described(filters)))
        return JSONResponse({
            "unanswered": [{"id": r.id, "kind": r.kind, "language": r.language, "channel": r.channel,
                            "text": r.text, "week": r.week,
                            "guesses": [{"intent": i, "confidence": c} for i, c in guesses_from_json(r.guesses)]}
                           for r in rows[:MAX_LISTED]],
            "more": len(rows) > MAX_LISTED,
            "summary": [{"week": week, "language": language, "count": n} for week, language, n in summary],
        }, headers={"Cache-Control": "no-store"})

    async def _export(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        """The chosen unanswered messages as Rasa NLU training data, to review and add to nlu_data/."""
        filters = _filters(request)
        if isinstance(filters, Response):
            return filters
        rows = (await session.scalars(self._unanswered_query(filters).order_by(Unanswered.week, Unanswered.id))).all()
        session.add(AuditEntry(staff=staff.name, action="unanswered_export", at=utcnow(), detail=_described(filters)))
        heading = (f"Messages the KI Herne bot could not answer ({_described(filters)}), exported by {staff.name} "
                   f"on {week_of(utcnow())[1].isoformat()}, grouped by the intent the NLU thought likeliest.\n"
                   "Before adding them to nlu_data/<language>.yml: remove names and anything else that tells who "
                   "wrote, move each example to the intent it means, delete what is no question for the bot.")
        name = "unanswered-{}-{}.yml".format(filters.language or "all",
                                            filters.weeks[0] if filters.weeks and len(filters.weeks) == 1 else "all")
        return Response(nlu_export(rows, heading), media_type="application/yaml; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    async def _forget(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        row = await session.get(Unanswered, request.path_params["id"])
        if row is None:
            return _error(404, "no such unanswered message")
        await session.delete(row)
        session.add(AuditEntry(staff=staff.name, action="unanswered_delete", detail=str(row.id), at=utcnow()))
        return JSONResponse({"deleted": row.id})

    # -- statistics (every staff member: anonymous counts) -------------------------------------

    async def _figures(self, session: AsyncSession, filters: Filters) -> dict[str, Any]:
        """Questions per topic, language, channel and week, and handoffs per week, over the chosen weeks."""
        weeks = filters.weeks or []
        query = select(WeeklyCount.kind, WeeklyCount.week, WeeklyCount.topic, WeeklyCount.language,
                       WeeklyCount.channel, WeeklyCount.count).where(WeeklyCount.week.in_(weeks))
        if filters.language is not None:
            query = query.where(WeeklyCount.language == filters.language)
        totals: dict[str, dict[str, int]] = {name: defaultdict(int) for name in CHARTS}
        for kind, week, topic, language, channel, n in (await session.execute(query)).all():
            if kind == QUESTION:
                totals["topics"][topic or "–"] += n
                totals["languages"][language] += n
                totals["channels"][channel] += n
                totals["questions"][week] += n
            elif kind == HANDOFF_COUNT:
                totals["handoffs"][week] += n

        def ranked(figures: dict[str, int]) -> list[dict[str, Any]]:
            return [{"name": k, "count": v} for k, v in sorted(figures.items(), key=lambda kv: (-kv[1], kv[0]))]

        return {"weeks": weeks, "language": filters.language,
                "topics": ranked(totals["topics"]), "languages": ranked(totals["languages"]),
                "channels": ranked(totals["channels"]),
                "questions": [{"name": w, "count": totals["questions"].get(w, 0)} for w in weeks],
                "handoffs": [{"name": w, "count": totals["handoffs"].get(w, 0)} for w in weeks]}

    async def _statistics(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        filters = _filters(request, DEFAULT_WEEKS)
        if isinstance(filters, Response):
            return filters
        return JSONResponse(await self._figures(session, filters), headers={"Cache-Control": "no-store"})

    async def _chart(self, request: Request, session: AsyncSession, staff: Staff) -> Response:
        chart = request.path_params["chart"]
        if chart not in CHARTS:
            return _error(404, f"charts: {', '.join(CHARTS)}")
        filters = _filters(request, DEFAULT_WEEKS)
        if isinstance(filters, Response):
            return filters
        figures = [(f["name"], int(f["count"])) for f in (await self._figures(session, filters))[chart]]
        titles = {"topics": "Fragen nach Thema", "languages": "Fragen nach Sprache", "channels": "Fragen nach Kanal",
                  "questions": "Fragen pro Woche", "handoffs": "Übergaben an das Team pro Woche"}
        title = titles[chart] + (f" ({filters.language})" if filters.language else "")
        draw = weekly_columns if chart in ("questions", "handoffs") else horizontal_bars
        return Response(draw(title, figures), media_type="image/svg+xml", headers={
            "Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


def _described(filters: Filters) -> str:
    weeks = "all weeks" if not filters.weeks else filters.weeks[0] if len(filters.weeks) == 1 \
        else f"{filters.weeks[0]} to {filters.weeks[-1]}"
    return f"language {filters.language or 'all'}, {weeks}" + (f", {filters.kind}" if filters.kind else "")


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None

