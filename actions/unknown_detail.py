"""A follow-up the content cannot answer ("Can I park there?" after CaféO): say so honestly and
point to where the answer can be found, rather than answering something else."""

from actions.base import ActionResult, Turn, menu_button, person_button, topic_button
from bot.content import Topic
from bot.messages import Reply


def unknown_detail(turn: Turn, topic: Topic) -> ActionResult:
    """The topic's own button leads back to its contact details; the context stays on the topic."""
    title = topic.texts[turn.language.code].title
    text = turn._(
        "I don't know that about {topic}: my information does not say. The team there can tell you: "
        "their contact details are under the button below. Or talk to a person here."
    ).format(topic=title)
    buttons = (topic_button(turn, topic.id), person_button(turn), menu_button(turn))
    return ActionResult("unknown_detail", (Reply(text, buttons),))
