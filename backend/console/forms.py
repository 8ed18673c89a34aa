"""The campaign form: HTML fields to the API's campaign body, checked by the API's own schemas.

The console builds exactly the JSON body a client would send to POST/PATCH /campaigns and
loads it with the same marshmallow schema, so a form can never accept what the API refuses.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import marshmallow as ma
from werkzeug.datastructures import MultiDict

from backend.campaigns.models import Campaign
from backend.campaigns.schemas import (CampaignCreateSchema, CampaignUpdateSchema,
                                       TemplateUpdateSchema)

TASK_FIELD = re.compile(r"^tasks-(\d{1,2})-title$")
MAX_TASKS = 20
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # the value format of <input type="datetime-local">


def _words(text: str | None) -> list[str]:
    """Codes typed as a comma/space separated list."""
    return [word for word in re.split(r"[\s,，;]+", text or "") if word]


def _instant(value: str | None, timezone: ZoneInfo):
    """A datetime-local value read in the console's timezone; anything else goes to the schema."""
    if not value:
        return None
    try:
        moment = dt.datetime.strptime(value.strip(), LOCAL_INPUT)
    except ValueError:
        return value
    return moment.replace(tzinfo=timezone).isoformat()


def _prices(text: str | None) -> dict | str:
    """'SKU=159.0' per line (or comma separated) to {sku: price}; malformed prices go to the schema."""
    prices = {}
    for entry in re.split(r"[\n,，]+", text or ""):
        if not entry.strip():
            continue
        sku, separator, price = entry.partition("=")
        if not separator:
            sku, separator, price = entry.partition(":")
        try:
            prices[sku.strip()] = float(price.strip()) if separator else price
        except ValueError:
            prices[sku.strip()] = price.strip()
    return prices


def _checklist(text: str | None) -> list[dict]:
    """'id: label' per line; a line without an id gets item1, item2, ... by position."""
    items = []
    for position, line in enumerate((line.strip() for line in (text or "").splitlines()
                                     if line.strip()), start=1):
        item_id, separator, label = line.partition(":")
        if separator and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}", item_id.strip()):
            items.append({"id": item_id.strip(), "label": label.strip()})
        else:
            items.append({"id": f"item{position}", "label": line})
    return items


def _number(value: str | None):
    """An integer field: blank is absent; a non-number goes to the schema to be refused."""
    value = (value or "").strip()
    if not value:
        return None
    return int(value) if re.fullmatch(r"-?\d{1,9}", value) else value


def task_indexes(form: MultiDict) -> list[int]:
    """The task fieldsets present in the form, in order."""
    found = sorted({int(match.group(1)) for key in form if (match := TASK_FIELD.match(key))})
    return found[:MAX_TASKS + 1]  # one more than allowed, so the schema reports the excess


def _task(form: MultiDict, index: int, timezone: ZoneInfo) -> dict | None:
    field = lambda name: form.get(f"tasks-{index}-{name}", "")  # noqa: E731
    if not any(field(name).strip() for name in ("title", "instructions", "checklist")):
        return None  # an untouched blank fieldset
    task = {"title": field("title").strip(), "instructions": field("instructions"),
            "kind": field("kind") or "other", "checklist": _checklist(field("checklist")),
            "proof": {"photos": _number(field("photos")) or 0,
                      "quantity": field("quantity") == "on",
                      "observed_price": field("observed_price") == "on"},
            "max_claimants": _number(field("max_claimants")) or 1,
            "script_hint": field("script_hint")}
    if (hours := _number(field("due_in_hours"))) is not None:
        task["due_in_hours"] = hours
    if (due_at := _instant(field("due_at"), timezone)) is not None:
        task["due_at"] = due_at
    return task


def campaign_body(form: MultiDict, timezone: ZoneInfo, *, with_code: bool) -> dict:
    """The JSON body of POST /campaigns (or PATCH without the code) from the form fields."""
    body = {
        "title": form.get("title", "").strip(),
        "description": form.get("description", ""),
        "starts_at": _instant(form.get("starts_at"), timezone),
        "ends_at": _instant(form.get("ends_at"), timezone),
        "featured_skus": _words(form.get("featured_skus")),
        "promo_prices": _prices(form.get("promo_prices")),
        "targeting": {"regions": form.getlist("regions"), "stores": _words(form.get("stores")),
                      "tags": _words(form.get("tags"))},
        "tasks": [task for index in task_indexes(form) if (task := _task(form, index, timezone))],
    }
    if with_code:
        body["code"] = form.get("code", "").strip()
    return {key: value for key, value in body.items() if value is not None}


def targeting_body(args: MultiDict) -> dict:
    """The targeting part alone (the live store count)."""
    return {"regions": args.getlist("regions"), "stores": _words(args.get("stores")),
            "tags": _words(args.get("tags"))}


def load_targeting_changes(form: MultiDict) -> tuple[dict | None, dict]:
    """(changes with the new targeting for update_campaign, {}) or (None, field errors)."""
    try:
        return CampaignUpdateSchema().load({"version": _number(form.get("version")),
                                            "targeting": targeting_body(form)}), {}
    except ma.ValidationError as exc:
        return None, flatten_errors(exc.messages)


def _flatten(errors, prefix: str = "") -> dict[str, str]:
    flat = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix and key != "_schema" else (prefix or str(key))
            flat.update(_flatten(value, name))
    elif isinstance(errors, list) and errors and all(isinstance(item, str) for item in errors):
        flat[prefix or "form"] = " ".join(errors)
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            flat.update(_flatten(value, f"{prefix}.{index}"))
    else:
        flat[prefix or "form"] = str(errors)
    return flat


def _form_field(key: str) -> str:
    """The form field an error belongs to: 'promo_prices.X.value' → 'promo_prices',
    'tasks.0.checklist.1.id' → 'tasks.0.checklist', 'tasks.0.proof.photos' → 'tasks.0.photos'."""
    parts = key.split(".")
    if parts[0] == "tasks" and len(parts) >= 3 and parts[1].isdigit():
        field = parts[3] if parts[2] == "proof" and len(parts) > 3 else parts[2]
        return ".".join(parts[:2] + [field])
    if parts[0] == "targeting":
        return ".".join(parts[:2])
    return parts[0]


def flatten_errors(errors, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested errors per form field, as {"tasks.0.title": "message"}."""
    fields: dict[str, list[str]] = {}
    for key, message in _flatten(errors, prefix).items():
        messages = fields.setdefault(_form_field(key), [])
        if message not in messages:
            messages.append(message)
    return {field: " ".join(messages) for field, messages in fields.items()}


def load_new_campaign(form: MultiDict, timezone: ZoneInfo) -> tuple[dict | None, dict]:
    """(body for create_campaign, {}) or (None, field errors)."""
    try:
        return CampaignCreateSchema().load(campaign_body(form, timezone, with_code=True)), {}
    except ma.ValidationError as exc:
        return None, flatten_errors(exc.messages)


def load_campaign_changes(form: MultiDict, timezone: ZoneInfo) -> tuple[dict | None, dict]:
    """(changes for update_campaign, {}) or (None, field errors); the form carries the version."""
    body = campaign_body(form, timezone, with_code=False)
    body["version"] = _number(form.get("version"))
    try:
        return CampaignUpdateSchema().load(body), {}
    except ma.ValidationError as exc:
        return None, flatten_errors(exc.messages)


def _local(moment: dt.datetime | None, timezone: ZoneInfo) -> str:
    return moment.astimezone(timezone).strftime(LOCAL_INPUT) if moment else ""


def form_from_campaign(campaign: Campaign, timezone: ZoneInfo) -> MultiDict:
    """The form fields showing a saved campaign (to edit it)."""
    fields = [("code", campaign.code), ("title", campaign.title),
              ("description", campaign.description), ("version", str(campaign.version)),
              ("starts_at", _local(campaign.starts_at, timezone)),
              ("ends_at", _local(campaign.ends_at, timezone)),
              ("featured_skus", ", ".join(campaign.featured_skus)),
              ("promo_prices", "\n".join(f"{sku}={price:g}"
                                         for sku, price in campaign.promo_prices.items())),
              ("stores", ", ".join(campaign.targeting.get("stores") or [])),
              ("tags", ", ".join(campaign.targeting.get("tags") or []))]
    fields += [("regions", code) for code in campaign.targeting.get("regions") or []]
    for index, template in enumerate(campaign.templates):
        fields += _template_fields(template, index, timezone)
    return MultiDict(fields)


def _template_fields(template, index: int, timezone: ZoneInfo) -> list[tuple[str, str]]:
    prefix = f"tasks-{index}-"
    fields = [(prefix + "title", template.title), (prefix + "kind", template.kind),
              (prefix + "instructions", template.instructions),
              (prefix + "checklist", "\n".join(f"{item['id']}: {item['label']}"
                                               for item in template.checklist)),
              (prefix + "photos", str(template.proof.get("photos", 0))),
              (prefix + "max_claimants", str(template.max_claimants)),
              (prefix + "script_hint", template.script_hint),
              (prefix + "due_in_hours", str(template.due_offset_hours or "")),
              (prefix + "due_at", _local(template.due_at, timezone))]
    return fields + [(prefix + flag, "on") for flag in ("quantity", "observed_price")
                     if template.proof.get(flag)]


def form_from_template(template, timezone: ZoneInfo) -> MultiDict:
    """The fields of one task template (the form that edits it after publish)."""
    return MultiDict([("version", str(template.version))]
                     + _template_fields(template, 0, timezone))


def load_template_changes(form: MultiDict, timezone: ZoneInfo) -> tuple[dict | None, dict]:
    """(changes for update_template, {}) or (None, field errors named like the campaign form's
    first task: tasks.0.title, ...)."""
    body = _task(form, 0, timezone) or {"title": ""}
    body["version"] = _number(form.get("version"))
    try:
        return TemplateUpdateSchema().load(body), {}
    except ma.ValidationError as exc:
        errors = flatten_errors(exc.messages, "tasks.0")
        if "tasks.0.version" in errors:
            errors["form"] = errors.pop("tasks.0.version")
        return None, errors


def blank_campaign_form(timezone: ZoneInfo, now: dt.datetime) -> MultiDict:
    """A new campaign's form: starting tomorrow, two weeks long, one empty task."""
    start = (now.astimezone(timezone) + dt.timedelta(days=1)).replace(hour=9, minute=0,
                                                                      second=0, microsecond=0)
    return MultiDict([("starts_at", start.strftime(LOCAL_INPUT)),
                      ("ends_at", (start + dt.timedelta(days=14)).strftime(LOCAL_INPUT)),
                      ("tasks-0-kind", "display_setup"), ("tasks-0-photos", "1"),
                      ("tasks-0-max_claimants", "1"), ("tasks-0-due_in_hours", "48")])
