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
