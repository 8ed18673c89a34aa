"""Schemas of the analytics endpoints."""

import marshmallow as ma
from marshmallow import validate

from backend.analytics.service import GROUPS
from backend.common.schemas import Instant, StrictSchema, Text, code_field

CAMPAIGN = ma.fields.Integer(validate=validate.Range(min=1, max=2**62))


class ExecutionQuerySchema(StrictSchema):
    campaign = CAMPAIGN
    region = code_field()
    store = code_field()
    due_from = Instant(data_key="from")
    due_to = Instant(data_key="to")
    group_by = Text(load_default="region", validate=validate.OneOf(GROUPS))
    format = Text(load_default="json", validate=validate.OneOf(["json", "csv"]))


class ExecutionRowSchema(ma.Schema):
    group = ma.fields.String(allow_none=True)
    tasks = ma.fields.Integer()
    claimed = ma.fields.Integer()
    submitted = ma.fields.Integer()
    approved = ma.fields.Integer()
    overdue = ma.fields.Integer()
    completion_rate = ma.fields.Float(allow_none=True)
    on_time_rate = ma.fields.Float(allow_none=True)
    median_claim_minutes = ma.fields.Float(allow_none=True)
    deviation_rate = ma.fields.Float(allow_none=True)
    attach_rate = ma.fields.Float(allow_none=True, metadata={
        "description": "featured-SKU transactions that also hold one of its top-5 pairings, during the campaign"})
    attach_rate_before = ma.fields.Float(allow_none=True, metadata={
        "description": "the same, over the same length of time before the campaign"})
    attach_uplift = ma.fields.Float(allow_none=True, metadata={
        "description": "attach_rate / attach_rate_before - 1"})


class ExecutionSchema(ma.Schema):
    group_by = ma.fields.String()
    rows = ma.fields.List(ma.fields.Nested(ExecutionRowSchema))


class LeaderboardQuerySchema(StrictSchema):
    campaign = CAMPAIGN
    level = Text(load_default="store", validate=validate.OneOf(["store", "clerk"]))


class OverdueQuerySchema(StrictSchema):
    campaign = CAMPAIGN
