"""Schemas of devices and the inbox."""

import marshmallow as ma
from marshmallow import validate

from backend.common.schemas import PageQuerySchema, StrictSchema, Text, page_schema
from notifications.models import PLATFORMS, TOKEN_KINDS


class DeviceSchema(StrictSchema):
    client_id = Text(required=True, validate=validate.Length(min=8, max=64))
    platform = ma.fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    push_token = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=4096),
                      metadata={"description": "FCM registration token or Firebase installation id; "
                                               "null keeps the device for sync only"})
    token_kind = ma.fields.String(load_default=None, allow_none=True, validate=validate.OneOf(TOKEN_KINDS),
                                  metadata={"description": "omitted: inferred from the token's shape"})
    locale = ma.fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["zh-CN", "en"]))
    app_version = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=40),
                       metadata={"description": "the app's version, e.g. 2.3.0 (support and rollout)"})


class DeviceOutSchema(ma.Schema):
    client_id = ma.fields.String()
    platform = ma.fields.String()
    token_kind = ma.fields.String()
    has_push_token = ma.fields.Function(lambda device: device.push_token is not None)
    locale = ma.fields.String()
    app_version = ma.fields.String(allow_none=True)
    updated_at = ma.fields.DateTime()


class NotificationSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String()
    task_id = ma.fields.Integer(allow_none=True)
    campaign_id = ma.fields.Integer(allow_none=True)
    deep_link = ma.fields.String()
    script = ma.fields.String(metadata={"description": "the top-ranked sales script, trimmed"})
    script_id = ma.fields.Integer(allow_none=True)
    pairing_skus = ma.fields.List(ma.fields.String())
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)


class InboxQuerySchema(PageQuerySchema):
    unread = ma.fields.Boolean(load_default=None, allow_none=True)
    locale = ma.fields.String(load_default=None, validate=validate.OneOf(["zh-CN", "en"]))


InboxPageSchema = page_schema(NotificationSchema, "InboxPage")
