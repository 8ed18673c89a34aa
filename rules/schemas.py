"""Schemas of rules: the envelope is checked here, trigger/condition/action by rules/definition.py."""

import marshmallow as ma
from marshmallow import validate

from backend.common.schemas import StrictSchema, Text, finite_json


class RuleInSchema(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    trigger = ma.fields.Dict(required=True, validate=finite_json)
    condition = ma.fields.Dict(load_default=dict, validate=finite_json)
    action = ma.fields.Dict(required=True, validate=finite_json)
    variant_share = ma.fields.Float(load_default=1.0, validate=validate.Range(min=0, max=1),
                                    metadata={"description": "share of stores in the treatment arm (0–1)"})


class RuleUpdateSchema(StrictSchema):
    name = Text(validate=validate.Length(min=1, max=200))
    trigger = ma.fields.Dict(validate=finite_json)
    condition = ma.fields.Dict(validate=finite_json)
    action = ma.fields.Dict(validate=finite_json)
    variant_share = ma.fields.Float(validate=validate.Range(min=0, max=1))
    active = ma.fields.Boolean()


class RuleSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    trigger = ma.fields.Dict()
    condition = ma.fields.Dict()
    action = ma.fields.Dict()
    variant_share = ma.fields.Float()
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class DryRunQuerySchema(StrictSchema):
    lookback_hours = ma.fields.Float(load_default=72, validate=validate.Range(min=1, max=24 * 60))


class WouldFireSchema(ma.Schema):
    task_id = ma.fields.Integer(allow_none=True, metadata={"description": "null for a store-metric firing"})
    store_code = ma.fields.String()
    campaign_id = ma.fields.Integer()
    subject = ma.fields.String(metadata={"description": "task:<id>, or campaign:<id>:store:<id>"})
    period = ma.fields.String(metadata={"description": "a firing happens once per (rule, subject, period)"})
    arm = ma.fields.String()
    action = ma.fields.String()
    value = ma.fields.String(allow_none=True, metadata={"description": "the store metric, for store triggers"})


class DryRunSchema(ma.Schema):
    rule_id = ma.fields.Integer()
    at = ma.fields.DateTime()
    would_fire = ma.fields.List(ma.fields.Nested(WouldFireSchema))


class EffectQuerySchema(StrictSchema):
    hours = ma.fields.Float(load_default=24, validate=validate.Range(min=1, max=24 * 60))


class ArmSchema(ma.Schema):
    firings = ma.fields.Integer()
    completed = ma.fields.Integer()
    rate = ma.fields.Float(allow_none=True)


class EffectSchema(ma.Schema):
    rule_id = ma.fields.Integer()
    hours = ma.fields.Float()
    outcome = ma.fields.String()
    arms = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(ArmSchema))
    difference = ma.fields.Float(allow_none=True, metadata={"description": "treatment rate − control rate"})
    ci95 = ma.fields.List(ma.fields.Float(), allow_none=True)
    method = ma.fields.String()
