"""From a message to what the user means: classification, then the evidence guard, then context.

1. Rasa classifies the message.
2. A greeting or thanks that comes with a question: the question wins (re-asked without them).
3. A topic is accepted only with evidence: a concept of the topic in the message. A message
   about another office is never answered with ours.
4. A message that is no topic on its own, in a fresh conversation, is answered from the
   conversation only when it names a related topic itself, by its evidence or by an aspect the
   topic covers ("and when is it open?" -> the hours; see `_follow_up`). A message shaped like a
   follow-up ("and...?", "...there?": content/words.yml) or that asks about an aspect of a service
   no related topic covers ("is there parking nearby?") is an honest "I don't know that about
   <topic>" (UNKNOWN_DETAIL); any other message is read as if the conversation were new ("what's
   the weather tomorrow?" after KIM is out of scope).
5. A topic whose answer does not cover the aspect asked ("how long does the test take?") is
   not answered with that topic but with "I don't know that about <topic>".
6. Below the answer threshold: the likeliest topics to choose from, or out of scope.
"""

from dataclasses import dataclass, field, replace
from typing import Protocol

from bot.content import OTHER_SERVICES, SMALL_TALK, ContentStore, Topic
from bot.errors import NluUnavailable
from bot.nlu import NluResult

OUT_OF_SCOPE = "out_of_scope"
UNKNOWN_DETAIL = "unknown_detail"  # a follow-up asking what the content does not say
HANDOFF = "handoff"
PERSON = "person"  # the concept of a person to talk to (content/concepts.yml)
CONTACT_DETAILS = "contact_details"  # "can someone call me?" asks for a person too
SMALL_TALK_INTENTS = ("greet", "thanks", "goodbye")
# Intents the dialogue answers itself, without a topic file (see Dialogue._choose_action).
# The NLU's second signal of danger (nlu_data/crisis.yml), beside the curated expressions.
CRISIS_INTENT = "crisis"
DIALOGUE_INTENTS = (*SMALL_TALK_INTENTS, "help", "language", OUT_OF_SCOPE, CRISIS_INTENT)
GUESSES = 5  # how many of the NLU's guesses an Understanding keeps


class Nlu(Protocol):
    async def parse(self, text: str) -> NluResult: ...


class Remembered:
    """An NLU that remembers its answers. A turn asks its questions once before its transaction
    and again inside it, where they are answered from memory: the user's row (and on SQLite the
    database) is not held while the NLU server thinks. A question not asked before goes to the NLU."""

    def __init__(self, nlu: Nlu) -> None:
        self._nlu = nlu
        self._answers: dict[str, NluResult | NluUnavailable] = {}

    async def parse(self, text: str) -> NluResult:
        answer = self._answers.get(text)
        if answer is None:
            try:
                answer = await self._nlu.parse(text)
            except NluUnavailable as error:
                answer = error  # the NLU is down: inside the turn, say so at once, without a second wait
            self._answers[text] = answer
        if isinstance(answer, NluUnavailable):
            raise NluUnavailable(str(answer))
        return answer


@dataclass(frozen=True)
class Understanding:
    """`kind`: "topic" (answer `intent`'s topic), "intent" (a dialogue intent such as greet),
    "clarify" (ask between `candidates`), "unknown_detail" (a follow-up on the current topic that
    its content does not answer), or "out_of_scope"."""

    kind: str
    intent: str
    confidence: float
    entities: dict[str, str] = field(default_factory=dict)
    candidates: tuple[str, ...] = ()
    via_context: bool = False
    other_service: bool = False  # about an office or place we do not cover: no entity of it is ours
    # The NLU's best guesses for the message, best first: (intent, confidence); kept with what the
    # bot could not answer, so that staff see what it thought.
    guesses: tuple[tuple[str, float], ...] = ()


class Interpreter:
    """Turns text into an Understanding; holds the NLU client, the content and the thresholds."""

    def __init__(self, nlu: Nlu, content: ContentStore, answer_threshold: float, clarify_threshold: float) -> None:
        self._nlu = nlu
        self._content = content
        self._answer = answer_threshold
        self._clarify = clarify_threshold

    async def interpret(self, text: str, context: Topic | None = None, reading: str | None = None) -> Understanding:
        """`context`: the topic of the previous turn, if the conversation is still fresh.
        `reading`: the text in the script its language is mostly written in, when it was typed in
        Latin letters ("kogda otkryto cafeo" -> "когда открыто cafeo"); the NLU is asked both, and
        the surer reading is taken; a danger only when both readings see one (the crisis
        expressions read the Cyrillic themselves, and Latin-letter texts are where the NLU's crisis
        guess errs most)."""
        mentioned = self._content.concepts.mentioned(text)
        result = await self._nlu.parse(text)
        if reading is not None and reading != text:
            mentioned |= self._content.concepts.mentioned(reading)
            read = await self._nlu.parse(reading)
            if read.confidence > result.confidence or result.intent == CRISIS_INTENT != read.intent:
                text, result = reading, replace(read, entities={**read.entities, **result.entities})

        if result.intent in SMALL_TALK_INTENTS and mentioned - set(SMALL_TALK):
            question = self._content.concepts.strip(text, set(SMALL_TALK))
            if question:
                asked = await self._nlu.parse(question)
                if asked.intent in self._content.by_intent and asked.confidence >= self._answer:
                    result = asked
        understood = await self._decide(text, context, mentioned, result)
        return replace(understood, guesses=tuple((s.name, s.confidence) for s in result.ranking[:GUESSES]))

    async def _decide(self, text: str, context: Topic | None, mentioned: set[str], result: NluResult) -> Understanding:
        """Steps 3 to 6 of the module's docstring, on the classification `result`."""
        topic = self._content.by_intent.get(result.intent)
        if topic is not None and result.confidence >= self._answer \
                and self._has_evidence(topic, mentioned, result.entities) and not self._about_a_place(result, mentioned):
            return self._covered(Understanding("topic", result.intent, result.confidence, result.entities), mentioned)

        if context is not None and OTHER_SERVICES not in mentioned:
            follow_up = await self._follow_up(text, context, mentioned, result)
            if follow_up is not None:
                return self._covered(follow_up, mentioned)
            if self._content.words.is_follow_up(text) or mentioned & self._content.concepts.aspects:
                # "Can I park there?", "Is there parking nearby?" after CaféO: about the topic (an
                # aspect of a service, right after one), but nothing the content knows.
                return Understanding(UNKNOWN_DETAIL, context.intents[0], result.confidence, result.entities)

        if topic is None and result.confidence >= self._answer and result.intent != OUT_OF_SCOPE:
            if OTHER_SERVICES in mentioned and result.intent not in SMALL_TALK_INTENTS + (HANDOFF,):
                return Understanding(OUT_OF_SCOPE, result.intent, result.confidence, result.entities, other_service=True)
            if result.intent in SMALL_TALK_INTENTS and mentioned & self._content.concepts.aspects:
                # "Is there parking near the building?" is no goodbye, whatever the classifier says.
                return Understanding(OUT_OF_SCOPE, result.intent, result.confidence, result.entities)
            return Understanding("intent", result.intent, result.confidence, result.entities)
        if OTHER_SERVICES in mentioned or result.intent == OUT_OF_SCOPE and result.confidence >= self._answer:
            return Understanding(OUT_OF_SCOPE, result.intent, result.confidence, result.entities,
                                 other_service=OTHER_SERVICES in mentioned)
        candidates = tuple(
            score.name for score in result.ranking
            if score.confidence >= self._clarify and (t := self._content.by_intent.get(score.name)) is not None
            and t.menu is not None
        )[:3]
        if candidates:
            return Understanding("clarify", result.intent, result.confidence, result.entities, candidates)
        return Understanding(OUT_OF_SCOPE, result.intent, result.confidence, result.entities)

    async def _follow_up(self, text: str, context: Topic, mentioned: set[str], first: NluResult) -> Understanding | None:
        """Read the message as a follow-up to `context`. Only a topic the message itself names is
        answered: a related topic by its own evidence ("and the test?" after courses), else a
        topic of the conversation's subject by a question it answers (`asks`: "and where is it?"
        after the women's hour -> CaféO). The message is re-asked with the subject in front
        ("cafeo" + "and where is it?") to rank them."""
        subject = self._subject(context)
        second = await self._nlu.parse(f"{subject} {text}") if subject else first
        entities = {**second.entities, **first.entities}
        scores: dict[str, float] = {}
        for score in first.ranking + second.ranking:
            scores[score.name] = max(scores.get(score.name, 0.0), score.confidence)

        def score_of(topic: Topic) -> float:
            return max((scores.get(i, 0.0) for i in topic.intents), default=0.0)

        own = mentioned - set(SMALL_TALK)
        candidates = [t for t in self._content.topics.values() if HANDOFF not in t.intents and self._related(context, t)]
        by_evidence = [t for t in candidates if self._has_evidence(t, own, entities, own_only=True)]
        if by_evidence:
            # Naming another topic while not naming the current one means the user moved on
            # ("after the test, where is a course?"): such a topic goes first.
            moved_on = context not in by_evidence
            best = max(by_evidence, key=lambda t: (moved_on and t.id != context.id, score_of(t)))
            return Understanding("topic", best.intents[0], score_of(best), entities, via_context=True)
        asked = own & self._content.concepts.aspects
        if not asked:
            return None
        if asked & set(context.asks):
            return Understanding("topic", context.intents[0], score_of(context), entities, via_context=True)
        same_subject = [t for t in candidates if set(t.evidence) & set(context.evidence) and asked & set(t.asks)]
        if not same_subject:
            return None
        best = max(same_subject, key=score_of)
        return Understanding("topic", best.intents[0], score_of(best), entities, via_context=True)

    def _about_a_place(self, result: NluResult, mentioned: set[str]) -> bool:
        """"Is there a lift for wheelchairs in the building?" is no request for a person, whatever
        the classifier says: it asks about an aspect of a place (not how to reach someone) and
        names no person."""
        asked = mentioned & self._content.concepts.aspects - {CONTACT_DETAILS}
        return result.intent == HANDOFF and bool(asked) and PERSON not in mentioned

    def _covered(self, understood: Understanding, mentioned: set[str]) -> Understanding:
        """A topic answer, unless the question asks about an aspect its answer does not cover
        ("How long does the test take?", "Is the coffee free there?"): then an honest
        "I don't know that about <topic>"."""
        asked = mentioned & self._content.concepts.aspects
        topic = self._content.by_intent[understood.intent]
        if understood.intent != HANDOFF and asked - set(topic.asks):
            return Understanding(UNKNOWN_DETAIL, understood.intent, understood.confidence, understood.entities,
                                 via_context=understood.via_context)
        return understood

    def _named(self, topic: Topic, mentioned: set[str], entities: dict[str, str]) -> bool:
        """The message names the topic itself (its evidence) or a question it answers (`asks`)."""
        own = mentioned - set(SMALL_TALK)
        return self._has_evidence(topic, own, entities, own_only=True) or any(concept in own for concept in topic.asks)

    def _subject(self, context: Topic) -> str:
        """The conversation's subject as a word: the first term of the context topic's evidence
        concept shared with the most other topics (cafeo for every CaféO topic, kim for KIM)."""
        concepts = [e for e in context.evidence if e in self._content.concepts.terms]
        if not concepts:
            return ""
        shared = max(concepts, key=lambda c: sum(c in t.evidence for t in self._content.topics.values()))
        return self._content.concepts.terms[shared][0]

    @staticmethod
    def _has_evidence(topic: Topic, mentioned: set[str], entities: dict[str, str], own_only: bool = False) -> bool:
        """Does the message mention the topic? A topic without declared evidence always passes,
        unless `own_only` asks for evidence the message itself carries."""
        if not topic.evidence:
            return not own_only
        return any(e in mentioned or (e.startswith("entity:") and e[len("entity:"):] in entities)
                   for e in topic.evidence)

    @staticmethod
    def _related(context: Topic, topic: Topic) -> bool:
        """Same topic, linked by follow-up buttons, or sharing an evidence concept."""
        return (
            topic.id == context.id
            or topic.id in context.follow_ups
            or context.id in topic.follow_ups
            or bool(set(topic.evidence) & set(context.evidence))
        )
