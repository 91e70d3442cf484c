"""What every channel is to the rest of the application: routes in, start and stop, and `send`.

A channel authenticates and parses what its platform delivers, hands each message to the inbox
(`bot.delivery.Inbox.receive`) before it acknowledges the platform, and renders and sends the
channel-neutral replies the outbox gives it. It knows nothing of the dialogue or the actions.
"""

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.routing import BaseRoute

from bot.messages import IncomingMessage, Location, Reply



@dataclass(frozen=True)
class Received:
    """One message as a channel parsed it, with what the inbox needs to store it once."""

    external_id: str  # the platform's own id of this message, unique within the channel
    message: IncomingMessage
    reply_to: str  # the channel's address for the answer (a chat id); often the user's id. Stored sealed.
    platform_at: dt.datetime  # when the platform says it was sent


@dataclass(frozen=True)
class Outgoing:
    """One item for a channel to send: a reply, or a channel's own acknowledgement (`ack`)."""

    id: int
    recipient: str  # the platform's address (a chat id, a phone number), for the send only
    reply: Reply | None
    ack: dict[str, str] | None = None
    attempts: int = 0  # earlier attempts to send this item (for a channel's own backoff)
    sent_parts: int = 0  # parts of the reply (platform messages) that went out in earlier attempts: skip them
    ref: str = ""  # the recipient as the database knows them (bot/channel_ids.py), for the channel's own lookups


# What `Channel.send` reports.
@dataclass(frozen=True)
class Sent:
    """Sent; `external_ids`: the platform's ids of the messages it became (WhatsApp's wamids),
    for the delivery reports the platform sends later."""

    external_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryAfter:
    """Try again in `seconds` (the platform asked for it); None: a transient error, back off.
    `sent_parts`: the parts of the reply that went out so far (this attempt's and earlier ones),
    `external_ids` the platform's ids of those sent in this attempt."""

    seconds: float | None
    reason: str
    sent_parts: int = 0
    external_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Blocked:
    """The recipient blocked the bot: nothing more goes to them."""

    reason: str


@dataclass(frozen=True)
class Rejected:
    """The platform refused this message for good (it would refuse it again)."""

    reason: str


@dataclass(frozen=True)
class Held:
    """The platform takes this message only after the recipient writes again (WhatsApp's 24-hour
    window; the channel has told them there is news): keep it, and their later ones, until then.
    `sent_parts` and `external_ids` as for RetryAfter."""

    reason: str
    sent_parts: int = 0
    external_ids: tuple[str, ...] = ()


SendResult = Sent | RetryAfter | Blocked | Rejected | Held


class Channel(Protocol):
    name: str
    # Seconds to leave between two messages to one recipient (the platform's pace), or 0.
    pace_seconds: float

    def routes(self) -> list[BaseRoute]: ...

    async def start(self) -> None:
        """Connect to the platform (register a webhook, start polling); may raise, and is retried."""

    async def stop(self) -> None: ...

    async def send(self, item: Outgoing) -> SendResult: ...


def message_to_json(message: IncomingMessage) -> str:
    body: dict[str, Any] = {"channel": message.channel, "user_ref": message.user_ref,
                            "received_at": message.received_at.isoformat(), "text": message.text,
                            "button": message.button, "language_hint": message.language_hint,
                            "unsupported": message.unsupported}
    if message.location is not None:
        where = message.location
        body["location"] = {"latitude": where.latitude, "longitude": where.longitude, "name": where.name,
                            "address": where.address}
    return json.dumps(body, ensure_ascii=False)


def message_from_json(text: str) -> IncomingMessage:
    data = json.loads(text)
    where = data.get("location")
    location = Location(float(where["latitude"]), float(where["longitude"]), where["name"], where["address"]) \
        if where else None
    return IncomingMessage(channel=data["channel"], user_ref=data["user_ref"],
                           received_at=dt.datetime.fromisoformat(data["received_at"]), text=data["text"],
                           button=data["button"], language_hint=data["language_hint"], unsupported=data["unsupported"],
                           location=location)
