"""Pure rules of the store-task lifecycle (SPEC §3): transitions and proof requirements."""

from __future__ import annotations

import datetime as dt

from backend.errors import Conflict

FINAL = ("approved", "cancelled")

# action -> {from status: to status}
TRANSITIONS: dict[str, dict[str, str]] = {
    "claim": {"open": "claimed", "claimed": "claimed", "in_progress": "in_progress"},
    "start": {"claimed": "in_progress"},
    "submit": {"claimed": "submitted", "in_progress": "submitted"},
    "approve": {"submitted": "approved"},
    "reject": {"submitted": "claimed"},
    "cancel": {"open": "cancelled", "claimed": "cancelled", "in_progress": "cancelled",
               "submitted": "cancelled"},
}


class InvalidTransition(Conflict):
    """The task's state does not allow this action."""

    error = "invalid_transition"


def next_status(action: str, status: str) -> str:
    """The status after an action, or InvalidTransition naming the current state."""
    target = TRANSITIONS[action].get(status)
    if target is None:
        raise InvalidTransition(f"Cannot {action} a task that is {status}.", current_status=status)
    return target


def status_after_unclaim(status: str, remaining_claimants: int) -> str:
    """Unclaiming is allowed only before submit; the last claimant leaving reopens the task."""
    if status not in ("claimed", "in_progress"):
        raise InvalidTransition(f"Cannot unclaim a task that is {status}.", current_status=status)
    return status if remaining_claimants > 0 else "open"


def missing_proof(*, proof: dict, checklist_ids: list[str], checklist_done: dict[str, bool],
                  photo_count: int, quantity: int | None, observed_prices: dict[str, float],
                  featured_skus: list[str]) -> dict[str, list[str]]:
    """Every proof requirement not met, keyed by field (empty when the submission is complete)."""
    missing: dict[str, list[str]] = {}
    for item_id in checklist_ids:
        if not checklist_done.get(item_id):
            missing[f"checklist.{item_id}"] = ["Not done."]
    required_photos = int(proof.get("photos") or 0)
    if photo_count < required_photos:
        missing["photos"] = [f"{required_photos} photo(s) required, {photo_count} attached."]
    if proof.get("quantity") and quantity is None:
        missing["quantity"] = ["The sold quantity is required."]
    if proof.get("observed_price"):
        wanted = featured_skus or []
        absent = [sku for sku in wanted if sku not in observed_prices]
        if absent:
            missing["observed_prices"] = [f"Observed price required for {', '.join(absent)}."]
        elif not wanted and not observed_prices:
            missing["observed_prices"] = ["At least one observed price is required."]
    return missing



def price_deviates(observed: dict[str, float], planned: dict[str, float]) -> bool:
    """True when an observed price of a planned SKU differs from its promo price by a cent or more."""
    return any(sku in observed and abs(float(observed[sku]) - float(price)) >= 0.005
               for sku, price in planned.items())


# ---- progress: who may edit, and the per-item checklist register (SPEC §5) ------------------

PROGRESS_OPEN = ("claimed", "in_progress")


def clamp_client_time(client_time: dt.datetime | None, previous: dt.datetime | None,
                      received_at: dt.datetime) -> dt.datetime:
    """A client's clock is trusted only between its previous accepted time and now."""
    effective = client_time or received_at
    if previous is not None and effective < previous:
        effective = previous
    return min(effective, received_at)


def checklist_edit_wins(*, effective_time: dt.datetime, client_id: str,
                        current: dict | None) -> bool:
    """Last-writer-wins per item by effective client time; ties go to the larger client id,
    so every replica decides the same way whatever the arrival order."""
    if not current or "client_time" not in current:
        return True
    current_time = dt.datetime.fromisoformat(current["client_time"])
    return (effective_time, client_id) >= (current_time, current.get("client_id") or "")
