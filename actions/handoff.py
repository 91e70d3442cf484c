"""The user wants a person. Until the case-manager console exists, say how to reach one now
(the `handoff` content topic: CaféO, the KIM team, the KI, with phone numbers from the report)."""

from dataclasses import replace

from actions.answer_topic import answer_topic
from actions.base import ActionResult, Turn

HANDOFF_INTENT = "handoff"


def hand_off(turn: Turn) -> ActionResult:
    topic = turn.content.by_intent[HANDOFF_INTENT]
    return replace(answer_topic(turn, topic), topic=HANDOFF_INTENT, context_topic=None)
