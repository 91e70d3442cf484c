"""Rasa NLU component that applies `bot.normalization.normalize` inside the Rasa pipeline.

Loaded only by the Rasa server (its own Python 3.10 environment), never by the application.
It sits before the tokenizer so that training examples, lookup tables, synonyms and parsed
messages all pass through the same normalisation.
"""

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.normalization import normalize, normalize_with_spans, with_proclitics


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class TextNormalizer(GraphComponent):
    """Rewrites each message's text to its normalised form, keeping entity offsets right."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TextNormalizer":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize_message(example)
        for table in training_data.lookup_tables:
            elements = {normalize(str(e)) for e in table["elements"]} - {""}
            table["elements"] = sorted({form for e in elements for form in with_proclitics(e)})
        synonyms = {}
        for variant, value in training_data.entity_synonyms.items():
            for form in with_proclitics(normalize(variant)):
                synonyms[form] = value
        for value in {str(v) for v in training_data.entity_synonyms.values()}:
            for form in with_proclitics(normalize(value))[1:]:
                synonyms.setdefault(form, value)
        training_data.entity_synonyms = synonyms
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalize_message(message)
        return messages

    @staticmethod
    def _normalize_message(message: Message) -> None:
        text: Optional[Text] = message.get(TEXT)
        if not text:
            return
        entities = message.get(ENTITIES) or []
        if not entities:
            message.set(TEXT, normalize(text))
            return
        spans = [(int(e["start"]), int(e["end"])) for e in entities]
        new_text, new_spans = normalize_with_spans(text, spans)
        ordered = sorted(entities, key=lambda e: (int(e["start"]), int(e["end"])))
        for entity, (start, end) in zip(ordered, new_spans):
            if entity.get("value") == text[int(entity["start"]) : int(entity["end"])]:
                entity["value"] = new_text[start:end]  # a plain mention, not an explicit synonym
            entity["start"], entity["end"] = start, end
        message.set(TEXT, new_text)
