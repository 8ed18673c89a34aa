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


class HeldBySchema(ma.Schema):
    """One claimant of a task a claim lost to."""

    username = ma.fields.String(required=True)
    claimed_at = ma.fields.String(required=True)


class ErrorSchema(ma.Schema):
    """Every error answer (SPEC §9): the stable code, a sentence, per-field errors, details.

    `details` holds what a particular error adds about the entity (as a sync rejection's does);
    the same entries also stand at the top level, where their names are declared below.
    """

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status name"})
    error = ma.fields.String(required=True, metadata={"description": "Stable machine code"})
    message = ma.fields.String(required=True, metadata={"description": "Human sentence"})
    errors = ma.fields.Dict(required=True, metadata={
        "description": "Messages per field ({} when none)"})
    details = ma.fields.Dict(required=True, metadata={
        "description": "What this error adds about the entity ({} when nothing)"})
    held_by = ma.fields.List(ma.fields.Nested(HeldBySchema),
                             metadata={"description": "task_already_claimed: the claimants"})
    since = ma.fields.String(allow_none=True,
                             metadata={"description": "task_already_claimed: first claim time"})
    current_status = ma.fields.String(metadata={"description": "The entity's status that refused"})
    campaign_status = ma.fields.String(metadata={"description": "The campaign's status"})
    current_version = ma.fields.Integer(metadata={"description": "version_conflict: the version now"})
    last_mutation_id = ma.fields.Integer(metadata={"description": "mutation_gap: the last applied"})
    store = ma.fields.String(metadata={"description": "wrong_store: the task's store"})
    scopes = ma.fields.List(ma.fields.String(),
                            metadata={"description": "forbidden_scope: the API key's scopes"})
    reason = ma.fields.String(allow_none=True,
                              metadata={"description": "endpoint_disabled: why it was disabled"})
    script_id = ma.fields.Integer(metadata={"description": "The script concerned"})
    script_status = ma.fields.String(metadata={"description": "The script's status"})
    retry_after = ma.fields.Integer(metadata={"description": "rate_limited: seconds to wait"})
    expired_at = ma.fields.String(metadata={"description": "qr_expired: when the code expired"})


def line_problems(exc: ma.ValidationError) -> list[str]:
    """A CSV line's schema errors as sentences naming their field ("price: Not a valid number."),
    the shape every import reports per line (and the console translates)."""
    return [f"{field}: {'; '.join(map(str, messages))}"
            for field, messages in exc.normalized_messages().items()]
