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


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_TYPE_SENTENCES = {"integer": "Not a valid integer.", "number": "Not a valid number.",
                   "string": "Not a valid string.", "array": "Not a valid list.",
                   "object": "Not a valid mapping type.", "boolean": "Not a valid boolean."}


def _findings(detail: jsonschema.ValidationError) -> list[tuple[list, str]]:
    """(path, sentence) of one schema error, in the sentences the API's other validation speaks
    (marshmallow's), which the console translates; a missing or unknown property is named by
    its own path. jsonschema's own wording repeats the value (cut at 300 characters, it could
    lose its point) and is kept only for shapes not listed here."""
    path, kind, bound = list(detail.absolute_path), detail.validator, detail.validator_value
    instance = detail.instance
    if kind == "required":
        return [(path + [name], "Missing data for required field.")
                for name in bound if isinstance(instance, dict) and name not in instance]
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = detail.schema.get("properties", {})
        return [(path + [name], "Unknown field.") for name in instance if name not in known]
    if kind == "oneOf" and len(path) == 1 and path[0] in _BRANCHES:  # a type no branch has
        return [(path + ["type"], f"Must be one of: {', '.join(_BRANCHES[path[0]])}.")]
    sentence = {
        "type": lambda: _TYPE_SENTENCES.get(bound),
        "minimum": lambda: f"Must be greater than or equal to {_number(bound)}.",
        "exclusiveMinimum": lambda: f"Must be greater than {_number(bound)}.",
        "maximum": lambda: f"Must be less than or equal to {_number(bound)}.",
        "enum": lambda: f"Must be one of: {', '.join(map(str, bound))}.",
        "const": lambda: f"Must be one of: {bound}.",
        "minLength": lambda: f"Shorter than minimum length {bound}.",
        "maxLength": lambda: f"Longer than maximum length {bound}.",
        "maxItems": lambda: f"Longer than maximum length {bound}.",
    }.get(kind, lambda: None)()
    return [(path, sentence or detail.message[:300])]


def problems(definition: dict) -> dict[str, list[str]]:
    """Errors by field path ('trigger.type', 'action.to', …); empty when the rule is valid."""
    found: dict[str, list[str]] = {}
    for error in _VALIDATOR.iter_errors(definition):
        for detail in _precise(error):
            for path, sentence in _findings(detail):
                key = ".".join(str(part) for part in path) or "rule"
                if sentence not in found.get(key, []):
                    found.setdefault(key, []).append(sentence)
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
