"""The channel-independent dialogue: language, NLU, choosing the action, keeping state.

One incoming message goes: persist it -> decide the language -> understand it (button
payload or NLU) -> run one action -> persist state and replies -> return the Outcome.
"""

import datetime as dt
import json
from dataclasses import replace
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from actions.answer_topic import answer_topic
from actions.crisis import CRISIS, crisis
from actions.base import (
    GERMAN_PREFIX,
    HANDOFF,
    LANGUAGE_PREFIX,
    LANGUAGES,
    MENU,
    TOPIC_PREFIX,
    VALUE_PREFIX,
    ActionResult,
    Turn,
    language_buttons,
)
from actions.handoff import (
    CANCEL,
    CONSENT_NO,
    CONSENT_VERSION,
    CONSENT_YES,
    HANDOFF_INTENT,
    acknowledged,
    already_with_team,
    ask_consent,
    back_with_bot,
    consent_refused,
    handed_off,
    nothing_to_cancel,
    offer_person,
    withdrawn,
)
from actions.menu import goodbye, greet, show_menu, thanks
from actions.out_of_scope import clarify, could_not_answer, nlu_unavailable, out_of_scope
from actions.privacy import DELETE_ASK, DELETE_CONFIRM, PRIVACY, ask_to_delete, deleted, privacy, unsupported_message
from actions.unknown_detail import unknown_detail
from actions.switch_language import offer_languages, switch_language, unsupported_language
from bot.bidi import isolate_numbers
from bot.content import ContentStore, Topic
from bot.errors import NluUnavailable
from bot.i18n import Language
from bot.language_detection import LanguageChooser, LanguageGuesser
from bot.transliteration import cyrillic_reading
from bot.live_content import ContentSource, ContentVersion, FixedContent
from bot.handoff import TeamHours, acknowledge_due
from bot.messages import IncomingMessage, Location, OpenedCase, Outcome, Reply, reply_to_json
from bot.normalization import normalize
from bot.storage import CASES, MESSAGES, Case, Consent, Message, Storage, UserState, insert_at_commit, utcnow
from bot.understanding import CRISIS_INTENT, OUT_OF_SCOPE, UNKNOWN_DETAIL, Interpreter, Nlu, Remembered, Understanding
from bot.unanswered import (
    CLARIFICATION,
    HANDOFF as HANDOFF_COUNT,
    LOW_CONFIDENCE,
    QUESTION,
    count,
    guesses_from_json,
    guesses_to_json,
    record_unanswered,
)

# A "yes, delete" counts only this soon after the question, from the same user.
DELETE_CONFIRMATION_WINDOW = dt.timedelta(minutes=5)

# Typed commands, as on Telegram, map to the button that does the same.
START = "s"
COMMANDS = {"/start": START, "/menu": MENU, "/help": MENU, "/language": LANGUAGES, "/lang": LANGUAGES,
            "/human": HANDOFF, "/privacy": PRIVACY, "/delete": DELETE_ASK, "/cancel": CANCEL}
# Answers that did not understand the user; the second in a row offers a person.
MISUNDERSTOOD = ("out_of_scope", "clarify")
# A consent given this soon after the crisis reply makes the case urgent.
CRISIS_MAKES_URGENT = dt.timedelta(hours=1)
# Messages of one user are counted over this window for USER_MESSAGES_PER_MINUTE.
RATE_WINDOW = dt.timedelta(minutes=1)
SLOW_DOWN = "slow_down"  # the topic of the "please slow down" reply
TOO_FAST = "too_fast"  # the topic of a message kept but not answered


def _passes_by_the_team(payload: str) -> bool:
    """Buttons the bot still answers while a case is open: language, privacy and deletion."""
    return payload in (LANGUAGES, PRIVACY, DELETE_ASK, DELETE_CONFIRM) or payload.startswith(LANGUAGE_PREFIX)


# What a turn reads of its user before its transaction: context topic, when it was set, language.
StoredContext = tuple[str | None, dt.datetime | None, str | None]


class Ahead(Remembered):
    """What `understand_ahead` found for a turn: the NLU's answers, and the content version it
    read, which the rest of the turn reads too (an edit swapped in meanwhile waits for the next turn)."""

    def __init__(self, nlu: Nlu, content: ContentVersion) -> None:
        super().__init__(nlu)
        self.content = content
        self.understood: dict[tuple[str, str | None, str | None], Understanding] = {}  # by text, reading, context topic


class Dialogue:
    """Holds what every conversation shares; `handle` is the one entry point for channels.

    The content may change between turns (bot/live_content.py), never within one: a turn takes
    the version in use when it begins and hands it down to everything it calls."""

    def __init__(
        self,
        storage: Storage,
        nlu: Nlu,
        content: ContentStore | ContentSource,
        languages: dict[str, Language],
        guesser: LanguageGuesser,
        default_language: str,
        answer_threshold: float,
        clarify_threshold: float,
        context_minutes: int,
        team_hours: TeamHours = TeamHours(()),
        case_retention_days: int = 90,
        user_messages_per_minute: int = 20,
        crisis_nlu_threshold: float = 0.9,
    ) -> None:
        self._storage = storage
        self._nlu = nlu
        # A store given as such never changes; its team hours are `team_hours`.
        self._source = FixedContent(ContentVersion(content, team_hours)) if isinstance(content, ContentStore) else content
        self._thresholds = (answer_threshold, clarify_threshold)
        self._languages = languages
        self._guesser = guesser
        self._scripts = {code: language.script for code, language in languages.items()}
        # The language chooser of the content version in use (its word lists are built once per version).
        self._chooser: tuple[ContentStore, LanguageChooser] | None = None
        self._default = default_language
        self._context = dt.timedelta(minutes=context_minutes)
        self._case_retention_days = case_retention_days
        self._messages_per_minute = user_messages_per_minute
        self._crisis_nlu_threshold = crisis_nlu_threshold
        self.clock = utcnow  # what "now" is for working hours and schedules (tests set it)

    @property
    def content(self) -> ContentStore:
        """The content in use now."""
        return self._source.current.store

    def turn(self, language: str, content: ContentVersion) -> Turn:
        return Turn(self._languages[language], content.store, self._languages, self.clock())

    async def handle(self, message: IncomingMessage) -> Outcome:
        """Answer one message in a transaction of its own (the delivery core uses `respond` in its turn)."""
        async with self._storage.session() as session, session.begin():
            user = await self._storage.lock_user(session, message.channel, message.user_ref)
            return await self.respond(session, user, message)

    async def understand_ahead(self, message: IncomingMessage, context: StoredContext | None) -> Ahead:
        """Ask the NLU, before the turn's transaction, what `respond` will ask it, with the
        conversation's context as stored now (unlocked): the user's `context_topic`, `context_at`
        and language, None for a new user. Pass the result to `respond`: it answers the same
        questions from memory, and asks anew only what a state changed meanwhile (another message
        of the same user) makes it ask."""
        content = self._source.current
        nlu = Ahead(self._nlu, content)
        if message.text and not message.button and not message.unsupported and not message.text.startswith("/") \
                and content.store.crisis.detect(message.text) is None:
            topic_id, at, language = context if context is not None else (None, None, None)
            topic = self._fresh_context(content, topic_id, at, message.received_at)
            # Latin letters from a user who writes Russian, Ukrainian or Bulgarian: most likely their
            # language typed without its keyboard (the turn decides; a new user's first message is
            # read in Cyrillic there).
            reading = self._reading(content, message.text, language) if language is not None else None
            try:
                await self._interpret(nlu, content, message.text, topic, reading)
            except NluUnavailable:
                pass  # remembered: the turn answers with "cannot understand text right now"
        return nlu

    async def respond(self, session: AsyncSession, user: UserState, message: IncomingMessage,
                      nlu: Nlu | None = None, reply_to: str | None = None) -> Outcome:
        """Answer one message of `user`, whose row the caller holds locked in `session`'s
        transaction: the message, the new state and the replies are written there, and stand or
        fall together with the rest of the turn. `nlu`: from `understand_ahead`, else the NLU itself.
        `reply_to`: the channel's address for answers (a case keeps it for the team's replies).

        While the user's conversation is with the case-management team (an open case), the bot
        does not answer: the message is kept for the team, and the user hears at most a short
        acknowledgement every ten minutes; a crisis still gets the crisis reply at once."""
        content = nlu.content if isinstance(nlu, Ahead) else self._source.current
        # A shared location is not kept: only that one came.
        inbound = message.text or message.button or ("(location: received)" if message.location is not None
                                                     else f"({message.unsupported}: received, unsupported)")
        conversation = [_message_row(user.id, "in", inbound, user.language, message.received_at,
                                     topic="unsupported" if message.unsupported else None)]
        state = _State(user)

        intent, confidence = "", 0.0
        understood: Understanding | None = None  # what the NLU made of a written message
        before = await self._before(session, user.id)
        previous = before.last_answer
        command = COMMANDS.get(message.text.split()[0].split("@")[0].lower()) if message.text.startswith("/") else None
        payload = message.button or (self._command_payload(message.text, command) if command is not None else "")
        case = await session.get(Case, before.open_case_id) if before.open_case_id is not None else None
        opened: OpenedCase | None = None
        to_team = case is not None and not _passes_by_the_team(payload)
        if case is not None and to_team:
            result, language, intent = self._with_team(session, user, case, message, payload, state, content)
            confidence = 1.0 if intent == CRISIS else 0.0
        elif self._too_fast(before.recent_messages, message, content):
            # Kept in the conversation but not answered; the user hears why, once a minute.
            language = state.language or self._hinted(message.language_hint) or self._default
            result = await self._slow_down(session, user, self.turn(language, content))
            conversation[0]["topic"] = TOO_FAST
        elif message.unsupported:
            language = state.language or self._hinted(message.language_hint) or self._default
            result = unsupported_message(self.turn(language, content))
        elif message.location is not None:
            language = state.language or self._hinted(message.language_hint) or self._default
            result = self._on_location(message.location, self.turn(language, content))
        elif message.button == DELETE_CONFIRM and _asked_recently(user.delete_asked_at, message.received_at):
            language = state.language or self._hinted(message.language_hint) or self._default
            await self._storage.delete_user(session, user)
            result = deleted(self.turn(language, content))
            return Outcome(language=language, topic=result.topic, replies=result.replies)
        elif message.button == DELETE_CONFIRM:
            # A confirmation without a recent question (an old button, another session): ask again.
            language = state.language or self._hinted(message.language_hint) or self._default
            result = ask_to_delete(self.turn(language, content))
        elif payload == CONSENT_YES:
            language = state.language or self._hinted(message.language_hint) or self._default
            result, opened = await self._open_case(session, user, message, language, reply_to or message.user_ref,
                                                   content)
        elif payload == CONSENT_NO:
            language = state.language or self._hinted(message.language_hint) or self._default
            session.add(Consent(user_id=user.id, answer="no", version=CONSENT_VERSION, created_at=utcnow()))
            result = consent_refused(self.turn(language, content))
        elif payload == CANCEL:
            language = state.language or self._hinted(message.language_hint) or self._default
            result = nothing_to_cancel(self.turn(language, content))
        elif message.button or command is not None:
            result, language = self._on_button(payload, state, message.language_hint, content)
        else:
            result, language, intent, confidence, understood = await self._on_text(message, state, nlu or self._nlu,
                                                                                   content)
            if result.topic in MISUNDERSTOOD and previous is not None and previous.topic in MISUNDERSTOOD:
                result = replace(result, replies=result.replies + (offer_person(self.turn(language, content)),))

        if not to_team:  # a message for the case manager is no question to the bot
            await self._what_was_missing(session, message, previous, result, language, understood, conversation[0])
        if opened is not None:
            count(session, HANDOFF_COUNT, message.received_at, opened.topic or "", language, message.channel)

        if self._languages[language].rtl:
            result = replace(result, replies=tuple(replace(r, text=isolate_numbers(r.text)) for r in result.replies))

        self._apply(user, state, result, language)
        user.delete_asked_at = message.received_at if result.topic == "delete" else None
        self._storage.save_user(session, user)
        now = utcnow()
        for reply in result.replies:
            buttons = json.dumps([{"title": b.title, "payload": b.payload} for b in reply.buttons], ensure_ascii=False)
            place = json.dumps(reply_to_json(reply)["place"], ensure_ascii=False) if reply.place else None
            conversation.append(_message_row(user.id, "out", reply.text, language, now, intent=intent or None,
                                             confidence=confidence or None, topic=result.topic,
                                             buttons=buttons if reply.buttons else None, place=place))
        insert_at_commit(session, MESSAGES, *conversation)  # one statement, in order
        still_open = opened is not None or (case is not None and case.status != "closed")
        return Outcome(language=language, topic=result.topic, replies=result.replies, handoff=still_open,
                       intent=intent, confidence=confidence, opened_case=opened)

    # -- too many messages ---------------------------------------------------------------

    def _too_fast(self, recent_messages: int, message: IncomingMessage, content: ContentVersion) -> bool:
        """More than USER_MESSAGES_PER_MINUTE from this user in the last minute (`recent_messages`,
        counted in the database: the user's row is locked, so every process counts the same); a
        crisis never waits."""
        if message.text and content.store.crisis.detect(message.text) is not None:
            return False
        return recent_messages >= self._messages_per_minute

    async def _slow_down(self, session: AsyncSession, user: UserState, turn: Turn) -> ActionResult:
        """"Please slow down", unless it was said in the last minute; the dialogue state stays as it was."""
        said = await session.scalar(select(Message.id).where(
            Message.user_id == user.id, Message.direction == "out", Message.topic == SLOW_DOWN,
            Message.created_at >= utcnow() - RATE_WINDOW).limit(1))
        replies = () if said is not None else (Reply(turn._(
            "You are sending messages very quickly. Please wait a minute, then write again: "
            "I cannot answer the messages sent until then.")),)
        return ActionResult(SLOW_DOWN if replies else TOO_FAST, replies, awaiting_slot=user.awaiting_slot)

    # -- a person instead of the bot -----------------------------------------------------

    def _with_team(self, session: AsyncSession, user: UserState, case: Case, message: IncomingMessage, payload: str,
                   state: "_State", content: ContentVersion) -> tuple[ActionResult, str, str]:
        """A message while the conversation is with the team: (what the user hears, language, intent)."""
        language = state.language or self._hinted(message.language_hint) or self._default
        turn = self.turn(language, content)
        danger = content.store.crisis.detect(message.text) if message.text and not payload else None
        if danger is not None:
            case.urgent = True  # the team sees it first in the queue
            language = state.language or danger.language
            return crisis(self.turn(language, content)), language, CRISIS
        if payload == CANCEL:
            case.status, case.closed_at, case.outcome = "closed", utcnow(), "withdrawn by the user"
            session.add(Consent(user_id=user.id, answer="withdrawn", version=case.consent_version, created_at=utcnow()))
            return withdrawn(turn), language, ""
        if payload in (HANDOFF, CONSENT_YES):
            return already_with_team(turn), language, ""
        if acknowledge_due(case, message.received_at):
            case.acknowledged_at = message.received_at
            return acknowledged(turn), language, ""
        return ActionResult("handoff.waiting", (), handoff=True), language, ""

    async def _open_case(self, session: AsyncSession, user: UserState, message: IncomingMessage, language: str,
                         recipient: str, content: ContentVersion) -> tuple[ActionResult, OpenedCase]:
        """Consent given: store it and open the case (urgent after a crisis reply in the last hour)."""
        now = self.clock()
        crisis_lately = await session.scalar(select(Message.id).where(
            Message.user_id == user.id, Message.topic == CRISIS, Message.created_at >= now - CRISIS_MAKES_URGENT).limit(1))
        session.add(Consent(user_id=user.id, answer="yes", version=CONSENT_VERSION, created_at=now))
        case = Case(user_id=user.id, channel=message.channel, recipient=recipient, status="waiting",
                    urgent=crisis_lately is not None, language=language, topic=user.context_topic, district=user.district,
                    consent_version=CONSENT_VERSION, created_at=now, acknowledged_at=now)
        session.add(case)
        await session.flush()
        hours = content.team_hours
        at_work = hours.at_work(now) if hours.known else None
        result = handed_off(self.turn(language, content), None if at_work is not False else hours.next_working_day(now),
                            at_work)
        return result, OpenedCase(case.id, case.urgent, language, case.channel, case.topic)

    @staticmethod
    async def _before(session: AsyncSession, user_id: int) -> "_Before":
        """What the turn needs to know of the conversation so far, read in one statement."""
        row = (await session.execute(_BEFORE, {"user_id": user_id, "since": utcnow() - RATE_WINDOW})).one()
        last_id, topic, language, open_case_id, recent = tuple(row)
        answer = LastAnswer(last_id, user_id, topic, language) if last_id is not None else None
        return _Before(answer, open_case_id, recent or 0)

    # -- what the bot could not answer, and what was asked ---------------------------------

    async def _what_was_missing(self, session: AsyncSession, message: IncomingMessage, previous: "LastAnswer | None",
                                result: ActionResult, language: str, understood: Understanding | None,
                                inbound: dict[str, object]) -> None:
        """In the turn's transaction: keep what the bot could not answer (without the user's
        identity) and count the question into the week's anonymous figures."""
        if result.topic in (TOO_FAST, SLOW_DOWN):
            return  # not answered at all: neither a question nor a choice
        if previous is not None and previous.topic == "clarify":
            await self._clarification_answered(session, previous, result, message.channel)
        written = bool(message.text) and not message.button and not message.text.startswith("/")
        if written and understood is not None:
            kind = self._unanswered_kind(result, understood)
            if kind is not None:
                await record_unanswered(session, kind, language, message.channel, message.text,
                                        message.received_at, understood.guesses)
            if result.topic == "clarify":  # decided by the user's next message
                inbound["guesses"] = guesses_to_json(understood.guesses)
        if written or message.button.startswith(TOPIC_PREFIX):
            count(session, QUESTION, message.received_at, result.topic, language, message.channel)

    def _unanswered_kind(self, result: ActionResult, understood: Understanding) -> str | None:
        if result.topic == UNKNOWN_DETAIL:
            return UNKNOWN_DETAIL
        if result.topic != OUT_OF_SCOPE:
            return None
        sure = understood.other_service or understood.confidence >= self._thresholds[0]
        return OUT_OF_SCOPE if sure else LOW_CONFIDENCE

    @staticmethod
    async def _clarification_answered(session: AsyncSession, question: "LastAnswer", result: ActionResult,
                                      channel: str) -> None:
        """The bot asked "do you mean one of these?"; unless this turn answers one of the topics
        offered (the user pressed one, or named it), the clarified message is kept as unanswered."""
        clarified = (await session.execute(_CLARIFIED, {"user_id": question.user_id, "before": question.id})).first()
        if clarified is None or clarified.guesses is None:
            return  # already deleted by retention, or asked before guesses were kept
        offered = await session.scalars(_OFFERED, {"user_id": question.user_id, "after": clarified.id})
        topics = {b["payload"][len(TOPIC_PREFIX):] for buttons in offered for b in json.loads(buttons or "[]")
                  if b["payload"].startswith(TOPIC_PREFIX)}
        if result.topic not in topics:
            await record_unanswered(session, CLARIFICATION, question.language or clarified.language or "", channel,
                                    clarified.text, clarified.created_at, guesses_from_json(clarified.guesses))
        await session.execute(_DECIDED, {"message_id": clarified.id})

    def back_with_bot(self, language: str) -> ActionResult:
        """What the user hears when the case manager closes their case."""
        return back_with_bot(self.turn(language if language in self._languages else self._default,
                                       self._source.current))

    def apology(self, language: str | None, hint: str) -> ActionResult:
        """What a user hears when their message could not be answered at all (a fault of ours)."""
        code = language if language in self._languages else self._hinted(hint) or self._default
        return could_not_answer(self.turn(code, self._source.current))

    def _command_payload(self, text: str, payload: str) -> str:
        """`/language ar` chooses Arabic directly; other commands are their button."""
        argument = text.split()[1].lower() if len(text.split()) > 1 else ""
        if payload == LANGUAGES and argument in self._languages:
            return LANGUAGE_PREFIX + argument
        return payload

    # -- buttons -------------------------------------------------------------------------

    def _on_button(self, payload: str, state: "_State", hint: str, content: ContentVersion) -> tuple[ActionResult, str]:
        language = state.language or self._hinted(hint) or self._default
        if payload.startswith(LANGUAGE_PREFIX) and payload[len(LANGUAGE_PREFIX):] in self._languages:
            language = payload[len(LANGUAGE_PREFIX):]
            return switch_language(self.turn(language, content)), language
        turn = self.turn(language, content)
        if payload == START:
            return greet(turn, first_contact=True), language
        if payload == MENU:
            return show_menu(turn), language
        if payload == PRIVACY:
            return privacy(turn), language
        if payload == DELETE_ASK:
            return ask_to_delete(turn), language
        if payload == LANGUAGES:
            return offer_languages(turn), language
        if payload == HANDOFF:
            return ask_consent(turn, self._case_retention_days), language
        topics = content.store.topics
        if payload.startswith(TOPIC_PREFIX) and payload[len(TOPIC_PREFIX):] in topics:
            return answer_topic(turn, topics[payload[len(TOPIC_PREFIX):]]), language
        if payload.startswith(GERMAN_PREFIX) and payload[len(GERMAN_PREFIX):] in topics:
            return answer_topic(turn, topics[payload[len(GERMAN_PREFIX):]], ask_slot=False, in_german=True), language
        if payload.startswith(VALUE_PREFIX):
            topic_id, _, value = payload[len(VALUE_PREFIX):].partition(":")
            topic = topics.get(topic_id)
            if topic is not None:
                return answer_topic(turn, topic, slot_value=value or None, ask_slot=False), language
        # An unknown payload (an old button, a typo in a channel): show the menu, never drop it.
        return show_menu(turn), language

    def _on_location(self, where: Location, turn: Turn) -> ActionResult:
        """A shared location: the answer for the district its name or address names (as the
        user's app gave them, e.g. "44627 Herne-Sodingen"), else the district question.
        Coordinates alone decide nothing: the content has no district boundaries to test them
        against, and a guess near a border would send the user to the wrong team."""
        topic = next((t for t in turn.content.topics.values() if t.slot is not None and t.slot.entity == "district"),
                     None)
        if topic is None or topic.slot is None:
            return show_menu(turn)
        said = f" {normalize(f'{where.name} {where.address}')} "
        named = [value for value, title in topic.slot.values.items() if f" {normalize(title)} " in said]
        # "Wanne-Eickel" names two districts: ask.
        return answer_topic(turn, topic, slot_value=named[0] if len(named) == 1 else None)

    # -- free text -----------------------------------------------------------------------

    async def _interpret(self, nlu: Nlu, content: ContentVersion, text: str, context: Topic | None,
                         reading: str | None) -> Understanding:
        """What `text` (`reading`: in its language's script) means in `context`; asked again within
        the turn that `understand_ahead` prepared, the answer it found then (the same content, text,
        reading and context give the same one)."""
        if not isinstance(nlu, Ahead):
            return await Interpreter(nlu, content.store, *self._thresholds).interpret(text, context, reading)
        key = (text, reading, context.id if context is not None else None)
        understood = nlu.understood.get(key)
        if understood is None:
            understood = await Interpreter(nlu, content.store, *self._thresholds).interpret(text, context, reading)
            nlu.understood[key] = understood
        return understood

    def _chooser_for(self, store: ContentStore) -> LanguageChooser:
        if self._chooser is None or self._chooser[0] is not store:
            self._chooser = (store, LanguageChooser(self._guesser, store.words, self._scripts, self._default))
        return self._chooser[1]

    def _reading(self, content: ContentVersion, text: str, language: str) -> str | None:
        """`text` read in Cyrillic when `language` is written so and the text, in Latin letters,
        shows that language ("kogda otkryto cafeo"; not "wo ist cafeo" from a Russian speaker);
        German service words and the names of our services stay as typed."""
        store = content.store
        reading = cyrillic_reading(text, language,
                                   lambda word: word in store.words.loanwords.words or store.concepts.names(word))
        if reading is None or not self._chooser_for(store).transliterated(text, language):
            return None
        return reading

    async def _on_text(self, message: IncomingMessage, state: "_State", nlu: Nlu,
                       content: ContentVersion) -> tuple[ActionResult, str, str, float, Understanding | None]:
        first_contact = state.language is None
        danger = content.store.crisis.detect(message.text)  # before anything else can misread it
        chooser = self._chooser_for(content.store)
        decision = chooser.decide(message.text, state.language, state.pending_language,
                                  self._hinted(message.language_hint))
        if danger is not None:
            # The language the danger was written in, unless the user's own is plainly this one.
            language = danger.language if decision.unsupported or state.language is None else decision.language
            state.language, state.pending_language = language, None
            return crisis(self.turn(language, content)), language, CRISIS, 1.0, None
        if decision.unsupported:
            german = self.turn(self._default, content)
            english = self.turn("en", content) if "en" in self._languages else german
            return unsupported_language(german, english), decision.language, "", 0.0, None
        state.language, state.pending_language = decision.language, decision.pending
        language = decision.language
        turn = self.turn(language, content)
        context = self._fresh_context(content, state.context_topic, state.context_at, message.received_at)
        try:
            understood = await self._interpret(nlu, content, message.text, context,
                                               self._reading(content, message.text, language))
        except NluUnavailable:
            return nlu_unavailable(turn), language, "", 0.0, None
        result = self._choose_action(turn, understood, state, first_contact)
        if self._suspects_crisis(understood, message.text, content):
            # Danger in words the expressions do not have, as the NLU reads it: the numbers at
            # once all the same, and the answer to the question after them, if there is one.
            alarm = crisis(turn)
            answered = understood.kind in ("topic", UNKNOWN_DETAIL, "clarify")
            return replace(alarm, replies=alarm.replies + (result.replies if answered else ())), language, \
                CRISIS, understood.confidence, understood
        if first_contact and result.topic != "greet":
            offer = Reply(turn._("You can also choose another language:"), language_buttons(turn))
            result = replace(result, replies=result.replies + (offer,))
        return result, language, understood.intent, understood.confidence, understood

    def _suspects_crisis(self, understood: Understanding, text: str, content: ContentVersion) -> bool:
        """The NLU's best guess is the crisis intent, sure enough (CRISIS_NLU_THRESHOLD: README,
        "Crisis path"), and no curated look-alike explains the words ("my boss will kill me")."""
        best = understood.guesses[0] if understood.guesses else None
        return best is not None and best[0] == CRISIS_INTENT and best[1] >= self._crisis_nlu_threshold \
            and not content.store.crisis.looks_alike(text)

    def _fresh_context(self, content: ContentVersion, topic: str | None, at: dt.datetime | None,
                       now: dt.datetime) -> Topic | None:
        """The previous turn's topic (`topic`, set `at`), unless it is older than the context window."""
        if topic is None or at is None:
            return None
        context_at = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
        if now - context_at > self._context:
            return None
        return content.store.topics.get(topic)

    def _hinted(self, hint: str) -> str | None:
        """A channel's guess (browser or Telegram language), if it is one we speak."""
        code = hint.split("-")[0].split("_")[0].lower()
        return code if code in self._languages else None

    def _choose_action(self, turn: Turn, understood: Understanding, state: "_State", first_contact: bool) -> ActionResult:
        topics, by_intent = turn.content.topics, turn.content.by_intent
        awaiting = topics.get(state.awaiting_slot or "")
        # "A cheap flat in Wanne?" names a district but asks about another service: no answer to "which district?".
        if awaiting is not None and awaiting.slot is not None and not understood.other_service:
            value = understood.entities.get(awaiting.slot.entity)
            if value in awaiting.slot.values:
                return answer_topic(turn, awaiting, slot_value=value)
        if understood.kind == "topic":
            if understood.intent == HANDOFF_INTENT:
                return ask_consent(turn, self._case_retention_days)
            topic = _narrowed(by_intent[understood.intent], understood.entities, topics)
            value = understood.entities.get(topic.slot.entity) if topic.slot is not None else None
            if value is None and topic.slot is not None and topic.slot.entity == "district":
                value = state.district  # told before ("I live in Wanne"): not asked again
            return answer_topic(turn, topic, slot_value=value)
        if understood.kind == UNKNOWN_DETAIL:
            return unknown_detail(turn, by_intent[understood.intent])
        if understood.kind == "clarify":
            return clarify(turn, [by_intent[i].id for i in understood.candidates])
        if understood.kind == "intent":
            small_talk = {"greet": lambda: greet(turn, first_contact), "thanks": lambda: thanks(turn),
                          "goodbye": lambda: goodbye(turn), "help": lambda: show_menu(turn),
                          "language": lambda: offer_languages(turn)}
            if understood.intent in small_talk:
                return small_talk[understood.intent]()
        return out_of_scope(turn)

    def _apply(self, user: UserState, state: "_State", result: ActionResult, language: str) -> None:
        # A button pressed before the user wrote or chose anything does not fix their language.
        user.language = result.set_language or state.language
        user.pending_language = None if result.set_language else state.pending_language
        if result.context_topic is not None:
            user.context_topic, user.context_at = result.context_topic, utcnow()
        user.awaiting_slot = result.awaiting_slot
        if result.district is not None:
            user.district = result.district


def _message_row(user_id: int, direction: str, text: str, language: str | None, at: dt.datetime,
                 intent: str | None = None, confidence: float | None = None, topic: str | None = None,
                 buttons: str | None = None, place: str | None = None) -> dict[str, object]:
    return {"user_id": user_id, "direction": direction, "text": text, "language": language, "created_at": at,
            "intent": intent, "confidence": confidence, "topic": topic, "buttons": buttons, "place": place,
            "guesses": None}


def _narrowed(topic: Topic, entities: dict[str, str], topics: Mapping[str, Topic]) -> Topic:
    """"kto otvechaet za eikel v kim": a question about a topic that names a value of a follow-up's
    slot (a district) and has all of the topic's evidence is asked of that follow-up (the KIM team
    of Eickel, not what KIM is)."""
    if topic.slot is None:
        for name in topic.follow_ups:
            other = topics.get(name)
            if other is not None and other.slot is not None and entities.get(other.slot.entity) in other.slot.values \
                    and set(topic.evidence) <= set(other.evidence):
                return other
    return topic


def _asked_recently(asked_at: dt.datetime | None, now: dt.datetime) -> bool:
    if asked_at is None:
        return False
    asked_at = asked_at if asked_at.tzinfo else asked_at.replace(tzinfo=dt.timezone.utc)
    return dt.timedelta(0) <= now - asked_at <= DELETE_CONFIRMATION_WINDOW


def _before_statement() -> Select[Any]:
    """The bot's last answer to the user (its id, topic and language), the user's open case and
    the user's messages since `since`; built once (building costs more CPU than running it)."""
    messages, cases, user_id = MESSAGES.c, CASES.c, bindparam("user_id", type_=Integer)
    last = (select(messages.id).where(messages.user_id == user_id, messages.direction == "out")
            .order_by(messages.id.desc()).limit(1).correlate(None).scalar_subquery())
    return select(
        last,
        select(messages.topic).where(messages.id == last).scalar_subquery(),
        select(messages.language).where(messages.id == last).scalar_subquery(),
        select(cases.id).where(cases.user_id == user_id, cases.status != "closed").limit(1).scalar_subquery(),
        select(func.count(messages.id)).where(messages.user_id == user_id, messages.direction == "in",
                                              messages.created_at >= bindparam("since")).scalar_subquery(),
    )


_BEFORE = _before_statement()
# After "do you mean one of these?": the message it clarified, the buttons offered since, and
# the clarified message decided (its guesses no longer kept).
_CLARIFIED = (select(MESSAGES.c.id, MESSAGES.c.language, MESSAGES.c.text, MESSAGES.c.created_at, MESSAGES.c.guesses)
              .where(MESSAGES.c.user_id == bindparam("user_id"), MESSAGES.c.direction == "in",
                     MESSAGES.c.id < bindparam("before")).order_by(MESSAGES.c.id.desc()).limit(1))
_OFFERED = select(MESSAGES.c.buttons).where(MESSAGES.c.user_id == bindparam("user_id"), MESSAGES.c.direction == "out",
                                            MESSAGES.c.id > bindparam("after"))
_DECIDED = update(MESSAGES).where(MESSAGES.c.id == bindparam("message_id")).values(guesses=None)


class LastAnswer(NamedTuple):
    """The bot's last message to the user (was it a misunderstanding, or a clarification question?)."""

    id: int
    user_id: int
    topic: str | None
    language: str | None


class _Before(NamedTuple):
    """What a turn reads of the conversation before it answers."""

    last_answer: LastAnswer | None
    open_case_id: int | None  # the user's open handoff case
    recent_messages: int  # the user's messages in the last RATE_WINDOW (USER_MESSAGES_PER_MINUTE)


class _State:
    """The user's dialogue state as it was when the turn began (the actions decide from it)."""

    def __init__(self, user: UserState) -> None:
        self.user_id = user.id
        self.language = user.language
        self.pending_language = user.pending_language
        self.awaiting_slot = user.awaiting_slot
        self.district = user.district
        self.context_topic = user.context_topic
        self.context_at = user.context_at
