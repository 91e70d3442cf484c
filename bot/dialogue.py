"""The channel-independent dialogue: language, NLU, choosing the action, keeping state.

One incoming message goes: persist it -> decide the language -> understand it (button
payload or NLU) -> run one action -> persist state and replies -> return the Outcome.
"""

import datetime as dt
import json
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from actions.answer_topic import answer_topic
from actions.crisis import CRISIS, crisis
from actions.base import (
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
from actions.handoff import HANDOFF_INTENT, hand_off
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
from bot.messages import IncomingMessage, Location, Outcome, Reply
from bot.normalization import normalize
from bot.storage import Message, Storage, User, utcnow
from bot.understanding import UNKNOWN_DETAIL, Interpreter, Nlu, Understanding

# A "yes, delete" counts only this soon after the question, from the same user.
DELETE_CONFIRMATION_WINDOW = dt.timedelta(minutes=5)

# Typed commands, as on Telegram, map to the button that does the same.
START = "s"
COMMANDS = {"/start": START, "/menu": MENU, "/help": MENU, "/language": LANGUAGES, "/lang": LANGUAGES,
            "/human": HANDOFF, "/privacy": PRIVACY, "/delete": DELETE_ASK}


class Dialogue:
    """Holds what every conversation shares; `handle` is the one entry point for channels."""

    def __init__(
        self,
        storage: Storage,
        nlu: Nlu,
        content: ContentStore,
        languages: dict[str, Language],
        guesser: LanguageGuesser,
        default_language: str,
        answer_threshold: float,
        clarify_threshold: float,
        context_minutes: int,
    ) -> None:
        self._storage = storage
        self._nlu = nlu
        self._content = content
        self._interpreter = Interpreter(nlu, content, answer_threshold, clarify_threshold)
        self._languages = languages
        scripts = {code: language.script for code, language in languages.items()}
        self._chooser = LanguageChooser(guesser, content.words, scripts, default_language)
        self._default = default_language
        self._context = dt.timedelta(minutes=context_minutes)

    @property
    def content(self) -> ContentStore:
        return self._content

    def turn(self, language: str) -> Turn:
        return Turn(self._languages[language], self._content, self._languages)

    async def handle(self, message: IncomingMessage) -> Outcome:
        """Answer one message in a transaction of its own (the delivery core uses `respond` in its turn)."""
        async with self._storage.session() as session, session.begin():
            user = await self._storage.lock_user(session, message.channel, message.user_ref)
            return await self.respond(session, user, message)

    async def respond(self, session: AsyncSession, user: User, message: IncomingMessage) -> Outcome:
        """Answer one message of `user`, whose row the caller holds locked in `session`'s
        transaction: the message, the new state and the replies are written there, and stand or
        fall together with the rest of the turn."""
        # A shared location is not kept: only that one came.
        inbound = message.text or message.button or ("(location: received)" if message.location is not None
                                                     else f"({message.unsupported}: received, unsupported)")
        session.add(Message(user_id=user.id, direction="in", text=inbound, language=user.language,
                            topic="unsupported" if message.unsupported else None, created_at=message.received_at))
        state = _State(user)

        intent, confidence = "", 0.0
        command = COMMANDS.get(message.text.split()[0].split("@")[0].lower()) if message.text.startswith("/") else None
        if message.unsupported:
            language = state.language or self._hinted(message.language_hint) or self._default
            result = unsupported_message(self.turn(language))
        elif message.location is not None:
            language = state.language or self._hinted(message.language_hint) or self._default
            result = self._on_location(message.location, self.turn(language))
        elif message.button == DELETE_CONFIRM and _asked_recently(user.delete_asked_at, message.received_at):
            language = state.language or self._hinted(message.language_hint) or self._default
            await self._storage.delete_user(session, user.id)
            result = deleted(self.turn(language))
            return Outcome(language=language, topic=result.topic, replies=result.replies)
        elif message.button == DELETE_CONFIRM:
            # A confirmation without a recent question (an old button, another session): ask again.
            language = state.language or self._hinted(message.language_hint) or self._default
            result = ask_to_delete(self.turn(language))
        elif message.button or command is not None:
            payload = message.button or self._command_payload(message.text, command or "")
            result, language = self._on_button(payload, state, message.language_hint)
        else:
            result, language, intent, confidence = await self._on_text(message, state)

        if self._languages[language].rtl:
            result = replace(result, replies=tuple(replace(r, text=isolate_numbers(r.text)) for r in result.replies))

        self._apply(user, state, result, language)
        user.delete_asked_at = message.received_at if result.topic == "delete" else None
        for reply in result.replies:
            buttons = json.dumps([{"title": b.title, "payload": b.payload} for b in reply.buttons], ensure_ascii=False)
            session.add(Message(user_id=user.id, direction="out", text=reply.text, language=language,
                                intent=intent or None, confidence=confidence or None, topic=result.topic,
                                buttons=buttons if reply.buttons else None))
        return Outcome(language=language, topic=result.topic, replies=result.replies, handoff=result.handoff,
                       intent=intent, confidence=confidence)

    def apology(self, language: str | None, hint: str) -> ActionResult:
        """What a user hears when their message could not be answered at all (a fault of ours)."""
        code = language if language in self._languages else self._hinted(hint) or self._default
        return could_not_answer(self.turn(code))

    def _command_payload(self, text: str, payload: str) -> str:
        """`/language ar` chooses Arabic directly; other commands are their button."""
        argument = text.split()[1].lower() if len(text.split()) > 1 else ""
        if payload == LANGUAGES and argument in self._languages:
            return LANGUAGE_PREFIX + argument
        return payload

    # -- buttons -------------------------------------------------------------------------

    def _on_button(self, payload: str, state: "_State", hint: str) -> tuple[ActionResult, str]:
        language = state.language or self._hinted(hint) or self._default
        if payload.startswith(LANGUAGE_PREFIX) and payload[len(LANGUAGE_PREFIX):] in self._languages:
            language = payload[len(LANGUAGE_PREFIX):]
            return switch_language(self.turn(language)), language
        turn = self.turn(language)
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
            return hand_off(turn), language
        if payload.startswith(TOPIC_PREFIX) and payload[len(TOPIC_PREFIX):] in self._content.topics:
            return answer_topic(turn, self._content.topics[payload[len(TOPIC_PREFIX):]]), language
        if payload.startswith(VALUE_PREFIX):
            topic_id, _, value = payload[len(VALUE_PREFIX):].partition(":")
            topic = self._content.topics.get(topic_id)
            if topic is not None:
                return answer_topic(turn, topic, slot_value=value or None, ask_slot=False), language
        # An unknown payload (an old button, a typo in a channel): show the menu, never drop it.
        return show_menu(turn), language

    def _on_location(self, where: Location, turn: Turn) -> ActionResult:
        """A shared location: the answer for the district its name or address names (as the
        user's app gave them, e.g. "44627 Herne-Sodingen"), else the district question.
        Coordinates alone decide nothing: the content has no district boundaries to test them
        against, and a guess near a border would send the user to the wrong team."""
        topic = next((t for t in self._content.topics.values() if t.slot is not None and t.slot.entity == "district"),
                     None)
        if topic is None or topic.slot is None:
            return show_menu(turn)
        said = f" {normalize(f'{where.name} {where.address}')} "
        named = [value for value, title in topic.slot.values.items() if f" {normalize(title)} " in said]
        # "Wanne-Eickel" names two districts: ask.
        return answer_topic(turn, topic, slot_value=named[0] if len(named) == 1 else None)

    # -- free text -----------------------------------------------------------------------

    async def _on_text(self, message: IncomingMessage, state: "_State") -> tuple[ActionResult, str, str, float]:
        first_contact = state.language is None
        danger = self._content.crisis.detect(message.text)  # before anything else can misread it
        decision = self._chooser.decide(message.text, state.language, state.pending_language,
                                        self._hinted(message.language_hint))
        if danger is not None:
            # The language the danger was written in, unless the user's own is plainly this one.
            language = danger.language if decision.unsupported or state.language is None else decision.language
            state.language, state.pending_language = language, None
            return crisis(self.turn(language)), language, CRISIS, 1.0
        if decision.unsupported:
            german = self.turn(self._default)
            english = self.turn("en") if "en" in self._languages else german
            return unsupported_language(german, english), decision.language, "", 0.0
        state.language, state.pending_language = decision.language, decision.pending
        language = decision.language
        turn = self.turn(language)
        context = self._fresh_context(state, message.received_at)
        try:
            understood = await self._interpreter.interpret(message.text, context)
        except NluUnavailable:
            return nlu_unavailable(turn), language, "", 0.0
        result = self._choose_action(turn, understood, state, first_contact)
        if first_contact and result.topic != "greet":
            offer = Reply(turn._("You can also choose another language:"), language_buttons(turn))
            result = replace(result, replies=result.replies + (offer,))
        return result, language, understood.intent, understood.confidence

    def _fresh_context(self, state: "_State", now: dt.datetime) -> Topic | None:
        """The previous turn's topic, unless it is older than the context window."""
        if state.context_topic is None or state.context_at is None:
            return None
        context_at = state.context_at if state.context_at.tzinfo else state.context_at.replace(tzinfo=dt.timezone.utc)
        if now - context_at > self._context:
            return None
        return self._content.topics.get(state.context_topic)

    def _hinted(self, hint: str) -> str | None:
        """A channel's guess (browser or Telegram language), if it is one we speak."""
        code = hint.split("-")[0].split("_")[0].lower()
        return code if code in self._languages else None

    def _choose_action(self, turn: Turn, understood: Understanding, state: "_State", first_contact: bool) -> ActionResult:
        awaiting = self._content.topics.get(state.awaiting_slot or "")
        if awaiting is not None and awaiting.slot is not None:
            value = understood.entities.get(awaiting.slot.entity)
            if value in awaiting.slot.values:
                return answer_topic(turn, awaiting, slot_value=value)
        if understood.kind == "topic":
            if understood.intent == HANDOFF_INTENT:
                return hand_off(turn)
            topic = self._content.by_intent[understood.intent]
            value = understood.entities.get(topic.slot.entity) if topic.slot is not None else None
            return answer_topic(turn, topic, slot_value=value)
        if understood.kind == UNKNOWN_DETAIL:
            return unknown_detail(turn, self._content.by_intent[understood.intent])
        if understood.kind == "clarify":
            return clarify(turn, [self._content.by_intent[i].id for i in understood.candidates])
        if understood.kind == "intent":
            small_talk = {"greet": lambda: greet(turn, first_contact), "thanks": lambda: thanks(turn),
                          "goodbye": lambda: goodbye(turn), "help": lambda: show_menu(turn),
                          "language": lambda: offer_languages(turn)}
            if understood.intent in small_talk:
                return small_talk[understood.intent]()
        return out_of_scope(turn)

    def _apply(self, user: User, state: "_State", result: ActionResult, language: str) -> None:
        # A button pressed before the user wrote or chose anything does not fix their language.
        user.language = result.set_language or state.language
        user.pending_language = None if result.set_language else state.pending_language
        if result.context_topic is not None:
            user.context_topic, user.context_at = result.context_topic, utcnow()
        user.awaiting_slot = result.awaiting_slot


def _asked_recently(asked_at: dt.datetime | None, now: dt.datetime) -> bool:
    if asked_at is None:
        return False
    asked_at = asked_at if asked_at.tzinfo else asked_at.replace(tzinfo=dt.timezone.utc)
    return dt.timedelta(0) <= now - asked_at <= DELETE_CONFIRMATION_WINDOW


class _State:
    """The user's dialogue state as it was when the turn began (the actions decide from it)."""

    def __init__(self, user: User) -> None:
        self.user_id = user.id
        self.language = user.language
        self.pending_language = user.pending_language
        self.awaiting_slot = user.awaiting_slot
        self.context_topic = user.context_topic
        self.context_at = user.context_at
