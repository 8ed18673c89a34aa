"""Schemas of products and product import."""

import marshmallow as ma
from marshmallow import validate

from backend.common.schemas import PageQuerySchema, StrictSchema, Text, finite_json, page_schema

SKU = dict(validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                                    error="Use 1-64 letters, digits, '_', '-' or '.'."))
# The bounds are restated as metadata: apispec would publish them as the field serializes
# them, a Decimal, which JSON writes as the strings "0.00" and "10000000.00".
PRICE = dict(places=2, as_string=False, validate=validate.Range(min=0, max=10_000_000),
             metadata={"minimum": 0, "maximum": 10_000_000})


class ProductCreateSchema(StrictSchema):
    sku = Text(required=True, **SKU)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    category = Text(required=True, validate=validate.Length(min=1, max=100))
    brand = Text(load_default="", validate=validate.Length(max=100))
    price = ma.fields.Decimal(required=True, **PRICE)
    attributes = ma.fields.Dict(keys=ma.fields.String(validate=validate.Length(max=100)),
                                load_default=dict, validate=finite_json)


class ProductUpdateSchema(StrictSchema):
    name = Text(validate=validate.Length(min=1, max=200))
    category = Text(validate=validate.Length(min=1, max=100))
    brand = Text(validate=validate.Length(max=100))
    price = ma.fields.Decimal(**PRICE)
    attributes = ma.fields.Dict(keys=ma.fields.String(validate=validate.Length(max=100)),
                                validate=finite_json)


class ProductSchema(ma.Schema):
    id = ma.fields.Integer()
    sku = ma.fields.String()
    name = ma.fields.String()
    category = ma.fields.String()
    brand = ma.fields.String()
    price = ma.fields.Float()
    attributes = ma.fields.Dict()


class ProductQuerySchema(PageQuerySchema):
    category = Text(validate=validate.Length(max=100))
    brand = Text(validate=validate.Length(max=100))
    q = Text(validate=validate.Length(max=100))


class ImportResultSchema(ma.Schema):
    imported = ma.fields.Integer()
    created = ma.fields.Integer()
    updated = ma.fields.Integer()


ProductPageSchema = page_schema(ProductSchema, "ProductPage")
