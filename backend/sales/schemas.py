"""Schemas of the sales import."""

import marshmallow as ma


class SalesImportResultSchema(ma.Schema):
    lines = ma.fields.Integer()
    imported = ma.fields.Integer()
    duplicates = ma.fields.Integer(metadata={
        "description": "already imported, or repeated in the file (same store, transaction and SKU)"})
    rejected = ma.fields.Integer()
    unknown_stores = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    unknown_skus = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    errors = ma.fields.Dict(metadata={"description": "the first 100 rejected lines: 'line N' → reasons"})
