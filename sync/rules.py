"""Pure rules of the sync protocol: mutation ordering, clock clamping, the checklist register."""

from __future__ import annotations

import datetime as dt

from backend.errors import Conflict


class MutationGap(Conflict):
    """A push skipped ids: nothing of it is applied."""

    error = "mutation_gap"


def split_mutation_ids(ids: list[int], last_mutation_id: int) -> tuple[list[int], list[int]]:
    """(ids to answer from stored results, ids to apply); MutationGap unless the new ones
    continue exactly from last_mutation_id, one by one, in order."""
    replay = [mutation_id for mutation_id in ids if mutation_id <= last_mutation_id]
    fresh = [mutation_id for mutation_id in ids if mutation_id > last_mutation_id]
    expected = list(range(last_mutation_id + 1, last_mutation_id + 1 + len(fresh)))
    if fresh != expected or ids != replay + fresh:
        raise MutationGap(f"Mutation ids must continue from {last_mutation_id} without gaps.",
                          last_mutation_id=last_mutation_id)
    return replay, fresh


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
