"""The application's own message model: channels translate to and from these, nothing else leaves them."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Button:
    """A choice offered with a reply; `payload` comes back as `IncomingMessage.button`."""

    title: str
    payload: str
    # The title in at most 20 characters, for channels with short buttons (WhatsApp), written by
    # hand where `title` is longer ("" when the title itself is short enough).
    short: str = ""


@dataclass(frozen=True)
class Place:
    """A place to show on a map: always a name and an address; coordinates when staff gave them."""

    name: str
    address: str
    latitude: float | None = None
    longitude: float | None = None

    @property
    def map_url(self) -> str:
        """A map search for the address, for channels that cannot show a pin without coordinates."""
        from urllib.parse import quote

        return f"https://www.openstreetmap.org/search?query={quote(self.address)}"


@dataclass(frozen=True)
class Location:
    """A place the user shared: coordinates, and the name and address their app attached, if any."""

    latitude: float
    longitude: float
    name: str = ""
    address: str = ""


@dataclass(frozen=True)
class Calendar:
    """A calendar file offered with a reply: channels that send files send `ics` as `filename`,
    the others link to `path` on the web app (GET /calendar/<topic>.ics?lang=..)."""

    title: str  # "Add to calendar", in the user's language
    filename: str
    path: str
    ics: str


@dataclass(frozen=True)
class Reply:
    """One message from the bot to the user."""

    text: str
    buttons: tuple[Button, ...] = ()
    place: Place | None = None
    calendar: Calendar | None = None


@dataclass(frozen=True)
class IncomingMessage:
    """One message from a user, as a channel parsed it: either free text or a pressed button."""

    channel: str
    user_ref: str
    received_at: datetime
    text: str = ""
    button: str = ""
    language_hint: str = ""
    # What arrived when it was no text the bot can read ("voice", "photo", "sticker"...).
    unsupported: str = ""
    # A shared location (WhatsApp): answered with its district when the dialogue can tell it.
    location: Location | None = None


@dataclass(frozen=True)
class OpenedCase:
    """A handoff case this message opened (staff are told of it once the turn is stored)."""

    id: int
    urgent: bool
    language: str
    channel: str
    topic: str | None


@dataclass(frozen=True)
class Outcome:
    """What the dialogue decided for one incoming message. `handoff`: the conversation is with
    the case-management team (a case is open)."""

    language: str
    topic: str
    replies: tuple[Reply, ...]
    handoff: bool = False
    intent: str = ""
    confidence: float = 0.0
    opened_case: OpenedCase | None = None


def reply_to_json(reply: Reply) -> dict[str, Any]:
    body: dict[str, Any] = {"text": reply.text, "buttons": [
        {"title": b.title, "payload": b.payload} | ({"short": b.short} if b.short else {}) for b in reply.buttons]}
    if reply.place is not None:
        place = reply.place
        body["place"] = {"name": place.name, "address": place.address, "latitude": place.latitude,
                         "longitude": place.longitude}
    if reply.calendar is not None:
        calendar = reply.calendar
        body["calendar"] = {"title": calendar.title, "filename": calendar.filename, "path": calendar.path,
                            "ics": calendar.ics}
    return body


def reply_from_json(body: dict[str, Any]) -> Reply:
    place = body.get("place")
    calendar = body.get("calendar")
    return Reply(
        text=str(body["text"]),
        buttons=tuple(Button(str(b["title"]), str(b["payload"]), str(b.get("short", ""))) for b in body.get("buttons", [])),
        place=Place(place["name"], place["address"], place.get("latitude"), place.get("longitude")) if place else None,
        calendar=Calendar(str(calendar["title"]), str(calendar["filename"]), str(calendar["path"]),
                          str(calendar["ics"])) if calendar else None,
    )
