"""Schemas of the pairings endpoint."""

import marshmallow as ma
from marshmallow import validate

from backend.common.schemas import StrictSchema


class PairingsQuerySchema(StrictSchema):
    k = ma.fields.Integer(load_default=5, validate=validate.Range(min=1, max=10))


class PairingSchema(ma.Schema):
    sku = ma.fields.String()
    name = ma.fields.String()
    score = ma.fields.Float()
    support = ma.fields.Integer(metadata={"description": "transactions holding both products"})
    source = ma.fields.String(metadata={"description": "learned | category (fallback)"})


class PairingsSchema(ma.Schema):
    sku = ma.fields.String()
    pairings = ma.fields.List(ma.fields.Nested(PairingSchema))


class ScriptsQuerySchema(StrictSchema):
    sku = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    locale = ma.fields.String(validate=validate.OneOf(["zh-CN", "en"]))


class RankedScriptSchema(ma.Schema):
    id = ma.fields.Integer()
    text = ma.fields.String()
    source = ma.fields.String()
    score = ma.fields.Float(metadata={"description": "this request's Thompson draw (the ranking)"})
    mean = ma.fields.Float(metadata={"description": "posterior mean conversion rate"})
    uses = ma.fields.Integer()
    conversions = ma.fields.Integer()


class FeedbackSchema(StrictSchema):
    outcome = ma.fields.String(required=True, validate=validate.OneOf(["used", "converted", "dismissed"]),
                               metadata={"description": (
                                   "'used' every time the script is tried on a customer, then also "
                                   "'converted' when that customer buys; 'dismissed' when the clerk "
                                   "rejects it unused. Unconverted uses = used - converted.")})


class FeedbackResultSchema(ma.Schema):
    id = ma.fields.Integer()
    uses = ma.fields.Integer()
    conversions = ma.fields.Integer()
    dismissals = ma.fields.Integer()


class PairingRuleSchema(StrictSchema):
    sku = ma.fields.String(required=True, validate=validate.Length(min=1, max=64),
                           metadata={"description": "the partner to pin or ban"})
