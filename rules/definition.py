"""What a rule may say: a small JSON Schema for trigger, condition and action, and the
deterministic A/B arm of a store. Pure."""

from __future__ import annotations

import hashlib
import string

import jsonschema

TASK_TRIGGERS = ("task.overdue", "task.rejected", "task.submitted")
# Fired by the worker's schedule over store metrics (rules/metrics.py), per store and campaign.
STORE_TRIGGERS = ("store.attach_rate", "store.completion")
TRIGGERS = TASK_TRIGGERS + STORE_TRIGGERS
ACTIONS = ("notify", "create_task", "escalate", "webhook")
RECIPIENTS = ("clerks", "supervisor", "hq")

_TEXT = {"type": "string", "maxLength": 500}
_SHARE = {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["trigger", "condition", "action"],
    "properties": {
        "trigger": {"oneOf": [
            {"type": "object", "additionalProperties": False, "required": ["type", "after_hours"],
             "properties": {"type": {"const": "task.overdue"},
                            "after_hours": {"type": "number", "minimum": 0, "maximum": 24 * 60}}},
            {"type": "object", "additionalProperties": False, "required": ["type", "nth"],
             "properties": {"type": {"const": "task.rejected"}, "nth": {"type": "integer", "minimum": 1, "maximum": 50}}},
            {"type": "object", "additionalProperties": False, "required": ["type", "deviation"],
             "properties": {"type": {"const": "task.submitted"}, "deviation": {"const": True}}},
            {"type": "object", "additionalProperties": False, "required": ["type", "below", "days"],
             "properties": {"type": {"const": "store.attach_rate"}, "below": _SHARE,
                            "days": {"type": "integer", "minimum": 1, "maximum": 90},
                            "min_transactions": {"type": "integer", "minimum": 1, "maximum": 1_000_000}}},
            {"type": "object", "additionalProperties": False, "required": ["type", "below", "hours_before_due"],
             "properties": {"type": {"const": "store.completion"}, "below": _SHARE,
                            "hours_before_due": {"type": "number", "exclusiveMinimum": 0, "maximum": 24 * 30}}},
        ]},
        "condition": {"type": "object", "additionalProperties": False, "properties": {
            "regions": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 200},
            "store_tags": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 50},
            "campaign_codes": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 50},
        }},
        "action": {"oneOf": [
            {"type": "object", "additionalProperties": False, "required": ["type", "to"],
             "properties": {"type": {"const": "notify"}, "to": {"enum": list(RECIPIENTS)}, "message": _TEXT}},
            {"type": "object", "additionalProperties": False, "required": ["type", "title"],
             "properties": {"type": {"const": "create_task"}, "title": {"type": "string", "minLength": 1, "maxLength": 200},
                            "instructions": {"type": "string", "maxLength": 10000},
                            "due_in_hours": {"type": "integer", "minimum": 1, "maximum": 24 * 60}}},
            {"type": "object", "additionalProperties": False, "required": ["type"],
             "properties": {"type": {"const": "escalate"}, "message": _TEXT}},
            {"type": "object", "additionalProperties": False, "required": ["type"],
             "properties": {"type": {"const": "webhook"}}},
        ]},
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
PLACEHOLDERS = ("store_code", "task_title", "campaign_title", "rule_name", "task_id", "value", "threshold")


def _branches(part: str) -> dict[str, int]:
    """type → the index of its branch in the part's oneOf."""
    return {branch["properties"]["type"]["const"]: index
            for index, branch in enumerate(SCHEMA["properties"][part]["oneOf"])}


_BRANCHES = {part: _branches(part) for part in ("trigger", "action")}


def _precise(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """A trigger or action of a known type that fails: the errors of that type's own schema
    (each naming its field), not "not valid under any of the given schemas"."""
    path = list(error.absolute_path)
    if error.validator != "oneOf" or len(path) != 1 or path[0] not in _BRANCHES \
            or not isinstance(error.instance, dict):
        return [error]
    branch = _BRANCHES[path[0]].get(error.instance.get("type"))
    if branch is None:
        return [error]
    return [detail for detail in error.context if detail.relative_schema_path[0] == branch] or [error]


def problems(definition: dict) -> dict[str, list[str]]:
    """Errors by field path ('trigger', 'action.to', …); empty when the rule is valid."""
    found: dict[str, list[str]] = {}
    for error in _VALIDATOR.iter_errors(definition):
        for detail in _precise(error):
            path = ".".join(str(part) for part in detail.absolute_path) or "rule"
            found.setdefault(path, []).append(detail.message[:300])
    action = definition.get("action")
    text = action.get("message") if isinstance(action, dict) else None
    if isinstance(text, str):
        # string.Template's groups: (escaped, named, braced, invalid)
        names = {named or braced for _, named, braced, _ in string.Template.pattern.findall(text)
                 if named or braced}
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            found.setdefault("action.message", []).append(
                f"Unknown placeholder(s) {', '.join(unknown)}; use ${', $'.join(PLACEHOLDERS)}.")
    return found


def fill(message: str, values: dict) -> str:
    """A message template with $placeholders filled (string.Template: no expressions)."""
    return string.Template(message).safe_substitute({k: str(v) for k, v in values.items()})[:500]


def arm_of(rule_id: int, store_id: int, variant_share: float) -> str:
    """The store's arm for this rule: the same answer every time (a hash, not a coin)."""
    digest = hashlib.sha256(f"zhida-rule:{rule_id}:{store_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2 ** 64
    return "treatment" if position < variant_share else "control"
