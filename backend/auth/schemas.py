"""Request and response schemas of the auth endpoints."""

import marshmallow as ma
from marshmallow import validate

from backend.common.schemas import StrictSchema, Text
from backend.org.schemas import UserSchema


class LoginSchema(StrictSchema):
    username = Text(required=True, validate=validate.Length(min=1, max=80))
    password = Text(required=True, validate=validate.Length(min=1, max=256))


class RefreshSchema(StrictSchema):
    refresh_token = Text(required=True, validate=validate.Length(min=1, max=200))


class TokenSchema(ma.Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer()
    user = ma.fields.Nested(UserSchema)
