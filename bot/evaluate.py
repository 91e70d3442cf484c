"""`make eval`: score the bot on the held-out set (tests/nlu/holdout.yml) and cross-validate Rasa.

The held-out messages go through the same code path as a user's message (Dialogue: language,
Rasa, thresholds, actions) against the real Rasa server; a message counts as right when the
topic the bot answered belongs to the expected intent. Prints accuracy per language and per
intent, then Rasa's own 3-fold cross-validation on nlu_data/.
"""

import asyncio
import datetime as dt
import json
import secrets
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import httpx
import yaml

from bot import nlu_model
from bot.content import ContentStore, load_content
from bot.dialogue import Dialogue
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.messages import IncomingMessage
from bot.nlu import RasaNluClient
from bot.rasa_process import start_rasa, stop, wait_until_ready
from bot.settings import PROJECT_ROOT, Settings
from bot.storage import Storage, make_engine, migrate

HOLDOUT = PROJECT_ROOT / "tests" / "nlu" / "holdout.yml"
PORT = 5015


def answered_intent(topic: str, content: ContentStore) -> str:
    """The intent an answer stands for: a content topic's intent, or the dialogue topic itself."""
    if topic in content.topics:
        return content.topics[topic].intents[0]
    return topic


async def score_holdout(settings: Settings, rasa_url: str, token: str) -> dict[str, dict[str, list[bool]]]:
    languages = load_languages(settings.locales_dir)
    content = load_content(settings.content_dir, set(languages))
    guesser = LanguageGuesser(list(languages), settings.contrast_language_list())
    holdout = yaml.safe_load(HOLDOUT.read_text(encoding="utf-8"))["languages"]
    results: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/eval.db")
        await migrate(engine)
        async with httpx.AsyncClient() as http:
            nlu = RasaNluClient(rasa_url, token, 10, http)
            dialogue = Dialogue(Storage(engine), nlu, content, languages, guesser, settings.default_language,
                                settings.answer_threshold, settings.clarify_threshold, settings.context_minutes)
            for language, sets in holdout.items():
                for number, item in enumerate(sets["messages"]):
                    outcome = await dialogue.handle(IncomingMessage(
                        channel="eval", user_ref=f"{language}-{number}", text=item["text"],
                        received_at=dt.datetime.now(dt.timezone.utc)))
                    right = answered_intent(outcome.topic, content) == item["intent"]
                    if right and item.get("district"):
                        title = content.by_intent["kim_contact"].slot
                        right = title is not None and outcome.replies[0].text.strip() == \
                            content.by_intent["kim_contact"].texts[outcome.language].by_value[item["district"]].strip()
                    results[language][item["intent"]].append(right)
                    if not right:
                        print(f"  miss [{language}] {item['text']!r}: expected {item['intent']}, "
                              f"got {outcome.topic} ({outcome.intent} {outcome.confidence:.2f})")
        await engine.dispose()
    return results


def print_table(results: dict[str, dict[str, list[bool]]]) -> None:
    print("\nHeld-out accuracy per language (tests/nlu/holdout.yml, through the dialogue):")
    for language, by_intent in results.items():
        flat = [r for rs in by_intent.values() for r in rs]
        print(f"  {language}: {sum(flat) / len(flat):6.1%}  ({sum(flat)}/{len(flat)})")
    flat = [r for by_intent in results.values() for rs in by_intent.values() for r in rs]
    print(f"  all: {sum(flat) / len(flat):6.1%}  ({sum(flat)}/{len(flat)})")
    print("\nHeld-out accuracy per intent:")
    intents = sorted({i for by_intent in results.values() for i in by_intent})
    for intent in intents:
        rs = [r for by_intent in results.values() for r in by_intent.get(intent, [])]
        print(f"  {intent:20} {sum(rs) / len(rs):6.1%}  ({sum(rs)}/{len(rs)})")


def cross_validate() -> None:
    out = PROJECT_ROOT / "var" / "crossval"
    subprocess.run(
        [str(nlu_model.RASA), "test", "nlu", "--nlu", "nlu_data", "--config", "nlu_data/config.yml",
         "--cross-validation", "--folds", "3", "--out", str(out)],
        check=True, cwd=PROJECT_ROOT, env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    report = json.loads((out / "intent_report.json").read_text())
    print("\nRasa 3-fold cross-validation on nlu_data/ (intent):")
    print(f"  accuracy {report['accuracy']:.1%}, macro F1 {report['macro avg']['f1-score']:.3f}")


def main() -> int:
    settings = Settings()
    model = nlu_model.train(PROJECT_ROOT / "nlu_data" / "config.yml")
    token = secrets.token_urlsafe(16)
    url = f"http://127.0.0.1:{PORT}"
    (PROJECT_ROOT / "var").mkdir(exist_ok=True)
    with open(PROJECT_ROOT / "var" / "rasa-eval.log", "wb") as log:
        process = start_rasa(model, "127.0.0.1", PORT, token, log)
        try:
            wait_until_ready(process, url, token)
            results = asyncio.run(score_holdout(settings, url, token))
        finally:
            stop(process)
    print_table(results)
    if "--no-cross-validation" not in sys.argv:
        cross_validate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
