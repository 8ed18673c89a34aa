"""API keys (SPEC §13), HQ only: issue (the key shown once), list, revoke."""

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate

from backend import db
from backend.auth import api_keys
from backend.auth.policy import HQ, allow, current_user
from backend.common.schemas import StrictSchema, Text

blp = Blueprint("api_keys", __name__, url_prefix="/api/v1", description="API keys for machine clients")


class ApiKeyInSchema(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    scopes = ma.fields.List(ma.fields.String(validate=validate.OneOf(api_keys.SCOPES)), required=True,
                            validate=validate.Length(min=1, max=len(api_keys.SCOPES)))


class ApiKeySchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "the key's first characters, to tell keys apart"})
    scopes = ma.fields.List(ma.fields.String())
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    key = ma.fields.String(metadata={"description": "send as 'Authorization: Bearer <key>'; shown only here"})


@blp.route("/api-keys")
class ApiKeyViews(MethodView):
    @allow(HQ)
    @blp.response(200, ApiKeySchema(many=True))
    def get(self):
        """Issued API keys (never the keys themselves)"""
        return api_keys.list_keys(session=db.session())

    @allow(HQ)
    @blp.arguments(ApiKeyInSchema)
    @blp.response(201, ApiKeyCreatedSchema)
    def post(self, body):
        """Issue an API key with scopes (the key is shown only in this answer)"""
        return api_keys.create(session=db.session(), actor=current_user(), **body)


@blp.route("/api-keys/<int:key_id>")
class ApiKeyByIdViews(MethodView):
    @allow(HQ)
    @blp.response(204)
    def delete(self, key_id):
        """Revoke an API key"""
        api_keys.revoke(session=db.session(), key_id=key_id)
