"""Schema building blocks: a strict base schema, safe text fields, pagination."""

import datetime as dt
import json
import re

import marshmallow as ma
from marshmallow import validate


class StrictSchema(ma.Schema):
    """Unknown fields are rejected (SPEC §9)."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Text(ma.fields.String):
    """A string that refuses NUL characters, which PostgreSQL cannot store, and lone UTF-16
    surrogates (JSON "\\ud800"), which no database can encode."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ma.ValidationError("NUL characters are not allowed.")
        if LONE_SURROGATE.search(text):
            raise ma.ValidationError("Not valid Unicode text (a lone surrogate).")
        return text


class Instant(ma.fields.AwareDateTime):
    """A moment with its timezone, between the years 2000 and 2200 (no overflow downstream)."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = moment.astimezone(dt.timezone.utc)
        except (OverflowError, ValueError):
            raise ma.ValidationError("Out of range.")
        if not 2000 <= in_utc.year <= 2200:
            raise ma.ValidationError("Must be between the years 2000 and 2200.")
        return moment


def finite_json(value) -> None:
    """Validator: the value serializes as strict JSON (no NaN/Infinity) and is not absurdly deep."""
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, RecursionError):
        raise ma.ValidationError("Must be plain JSON: no NaN, no Infinity, not nested that deep.")


def code_field(**kwargs) -> Text:
    """A short identifier such as a region, store or campaign code."""
    return Text(validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$",
                                         error="Use 1-40 letters, digits, '_', '-' or '.'."),
                **kwargs)


class PageQuerySchema(StrictSchema):
    """Page number and size (size at most 200)."""

    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A page envelope schema {items, page, page_size, total} around an item schema."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "page": ma.fields.Integer(),
            "page_size": ma.fields.Integer(),
            "total": ma.fields.Integer(),
        },
        name=name,
    )
