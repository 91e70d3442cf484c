"""POST /api/chat as bytes in, request or BadRequest out: a client developer sent something wrong
and the 400 answer must say which field to fix. (Who sends it comes from the cookie, not the body:
see tests/test_web_channel.py.)"""

import json
from typing import Any

import pytest

from bot.errors import BadRequest
from bot.messages import Button, Outcome, Reply
from bot.channels.web import parse_chat_request, render_outcome


def body(**fields: Any) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


def test_text_request_parses() -> None:
    message = parse_chat_request(body(user="browser-42", text="  Wann hat das CaféO offen?  ", language="de-DE", id="m1"))
    assert message.text == "Wann hat das CaféO offen?"
    assert message.button == ""
    assert message.language_hint == "de-DE"
    assert message.client_id == "m1"


def test_button_request_parses() -> None:
    message = parse_chat_request(body(user="browser-42", button="kim.contact"))
    assert message.button == "kim.contact"
    assert message.text == ""
    assert message.language_hint == ""


def test_non_latin_text_parses_unchanged() -> None:
    message = parse_chat_request(body(user="u", text="کافه او کجاست؟"))
    assert message.text == "کافه او کجاست؟"


def test_text_of_4096_characters_is_accepted() -> None:
    assert len(parse_chat_request(body(user="u", text="a" * 4096)).text) == 4096


def test_button_of_64_characters_is_accepted() -> None:
    assert parse_chat_request(body(user="u", button="b" * 64)).button == "b" * 64


def rejection(raw: bytes) -> str:
    with pytest.raises(BadRequest) as error:
        parse_chat_request(raw)
    return str(error.value)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(b"user=u&text=hallo", "JSON", id="not JSON"),
        pytest.param(b"", "JSON", id="empty body"),
        pytest.param(b"\xff\xfe\x00", "JSON", id="not UTF-8"),
        pytest.param(b'[{"user": "u", "text": "hallo"}]', "object", id="JSON array"),
        pytest.param(b'"hallo"', "object", id="JSON string"),
        pytest.param(body(text="hallo", id=7), "'id'", id="id not a string"),
        pytest.param(body(text="hallo", id="i" * 65), "'id'", id="id too long"),
        pytest.param(body(user="u", text="hallo", button="kim.contact"), "'text' or 'button'", id="both text and button"),
        pytest.param(body(user="u"), "'text' or 'button'", id="neither text nor button"),
        pytest.param(body(user="u", text=["hallo"]), "'text'", id="text not a string"),
        pytest.param(body(user="u", text=7), "'text'", id="text a number"),
        pytest.param(body(user="u", text=""), "'text'", id="empty text"),
        pytest.param(body(user="u", text=" \n\t "), "'text'", id="whitespace text"),
        pytest.param(body(user="u", text="a" * 4097), "'text'", id="text of 4097 characters"),
        pytest.param(body(user="u", button="b" * 65), "'button'", id="button of 65 characters"),
        pytest.param(body(user="u", button=""), "'button'", id="empty button"),
        pytest.param(body(user="u", button={"id": 1}), "'button'", id="button not a string"),
        pytest.param(body(user="u", text="hallo", language=["de"]), "'language'", id="language hint a list"),
        pytest.param(body(user="u", text="hallo", language=1), "'language'", id="language hint a number"),
        pytest.param(body(user="u", text="hallo", language="x" * 17), "'language'", id="language hint too long"),
    ],
)
def test_bad_request_names_the_field(raw: bytes, field: str) -> None:
    assert field in rejection(raw)


def test_text_length_message_states_the_limit() -> None:
    assert "4096" in rejection(body(user="u", text="a" * 4097))


def test_body_over_16_kib_is_rejected() -> None:
    raw = body(user="u", text="hallo", padding="x" * 16 * 1024)
    message = rejection(raw)
    assert "body" in message
    assert "16384" in message


def test_body_of_exactly_16_kib_is_read() -> None:
    raw = body(user="u", text="hallo", padding="")
    raw = raw[:-1] + b" " * (16 * 1024 - len(raw)) + b"}"
    assert len(raw) == 16 * 1024
    assert parse_chat_request(raw).text == "hallo"


def test_deeply_nested_json_is_a_bad_request() -> None:
    raw = b'{"user": "u", "text": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert len(raw) < 16 * 1024
    with pytest.raises(BadRequest):
        parse_chat_request(raw)


@pytest.mark.parametrize("field", ["id", "text"])
def test_text_that_is_not_valid_unicode_is_a_bad_request(field: str) -> None:
    fields = {"id": "u", "text": "hallo"}
    raw = json.dumps({**fields, field: "hallo \ud800"}).encode("ascii")
    with pytest.raises(BadRequest):
        parse_chat_request(raw)


def test_render_outcome_gives_the_page_what_it_shows() -> None:
    outcome = Outcome(
        language="ar",
        topic="kim.contact",
        replies=(
            Reply("في أي منطقة تسكن؟", (Button("زودينغن", "district:sodingen"), Button("لا أعرف", "district:unknown"))),
            Reply("شكرا"),
        ),
        handoff=True,
        intent="kim_contact",
        confidence=0.93,
    )
    rendered = render_outcome(outcome)
    assert rendered == {
        "language": "ar",
        "topic": "kim.contact",
        "replies": [
            {
                "text": "في أي منطقة تسكن؟",
                "buttons": [
                    {"title": "زودينغن", "payload": "district:sodingen"},
                    {"title": "لا أعرف", "payload": "district:unknown"},
                ],
            },
            {"text": "شكرا", "buttons": []},
        ],
        "handoff": True,
    }
    json.dumps(rendered)  # the page receives it as JSON
