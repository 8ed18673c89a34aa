"""Schemas of campaigns, task templates, targeting and publish results."""

import marshmallow as ma
from marshmallow import validate, validates_schema

from backend.campaigns import recurrence as recurrence_rules
from backend.campaigns.models import CAMPAIGN_STATUSES, TASK_KINDS
from backend.catalog.schemas import SKU
from backend.db import utcnow
from backend.common.schemas import (Instant, PageQuerySchema, StrictSchema, Text, code_field,
                                    page_schema)
from backend.org.schemas import TAG

ITEM_ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$",
                          error="Use 1-40 letters, digits, '_' or '-'.")


class ChecklistItemSchema(StrictSchema):
    id = Text(required=True, validate=ITEM_ID)
    label = Text(required=True, validate=validate.Length(min=1, max=300))


class ProofSchema(StrictSchema):
    photos = ma.fields.Integer(load_default=0, validate=validate.Range(min=0, max=10))
    quantity = ma.fields.Boolean(load_default=False)
    observed_price = ma.fields.Boolean(load_default=False)


class TargetingSchema(StrictSchema):
    regions = ma.fields.List(code_field(), load_default=list, validate=validate.Length(max=500))
    stores = ma.fields.List(code_field(), load_default=list, validate=validate.Length(max=20000))
    tags = ma.fields.List(TAG, load_default=list, validate=validate.Length(max=50))


def _unique_checklist(checklist: list[dict]) -> None:
    ids = [item["id"] for item in checklist]
    duplicates = sorted({item_id for item_id in ids if ids.count(item_id) > 1})
    if duplicates:
        raise ma.ValidationError(f"Duplicate item ids: {', '.join(duplicates)}.", "checklist")


def recurrence_rule(value) -> None:
    """Validator: the accepted RRULE subset."""
    if value is None:
        return
    try:
        recurrence_rules.parse(value)
    except recurrence_rules.InvalidRecurrence as exc:
        raise ma.ValidationError(str(exc))


class TemplateFieldsSchema(StrictSchema):
    """The editable fields of a task template."""

    title = Text(validate=validate.Length(min=1, max=200))
    instructions = Text(validate=validate.Length(max=10000))
    kind = Text(validate=validate.OneOf(TASK_KINDS))
    checklist = ma.fields.List(ma.fields.Nested(ChecklistItemSchema), validate=validate.Length(max=50))
    proof = ma.fields.Nested(ProofSchema)
    due_at = Instant(allow_none=True)
    due_in_hours = ma.fields.Integer(allow_none=True, validate=validate.Range(min=1, max=24 * 366))
    max_claimants = ma.fields.Integer(validate=validate.Range(min=1, max=50))
    script_hint = Text(validate=validate.Length(max=2000))
    recurrence = Text(allow_none=True, validate=recurrence_rule, metadata={
        "description": "RRULE subset in each store's timezone, e.g. FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=10"})

    @validates_schema
    def _check(self, data, **_kwargs):
        if "checklist" in data:
            _unique_checklist(data["checklist"])
        if data.get("due_at") is not None and data.get("due_in_hours") is not None:
            raise ma.ValidationError("Give due_at or due_in_hours, not both.", "due_in_hours")


class TemplateCreateSchema(TemplateFieldsSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    instructions = Text(load_default="", validate=validate.Length(max=10000))
    kind = Text(load_default="other", validate=validate.OneOf(TASK_KINDS))
    checklist = ma.fields.List(ma.fields.Nested(ChecklistItemSchema), load_default=list,
                               validate=validate.Length(max=50))
    proof = ma.fields.Nested(ProofSchema, load_default=lambda: ProofSchema().load({}))
    max_claimants = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=50))
    script_hint = Text(load_default="", validate=validate.Length(max=2000))


class TemplateUpdateSchema(TemplateFieldsSchema):
    version = ma.fields.Integer(required=True, metadata={
        "description": "The template version you edited; a stale one is refused with 409."})


def _check_campaign_fields(data: dict) -> None:
    if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
        raise ma.ValidationError("ends_at must be after starts_at.", "ends_at")
    featured = set(data.get("featured_skus") or [])
    unknown = sorted(set(data.get("promo_prices") or {}) - featured) if "featured_skus" in data else []
    if unknown:
        raise ma.ValidationError(f"Not featured: {', '.join(unknown)}.", "promo_prices")


PROMO_PRICES = dict(keys=Text(**SKU), values=ma.fields.Float(
    validate=validate.Range(min=0, max=10_000_000), allow_nan=False))


class CampaignCreateSchema(StrictSchema):
    code = code_field(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(load_default="", validate=validate.Length(max=20000))
    starts_at = Instant(required=True)
    ends_at = Instant(required=True)
    featured_skus = ma.fields.List(Text(**SKU), load_default=list, validate=validate.Length(max=50))
    promo_prices = ma.fields.Dict(load_default=dict, **PROMO_PRICES)
    targeting = ma.fields.Nested(TargetingSchema, load_default=lambda: TargetingSchema().load({}))
    tasks = ma.fields.List(ma.fields.Nested(TemplateCreateSchema), load_default=list,
                           validate=validate.Length(max=20))

    @validates_schema
    def _check(self, data, **_kwargs):
        _check_campaign_fields(data)


class CampaignUpdateSchema(StrictSchema):
    version = ma.fields.Integer(required=True, metadata={
        "description": "The campaign version you edited; a stale one is refused with 409."})
    title = Text(validate=validate.Length(min=1, max=200))
    description = Text(validate=validate.Length(max=20000))
    starts_at = Instant()
    ends_at = Instant()
    featured_skus = ma.fields.List(Text(**SKU), validate=validate.Length(max=50))
    promo_prices = ma.fields.Dict(**PROMO_PRICES)
    targeting = ma.fields.Nested(TargetingSchema)
    tasks = ma.fields.List(ma.fields.Nested(TemplateCreateSchema), validate=validate.Length(max=20))

    @validates_schema
    def _check(self, data, **_kwargs):
        _check_campaign_fields(data)


class TemplateSchema(ma.Schema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    instructions = ma.fields.String()
    kind = ma.fields.String()
    checklist = ma.fields.List(ma.fields.Dict())
    proof = ma.fields.Dict()
    due_at = ma.fields.DateTime(allow_none=True)
    due_in_hours = ma.fields.Integer(attribute="due_offset_hours", allow_none=True)
    max_claimants = ma.fields.Integer()
    script_hint = ma.fields.String()
    version = ma.fields.Integer()
    recurrence = ma.fields.String(allow_none=True)
    recurrence_of_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "set on an occurrence of a recurring template"})
    occurrence = ma.fields.String(allow_none=True, metadata={"description": "local wall time, YYYY-MM-DDTHH:MM"})
    store_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "set for a store-specific task (CSV import): only this store gets it"})


class CampaignSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    status = ma.fields.Method("_status")
    featured_skus = ma.fields.List(ma.fields.String())
    promo_prices = ma.fields.Dict()
    targeting = ma.fields.Dict()
    version = ma.fields.Integer()
    published_at = ma.fields.DateTime(allow_none=True)
    tasks = ma.fields.List(ma.fields.Nested(TemplateSchema), attribute="templates")

    def _status(self, campaign):
        return campaign.effective_status(utcnow())


class CampaignQuerySchema(PageQuerySchema):
    status = Text(validate=validate.OneOf(CAMPAIGN_STATUSES))


class TargetingPreviewSchema(StrictSchema):
    targeting = ma.fields.Nested(TargetingSchema, required=True)


class TargetingCountSchema(ma.Schema):
    stores = ma.fields.Integer()
    tasks = ma.fields.Integer(metadata={"description": "stores × templates (campaign preview)"})
    by_region = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class PublishResultSchema(ma.Schema):
    stores = ma.fields.Integer()
    tasks_created = ma.fields.Integer()
    status = ma.fields.String()


class CampaignStateChangeSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    tasks_cancelled = ma.fields.Integer()


class ReasonSchema(StrictSchema):
    reason = Text(load_default="", validate=validate.Length(max=1000))


CampaignPageSchema = page_schema(CampaignSchema, "CampaignPage")


class TaskImportResultSchema(ma.Schema):
    lines = ma.fields.Integer()
    added = ma.fields.Integer(metadata={"description": "new store-specific tasks of the campaign"})
    existing = ma.fields.Integer(metadata={"description": "lines imported before (same store and title)"})
    tasks_created = ma.fields.Integer(metadata={"description": "store tasks created now (published campaign)"})
