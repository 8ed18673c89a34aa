"""Schemas of the pairings and scripts endpoints."""

import marshmallow as ma
from marshmallow import validate

from backend.common.schemas import StrictSchema, Text
from recommend.scripts import LOCALES, MAX_LENGTH


class PairingsQuerySchema(StrictSchema):
    k = ma.fields.Integer(load_default=5, validate=validate.Range(min=1, max=50))


class PairingSchema(ma.Schema):
    sku = ma.fields.String()
    name = ma.fields.String()
    score = ma.fields.Float(allow_none=True, metadata={
        "description": "the model's score (null for pins); fill-ups score below what they follow"})
    support = ma.fields.Integer(allow_none=True, metadata={
        "description": "receipts holding both products (0 for fill-ups, null for pins)"})
    source = ma.fields.String(metadata={"description": (
        "pinned (by HQ) | learned (from this product's receipts) | category (what its category "
        "sells with) | popular (best-sellers): a short list is filled up from the next source")})


class PairingsSchema(ma.Schema):
    sku = ma.fields.String()
    pairings = ma.fields.List(ma.fields.Nested(PairingSchema))


class ScriptsQuerySchema(StrictSchema):
    sku = Text(validate=validate.Length(min=1, max=64),
               metadata={"description": "required for the ranked list (no status)"})
    locale = Text(validate=validate.OneOf(LOCALES),
                  metadata={"description": "ranked list: default the user's locale"})
    campaign = ma.fields.Integer(validate=validate.Range(min=1, max=2**62), metadata={
        "description": "ranked list: general scripts plus this campaign's (default: running campaigns')"})
    status = Text(validate=validate.OneOf(["pending", "rejected"]), metadata={
        "description": "the moderation queue instead of the ranked list: HQ sees all, a supervisor "
                       "their regions' clerks' scripts, a clerk their own"})
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))

    @ma.validates_schema
    def _sku_for_ranking(self, data, **kwargs):
        if not data.get("status") and not data.get("sku"):
            raise ma.ValidationError("Give a sku (ranked list) or a status (queue).", "sku")


class ScriptSchema(ma.Schema):
    id = ma.fields.Integer()
    sku = ma.fields.String()
    campaign_id = ma.fields.Integer(allow_none=True)
    locale = ma.fields.String()
    text = ma.fields.String()
    source = ma.fields.String(metadata={"description": "hq | clerk | llm | generated (templates)"})
    status = ma.fields.String(metadata={"description": "approved | pending | rejected"})
    score = ma.fields.Float(metadata={"description": "ranked list: this request's Thompson draw"})
    mean = ma.fields.Float(metadata={"description": "ranked list: posterior mean conversion rate"})
    uses = ma.fields.Integer()
    conversions = ma.fields.Integer()
    author = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    moderated_by = ma.fields.String(allow_none=True)
    moderated_at = ma.fields.DateTime(allow_none=True)
    comment = ma.fields.String(allow_none=True, metadata={"description": "the moderator's"})


class NewScriptSchema(StrictSchema):
    sku = Text(required=True, validate=validate.Length(min=1, max=64))
    campaign = ma.fields.Integer(validate=validate.Range(min=1, max=2**62),
                                 metadata={"description": "a campaign featuring the product"})
    locale = Text(required=True, validate=validate.OneOf(LOCALES))
    text = Text(required=True, validate=validate.Length(min=1, max=MAX_LENGTH))


class ModerationSchema(StrictSchema):
    decision = Text(required=True, validate=validate.OneOf(["approve", "reject"]))
    comment = Text(load_default="", validate=validate.Length(max=1000),
                   metadata={"description": "required to reject"})


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
