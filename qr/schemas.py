"""Schemas of QR tokens, claims and sheets."""

import marshmallow as ma
from marshmallow import validate

from backend.common.schemas import Instant, StrictSchema, Text, code_field


class TaskCodeSchema(StrictSchema):
    """How a clerk names a task to claim: the scanned QR or the typed short code, one of them
    (the claim endpoint and the offline ``claim_task`` mutation alike)."""

    qr_token = Text(validate=validate.Length(min=1, max=200),
                    metadata={"description": "The scanned QR payload (ZD1:…)"})
    short_code = Text(validate=validate.Length(min=1, max=40), metadata={
        "description": "Instead of qr_token: the short code printed under the QR, typed by hand"})

    @ma.validates_schema
    def _one_code(self, data, **_kwargs):
        if ("qr_token" in data) == ("short_code" in data):
            raise ma.ValidationError("Send either qr_token or short_code.", "qr_token")


class ClaimRequestSchema(TaskCodeSchema):
    client_id = Text(validate=validate.Length(min=1, max=64))
    scanned_at = Instant(metadata={
        "description": "When the phone scanned (recorded; never decides who wins)"})


class ClaimHolderSchema(ma.Schema):
    username = ma.fields.String()
    display_name = ma.fields.String()
    claimed_at = ma.fields.DateTime()


class ClaimedTaskSchema(ma.Schema):
    """What a scan changes; the whole task is GET /tasks/{id} (or the next sync pull)."""

    id = ma.fields.Integer()
    status = ma.fields.String()
    version = ma.fields.Integer()
    claimants = ma.fields.List(ma.fields.Nested(ClaimHolderSchema))


class ClaimResultSchema(ma.Schema):
    created = ma.fields.Boolean(metadata={"description": "false: you already held it (re-scan)"})
    username = ma.fields.String()
    claimed_at = ma.fields.DateTime()
    task = ma.fields.Nested(ClaimedTaskSchema)


class QrTokenSchema(ma.Schema):
    token = ma.fields.String()
    expires_at = ma.fields.DateTime()
    short_code = ma.fields.String(metadata={"description": "Printed under the QR; typed when a camera cannot read it"})


class SheetQuerySchema(StrictSchema):
    store = code_field(metadata={"description": "One store's page; omit for every store (PDF)"})
    format = Text(load_default="pdf", validate=validate.OneOf(["pdf", "png"]))
