"""Stock per branch, for verified distributors only.

Everyone else gets a polite explanation and how to become one: stock levels are commercial
information the wholesaler shares with its resellers, not with the public.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import identity, labels
from actions.backend import get_backend
from actions.backend.base import Branch, Product, StockLevel
from actions.common import backend_guard, lang
from actions.forms import VerifiedContactForm
from actions.identity import VerifiedContact
from bot.folding import fold
from bot.typed_values import branch_id as parse_branch, normalise_sku

CLEARED = [SlotSet("product", None), SlotSet("branch", None), SlotSet("quantity", None)]


def is_distributor(contact: VerifiedContact) -> bool:
    """Marked a distributor on the contact, or a verified phone or email of one in the ERP."""
    return contact.is_distributor or identity.distributor_of(contact, get_backend()) is not None


def distance_km(a: Branch, b: Branch) -> float:
    """Great-circle distance; good enough to rank five branches."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def nearest_with_stock(levels: List[StockLevel], origin: Branch, needed: int) -> Optional[StockLevel]:
    candidates = [lv for lv in levels if lv.branch.id != origin.id and lv.quantity >= needed]
    return min(candidates, key=lambda lv: distance_km(origin, lv.branch), default=None)


def _same(a: str, b: str) -> bool:
    return fold(a).strip() == fold(b).strip()


def pick_product(query: str, matches: List[Product]) -> Optional[Product]:
    """The one product the query names, or None when the person has to choose."""
    sku = normalise_sku(query)
    if sku:
        return next((p for p in matches if p.sku == sku), None) or get_backend().product(sku)
    if len(matches) == 1:
        return matches[0]
    exact = [p for p in matches if _same(p.name, query)]
    return exact[0] if len(exact) == 1 else None


class ValidateStockForm(VerifiedContactForm):
    def name(self) -> Text:
        return "validate_stock_form"

    def slots_for(self, contact: VerifiedContact, domain_slots: List[Text]) -> List[Text]:
        # Nobody is asked for a product only to be told afterwards that they may not see stock.
        return domain_slots if is_distributor(contact) else []

    def validate_product(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        query = str(slot_value or "").strip()[:200]
        matches = get_backend().find_products(query, limit=5) if query else []
        chosen = pick_product(query, matches)
        if chosen:
            return {"product": chosen.sku}
        if not matches:
            dispatcher.utter_message(response="utter_product_not_found", query=query)
        else:
            dispatcher.utter_message(
                response="utter_choose_product",
                query=query,
                buttons=[{"title": f"{p.name} ({p.sku})", "payload": p.sku} for p in matches],
            )
        return {"product": None}


class ActionCheckStock(Action):
    def name(self) -> Text:
        return "action_check_stock"

    @backend_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if not is_distributor(identity.of_conversation(tracker.sender_id)):
            dispatcher.utter_message(response="utter_stock_not_distributor")
            return CLEARED
        language = lang(tracker)
        backend = get_backend()
        product = backend.product(str(tracker.get_slot("product") or ""))
        if product is None:
            dispatcher.utter_message(response="utter_product_not_found", query=tracker.get_slot("product") or "-")
            return CLEARED
        levels = backend.stock(product.sku)
        needed = max(1, int(tracker.get_slot("quantity") or 1))
        branch_id = parse_branch(str(tracker.get_slot("branch") or "")) or tracker.get_slot("branch")
        branch = backend.branch(branch_id) if branch_id else None
        names = {"name": product.name, "sku": product.sku}
        if branch is not None:
            here = next((lv.quantity for lv in levels if lv.branch.id == branch.id), 0)
            if here >= needed:
                dispatcher.utter_message(response="utter_stock_at_branch", branch=branch.name, quantity=here, **names)
                return CLEARED
            nearest = nearest_with_stock(levels, branch, needed)
            if nearest is not None:
                dispatcher.utter_message(
                    response="utter_stock_nearest",
                    branch=branch.name,
                    quantity=here,
                    nearest=nearest.branch.name,
                    nearest_quantity=nearest.quantity,
                    distance_km=round(distance_km(branch, nearest.branch)),
                    **names,
                )
                return CLEARED
        if not any(lv.quantity > 0 for lv in levels):
            dispatcher.utter_message(response="utter_stock_none", **names)
            return CLEARED
        lines = "\n".join(
            f"• {lv.branch.name}: {labels.units(lv.quantity, language)}"
            for lv in sorted(levels, key=lambda lv: -lv.quantity)
        )
        dispatcher.utter_message(response="utter_stock_levels", levels=lines, **names)
        return CLEARED
