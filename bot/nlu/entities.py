"""`IdEntityNormaliser`: makes order/ticket ids, emails, quantities, branches and SKUs canonical.

The entity extractor learns *where* an id is, but not its canonical spelling, and it misses forms
it never saw ("ped10234", "Pedido #10234"). This component runs after the entity extractor
(CRFEntityExtractor) and EntitySynonymMapper,
rewrites what they found to canonical values, drops what is not a real id, and adds what they
missed, so slots and actions only ever see "PED-10234", "TCK-2041", "mty" or "CF258A".
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

import spacy
from spacy.language import Language

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import typed_values as typed
from bot.folding import fold
from bot.demo_data import BRANCHES, PRODUCTS

logger = logging.getLogger(__name__)

ORDER_ID = "order_id"
TICKET_ID = "ticket_id"
EMAIL = "email"
QUANTITY = "quantity"
BRANCH = "branch"
PRODUCT = "product"
MANAGED_ENTITIES = (ORDER_ID, TICKET_ID, EMAIL, QUANTITY, BRANCH, PRODUCT)

# When spans found by this component overlap, the earlier type in this tuple wins.
_PRIORITY = {ORDER_ID: 0, TICKET_ID: 1, EMAIL: 2, PRODUCT: 3, BRANCH: 4, QUANTITY: 5}
_PLACE_LABELS = {"LOC", "GPE"}
_MAX_QUANTITY = 1_000_000
_DASHES = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015"]

Candidate = Tuple[str, str, int, int]  # (entity type, canonical value, start, end)


def _single(found: List[str]) -> Optional[str]:
    return found[0] if len(found) == 1 else None


def _norm_order(value: str) -> Optional[str]:
    return typed.normalise_order_id(value) or _single(typed.find_order_ids(value))


def _norm_ticket(value: str) -> Optional[str]:
    return typed.normalise_ticket_id(value) or _single(typed.find_ticket_ids(value))


def _norm_email(value: str) -> Optional[str]:
    return _single(typed.find_emails(value))


def _norm_quantity(value: Any) -> Optional[str]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        whole = math.isfinite(value) and value == int(value) and 1 <= value <= _MAX_QUANTITY
        return str(int(value)) if whole else None
    found = typed.find_quantity(str(value))
    return str(found) if found is not None else None


def _norm_product(value: str) -> Optional[str]:
    # Free-text product names stay as they are (the catalogue search needs them);
    # only spellings of a real SKU are rewritten to the SKU.
    return typed.normalise_sku(value) or value


# entity type -> normaliser; None means "not a valid value, drop the entity"
_NORMALISERS: Dict[str, Callable[[Any], Optional[str]]] = {
    ORDER_ID: _norm_order,
    TICKET_ID: _norm_ticket,
    EMAIL: _norm_email,
    QUANTITY: _norm_quantity,
    BRANCH: typed.branch_id,
    PRODUCT: _norm_product,
}


def build_entity_ruler() -> Language:
    """A blank Spanish pipeline whose EntityRuler spots ids, SKUs and branch aliases.

    It runs on `bot.folding.fold(text)` (lowercase, no accents, same length), so patterns are
    written in folded form and character offsets map straight back onto the user's text.
    """
    nlp = spacy.blank("es")
    ruler = nlp.add_pipe("entity_ruler", config={"validate": True})
    five, four = {"REGEX": r"^[0-9]{5}$"}, {"REGEX": r"^[0-9]{4}$"}
    dash_or_hash = {"IN": [*_DASHES, "#", ":"]}
    number_word = {"IN": ["#", "no", "numero", "num", "number", "nro"]}
    patterns: List[Dict[str, Any]] = [
        {"label": ORDER_ID, "pattern": [{"TEXT": {"REGEX": r"^ped[-\u2010-\u2015]?[0-9]{5}$"}}]},
        {"label": ORDER_ID, "pattern": [{"TEXT": "ped"}, {"TEXT": dash_or_hash, "OP": "?"},
                                        {"TEXT": five}]},
        {"label": ORDER_ID, "pattern": [
            {"TEXT": {"IN": ["pedido", "orden", "order", "compra"]}},
            {"TEXT": number_word, "OP": "?"}, {"TEXT": {"IN": [".", ":"]}, "OP": "?"},
            {"TEXT": "#", "OP": "?"}, {"TEXT": five}]},
        {"label": ORDER_ID, "pattern": [{"TEXT": "#"}, {"TEXT": five}]},
        {"label": TICKET_ID, "pattern": [{"TEXT": {"REGEX": r"^tck[-\u2010-\u2015]?[0-9]{4}$"}}]},
        {"label": TICKET_ID, "pattern": [{"TEXT": "tck"}, {"TEXT": dash_or_hash, "OP": "?"},
                                         {"TEXT": four}]},
        {"label": TICKET_ID, "pattern": [
            {"TEXT": {"IN": ["ticket", "folio", "reporte", "tiquet", "caso", "incidencia"]}},
            {"TEXT": number_word, "OP": "?"}, {"TEXT": {"IN": [".", ":"]}, "OP": "?"},
            {"TEXT": "#", "OP": "?"}, {"TEXT": four}]},
        {"label": TICKET_ID, "pattern": [{"TEXT": "#"}, {"TEXT": four}]},
    ]
    for sku, *_ in PRODUCTS:
        patterns += [{"label": PRODUCT, "id": sku, "pattern": v} for v in typed.sku_variants(sku)]
    for bid, data in BRANCHES.items():
        spellings = {fold(a) for a in [bid, data["name"], *data.get("aliases", [])]}
        patterns += [{"label": BRANCH, "id": bid, "pattern": s} for s in sorted(spellings)]
    ruler.add_patterns(patterns)
    return nlp


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class IdEntityNormaliser(GraphComponent, EntityExtractorMixin):
    """Canonicalises, filters and completes the id-like entities of each message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Defaults: also read branches from spaCy NER places when SpacyNLP ran upstream."""
        return {"use_spacy_places": True}

    @staticmethod
    def required_packages() -> List[Text]:
        """spaCy provides the EntityRuler (and, optionally, the upstream NER doc)."""
        return ["spacy"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IdEntityNormaliser:
        """Builds the EntityRuler once; nothing is built per message."""
        return cls({**cls.get_default_config(), **config}, build_entity_ruler())

    def __init__(self, config: Dict[Text, Any], ruler_nlp: Language) -> None:
        """Keeps the config and the ready-made EntityRuler pipeline."""
        self._config = config
        self._nlp = ruler_nlp

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to learn or annotate at training time: the component is rule-based."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Normalises existing entities and adds the ones the upstream extractors missed."""
        for message in messages:
            text = message.get(TEXT)
            entities = message.get(ENTITIES) or []
            if not isinstance(text, str):
                continue
            kept = self._normalise_existing(entities)
            added = self._find_missing(message, text, kept)
            message.set(ENTITIES, kept + added, add_to_output=True)
        return messages

    # ------------------------------------------------------------------ internals

    def _normalise_existing(self, entities: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
        kept: List[Dict[Text, Any]] = []
        seen: set = set()
        for entity in entities:
            etype = entity.get(ENTITY_ATTRIBUTE_TYPE)
            if etype not in _NORMALISERS:
                kept.append(entity)
                continue
            raw = entity.get(ENTITY_ATTRIBUTE_VALUE)
            value = _NORMALISERS[etype](raw if etype == QUANTITY else str(raw or ""))
            if value is None:
                logger.debug("Dropping %s entity %r: not a valid value.", etype, raw)
                continue
            if (etype, value) in seen:
                continue
            seen.add((etype, value))
            if value != raw:
                entity[ENTITY_ATTRIBUTE_VALUE] = value
                self.add_processor_name(entity)
            kept.append(entity)
        return kept

    def _find_missing(
        self, message: Message, text: str, kept: List[Dict[Text, Any]]
    ) -> List[Dict[Text, Any]]:
        folded = fold(text)
        # bot.typed_values spans come first: for the same value they are the tighter span ("10234"
        # rather than the ruler's "pedido 10234").
        candidates: List[Candidate] = [(ORDER_ID, *s) for s in typed.find_order_id_spans(text)]
        candidates += [(TICKET_ID, *s) for s in typed.find_ticket_id_spans(text)]
        candidates += [(EMAIL, *s) for s in typed.find_email_spans(text)]
        candidates += [(BRANCH, *s) for s in typed.find_branch_spans(text)]
        for ent in self._nlp(folded).ents:
            value = self._ruler_value(ent.label_, ent.ent_id_, ent.text)
            if value:
                candidates.append((ent.label_, value, ent.start_char, ent.end_char))
        if self._config.get("use_spacy_places", True):
            candidates += self._places_from_spacy(message, text, folded)

        # numbers inside ids or SKUs (found here or upstream) are never quantities
        blocked = [(s, e) for t, _, s, e in candidates if t in (ORDER_ID, TICKET_ID, PRODUCT)]
        blocked += [
            (e[ENTITY_ATTRIBUTE_START], e[ENTITY_ATTRIBUTE_END]) for e in kept
            if e.get(ENTITY_ATTRIBUTE_TYPE) in (ORDER_ID, TICKET_ID, PRODUCT, EMAIL)
            and isinstance(e.get(ENTITY_ATTRIBUTE_START), int)
            and isinstance(e.get(ENTITY_ATTRIBUTE_END), int)
        ]
        blocked += [(s, e) for t, _, s, e in candidates if t == EMAIL]
        candidates += [(QUANTITY, *s) for s in typed.find_quantity_spans(text, exclude=blocked)]

        # managed values are strings by now; other extractors' values may be unhashable dicts
        present = {
            (e[ENTITY_ATTRIBUTE_TYPE], e[ENTITY_ATTRIBUTE_VALUE]) for e in kept
            if e.get(ENTITY_ATTRIBUTE_TYPE) in _NORMALISERS
        }
        accepted: List[Candidate] = []
        for cand in sorted(candidates, key=lambda c: _PRIORITY[c[0]]):  # stable sort
            etype, value, start, end = cand
            if (etype, value) in present:
                continue
            if any(start < a_end and a_start < end for _, _, a_start, a_end in accepted):
                continue
            present.add((etype, value))
            accepted.append(cand)
        accepted.sort(key=lambda c: c[2])
        return self.add_extractor_name([
            {
                ENTITY_ATTRIBUTE_TYPE: etype,
                ENTITY_ATTRIBUTE_START: start,
                ENTITY_ATTRIBUTE_END: end,
                ENTITY_ATTRIBUTE_VALUE: value,
            }
            for etype, value, start, end in accepted
        ])

    @staticmethod
    def _ruler_value(label: str, ent_id: str, span_text: str) -> Optional[str]:
        if label == ORDER_ID:
            return typed.normalise_order_id(span_text)
        if label == TICKET_ID:
            return typed.normalise_ticket_id(span_text)
        if label in (PRODUCT, BRANCH):
            return ent_id or None
        return None

    @staticmethod
    def _places_from_spacy(message: Message, text: str, folded: str) -> List[Candidate]:
        """Branches from the NER places of the doc SpacyNLP left on the message, if any."""
        doc = message.get(SPACY_DOCS[TEXT])
        if doc is None or not hasattr(doc, "ents"):
            return []
        same_offsets = len(doc.text) == len(text)
        found: List[Candidate] = []
        for ent in doc.ents:
            if ent.label_ not in _PLACE_LABELS:
                continue
            bid = typed.branch_id(ent.text)
            if not bid:
                continue
            if same_offsets:
                start, end = ent.start_char, ent.end_char
            else:  # SpacyNLP changed the text length (e.g. lowercasing "İ"): find it again
                start = folded.find(fold(ent.text))
                if start < 0:
                    continue
                end = start + len(ent.text)
            found.append((BRANCH, bid, start, end))
        return found
