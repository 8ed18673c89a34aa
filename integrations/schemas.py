"""Schemas of webhook endpoints and deliveries."""

import marshmallow as ma
from marshmallow import validate

from backend.common.schemas import PageQuerySchema, StrictSchema, Text, page_schema
from integrations.models import DELIVERY_STATES, EVENT_TYPES


class EndpointInSchema(StrictSchema):
    url = Text(required=True, validate=validate.Length(min=8, max=2000))
    events = ma.fields.List(ma.fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True,
                            validate=validate.Length(min=1, max=len(EVENT_TYPES)))
    description = Text(load_default="", validate=validate.Length(max=500))


class EndpointUpdateSchema(StrictSchema):
    active = ma.fields.Boolean(required=True, metadata={"description": "false disables the endpoint, true "
                                                                       "enables it again"})


class EndpointSchema(ma.Schema):
    id = ma.fields.Integer()
    url = ma.fields.String()
    events = ma.fields.List(ma.fields.String())
    description = ma.fields.String()
    active = ma.fields.Boolean()
    disabled_reason = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class EndpointCreatedSchema(EndpointSchema):
    secret = ma.fields.String(metadata={"description": "the signing secret, shown only in this answer"})


class AttemptSchema(ma.Schema):
    at = ma.fields.DateTime()
    status = ma.fields.Integer(allow_none=True)
    error = ma.fields.String(allow_none=True)
    duration_ms = ma.fields.Integer()


class DeliverySchema(ma.Schema):
    id = ma.fields.Integer()
    event_id = ma.fields.String()
    type = ma.fields.String()
    state = ma.fields.String()
    attempts = ma.fields.Integer()
    last_status = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    next_attempt_at = ma.fields.DateTime(allow_none=True)
    delivered_at = ma.fields.DateTime(allow_none=True)
    log = ma.fields.List(ma.fields.Nested(AttemptSchema))


class DeliveryQuerySchema(PageQuerySchema):
    state = ma.fields.String(load_default=None, validate=validate.OneOf(DELIVERY_STATES))


DeliveryPageSchema = page_schema(DeliverySchema, "WebhookDeliveryPage")
