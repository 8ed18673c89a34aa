"""Schemas of store tasks (the shape sync pull sends too) and lifecycle requests."""

import marshmallow as ma
from marshmallow import validate

from backend.catalog.schemas import SKU
from backend.common.schemas import PageQuerySchema, StrictSchema, Text, code_field, page_schema
from backend.db import utcnow
from backend.tasks.models import TASK_STATUSES

SHA256_FIELD = Text(validate=validate.Regexp(r"^[0-9a-f]{64}$", error="Not a SHA-256 hex digest."))


class ClaimantSchema(ma.Schema):
    username = ma.fields.Function(lambda claim: claim.user.username)
    display_name = ma.fields.Function(lambda claim: claim.user.display_name)
    claimed_at = ma.fields.DateTime()


class PhotoSchema(ma.Schema):
    sha256 = ma.fields.String()
    by = ma.fields.Function(lambda photo: photo.added_by.username)
    at = ma.fields.DateTime(attribute="added_at")


class EventSchema(ma.Schema):
    id = ma.fields.Integer()
    action = ma.fields.String()
    by = ma.fields.Function(lambda event: event.user.username if event.user else None)
    client_id = ma.fields.String(allow_none=True)
    server_time = ma.fields.DateTime()
    client_time = ma.fields.DateTime(allow_none=True)
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)


class StoreTaskSchema(ma.Schema):
    """One store task as clerks, supervisors and the sync protocol see it."""

    id = ma.fields.Integer()
    campaign_id = ma.fields.Integer()
    campaign = ma.fields.Method("_campaign")
    template_id = ma.fields.Integer()
    template_version = ma.fields.Integer()
    store = ma.fields.Function(lambda task: task.store.code)
    title = ma.fields.Function(lambda task: task.template.title)
    instructions = ma.fields.Function(lambda task: task.template.instructions)
    kind = ma.fields.Function(lambda task: task.template.kind)
    script_hint = ma.fields.Function(lambda task: task.template.script_hint)
    proof = ma.fields.Function(lambda task: task.template.proof)
    status = ma.fields.String()
    due_at = ma.fields.DateTime(allow_none=True)
    overdue = ma.fields.Function(lambda task: task.is_overdue(utcnow()))
    max_claimants = ma.fields.Integer()
    claimants = ma.fields.List(ma.fields.Nested(ClaimantSchema), attribute="claims")
    checklist = ma.fields.Method("_checklist")
    sales = ma.fields.Dict()
    quantity = ma.fields.Integer(allow_none=True)
    observed_prices = ma.fields.Dict()
    notes = ma.fields.List(ma.fields.Dict())
    photos = ma.fields.List(ma.fields.Nested(PhotoSchema))
    review = ma.fields.Dict(allow_none=True)
    submitted_at = ma.fields.DateTime(allow_none=True)
    late = ma.fields.Boolean()
    submitted_after_cancel = ma.fields.Boolean()
    instructions_changed = ma.fields.Boolean()
    version = ma.fields.Integer()
    updated_at = ma.fields.DateTime()

    def _campaign(self, task):
        campaign = task.campaign
        return {"id": campaign.id, "code": campaign.code, "title": campaign.title,
                "status": campaign.effective_status(utcnow()), "ends_at": campaign.ends_at.isoformat(),
                "featured_skus": campaign.featured_skus, "promo_prices": campaign.promo_prices}

    def _checklist(self, task):
        """Every item of the current template, in order, with who ticked it and when."""
        state = task.checklist_state
        return {item["id"]: {"label": item["label"],
                             "done": bool(state.get(item["id"], {}).get("done")),
                             "by": state.get(item["id"], {}).get("by"),
                             "at": state.get(item["id"], {}).get("at")}
                for item in task.template.checklist}


class StoreTaskDetailSchema(StoreTaskSchema):
    """The task plus what only the detail carries (not sent by sync pull)."""

    history = ma.fields.List(ma.fields.Nested(EventSchema), allow_none=True)
    recommendations = ma.fields.List(ma.fields.Dict(), metadata={"description": (
        "per featured product of the campaign, in the viewer's locale (Accept-Language, else the "
        "user's): {sku, name, pairings: [{sku, name}] (≤ 3), script: {id, text, source} | null}")})

    def dump(self, obj, **kwargs):
        body = super().dump(obj["task"], **kwargs)
        if obj["history"] is not None:
            body["history"] = EventSchema(many=True).dump(obj["history"])
        body.update(obj.get("sections") or {})
        return body


class TaskQuerySchema(PageQuerySchema):
    campaign = ma.fields.Integer(validate=validate.Range(min=1, max=2**62))
    store = code_field()
    status = Text(validate=validate.OneOf(TASK_STATUSES))
    overdue = ma.fields.Boolean()


class TaskDetailQuerySchema(StrictSchema):
    include = Text(validate=validate.OneOf(["history"]))


class AssignSchema(StrictSchema):
    username = Text(required=True, validate=validate.Length(min=1, max=80))


class UnclaimSchema(StrictSchema):
    username = Text(validate=validate.Length(min=1, max=80),
                    metadata={"description": "HQ/supervisor: the claimant to remove"})


class SubmitSchema(StrictSchema):
    checklist = ma.fields.Dict(keys=Text(validate=validate.Length(max=40)),
                               values=ma.fields.Boolean(), load_default=dict,
                               validate=validate.Length(max=50))
    photos = ma.fields.List(SHA256_FIELD, load_default=list, validate=validate.Length(max=20))
    quantity = ma.fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1_000_000))
    observed_prices = ma.fields.Dict(keys=Text(**SKU), values=ma.fields.Float(
        validate=validate.Range(min=0, max=10_000_000), allow_nan=False), load_default=dict,
        validate=validate.Length(max=50))
    note = Text(validate=validate.Length(max=4000))


class ReviewSchema(StrictSchema):
    decision = Text(required=True, validate=validate.OneOf(["approve", "reject"]))
    comment = Text(load_default="", validate=validate.Length(max=4000))


class CancelSchema(StrictSchema):
    reason = Text(load_default="", validate=validate.Length(max=1000))


class BlobSchema(ma.Schema):
    sha256 = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer()


StoreTaskPageSchema = page_schema(StoreTaskSchema, "StoreTaskPage")
