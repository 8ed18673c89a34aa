"""The console's rule form: HTML fields to the API's rule body (trigger, condition, action,
variant_share), loaded by the API's own schema; errors keyed by the form's field names."""

from __future__ import annotations

import re

import marshmallow as ma
from werkzeug.datastructures import MultiDict

from rules.definition import ACTIONS, RECIPIENTS, TRIGGERS
from rules.schemas import RuleInSchema

MAX_TEXT = 10_000
# The fields each trigger and action type reads (besides "type"); percentages are shares × 100.
TRIGGER_FIELDS = {"task.overdue": ("after_hours",), "task.rejected": ("nth",), "task.submitted": (),
                  "store.attach_rate": ("below", "days", "min_transactions"),
                  "store.completion": ("below", "hours_before_due")}
ACTION_FIELDS = {"notify": ("to", "message"), "create_task": ("title", "instructions", "due_in_hours"),
                 "escalate": ("message",), "webhook": ()}
PERCENT_FIELDS = ("below",)
NUMBER_FIELDS = ("after_hours", "nth", "below", "days", "min_transactions", "hours_before_due", "due_in_hours")


def _text(form: MultiDict, name: str) -> str:
    return form.get(name, "").strip()[:MAX_TEXT]


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,，;]+", text) if word]


def _number(text: str):
    """An int or float typed in a field; the text itself when it is neither (the schema says so)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _value(form: MultiDict, name: str):
    text = _text(form, name)
    if not text:
        return None
    if name not in NUMBER_FIELDS:
        return text
    number = _number(text)
    if name in PERCENT_FIELDS and isinstance(number, (int, float)):
        return round(number / 100, 6)
    return number


def rule_body(form: MultiDict) -> dict:
    """The API body a filled-in rule form stands for."""
    trigger_type = _text(form, "trigger_type")
    trigger: dict = {"type": trigger_type}
    if trigger_type == "task.submitted":
        trigger["deviation"] = True
    for name in TRIGGER_FIELDS.get(trigger_type, ()):
        value = _value(form, name)
        if value is not None:
            trigger[name] = value
    action_type = _text(form, "action_type")
    action: dict = {"type": action_type}
    for name in ACTION_FIELDS.get(action_type, ()):
        value = _value(form, name)
        if value is not None:
            action[name] = value
    condition = {key: values for key, values in (
        ("regions", [code for code in form.getlist("regions") if code][:200]),
        ("store_tags", _words(_text(form, "store_tags"))),
        ("campaign_codes", _words(_text(form, "campaign_codes")))) if values}
    share = _number(_text(form, "variant_share") or "100")
    return {"name": _text(form, "name"), "trigger": trigger, "condition": condition, "action": action,
            "variant_share": round(share / 100, 6) if isinstance(share, (int, float)) else share}


def field_of(path: str) -> str:
    """The form field an error path names: 'trigger.after_hours' → 'after_hours',
    'trigger.type' → 'trigger_type'."""
    parts = path.split(".")
    if parts[0] in ("trigger", "action") and (len(parts) == 1 or parts[1] == "type"):
        return f"{parts[0]}_type"
    if parts[0] == "condition" and len(parts) > 1:
        return parts[1]
    return parts[1] if parts[0] in ("trigger", "action") else parts[0]


def load_rule(form: MultiDict) -> tuple[dict | None, dict[str, str]]:
    """The rule body, checked by the API's schema; or errors by form field."""
    body = rule_body(form)
    try:
        return RuleInSchema().load(body), {}
    except ma.ValidationError as exc:
        return None, {field_of(key): " ".join(map(str, messages if isinstance(messages, list) else [messages]))
                      for key, messages in exc.messages.items()}


def errors_by_field(errors: dict[str, list[str]]) -> dict[str, str]:
    """A service's {path: [messages]} as {form field: message}."""
    found: dict[str, list[str]] = {}
    for path, messages in errors.items():
        found.setdefault(field_of(path), []).extend(messages if isinstance(messages, list) else [str(messages)])
    return {field: " ".join(messages) for field, messages in found.items()}


def form_choices() -> dict:
    """The choices of the form's selects."""
    return {"triggers": TRIGGERS, "actions": ACTIONS, "recipients": RECIPIENTS}
