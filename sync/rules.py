"""Pure rules of the sync protocol: mutation ordering, clock clamping, the checklist register."""

from __future__ import annotations

import re

from backend.errors import Conflict
from backend.tasks.rules import checklist_edit_wins, clamp_client_time  # noqa: F401  (the register rules)


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


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value):
    """Client text made safe to store and to echo: lone UTF-16 surrogates (valid in JSON, not
    in UTF-8) become U+FFFD and NUL characters are dropped, in strings, keys and nested values."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value).replace("\x00", "")
    if isinstance(value, dict):
        return {storable(str(key)): storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(item) for item in value]
    return value


def rejection(error: str, message: str, details: dict | None) -> dict:
    """A stored rejection: the stable code, a message and details, all safe to store."""
    return {"status": "rejected", "error": error, "message": storable(message)[:500],
            "details": storable(details) if details else None}
