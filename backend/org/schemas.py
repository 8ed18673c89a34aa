"""Schemas of regions, stores and users."""

import functools
import zoneinfo

import marshmallow as ma
from marshmallow import validate

from backend.common.schemas import PageQuerySchema, StrictSchema, Text, code_field, page_schema
from backend.org.models import LOCALES, ROLES


@functools.cache
def _timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _valid_timezone(name: str) -> None:
    """Only names of the tz database: a directory of it (``America``) or a path is none."""
    if name not in _timezone_names():
        raise ma.ValidationError("Not an IANA timezone name (e.g. Asia/Shanghai).")


TAG = Text(validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,39}$",
                                    error="Tags are 1-40 lowercase letters, digits, '_' or '-'."))


class RegionSchema(StrictSchema):
    code = code_field(required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))


class StoreCreateSchema(StrictSchema):
    code = code_field(required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    region = code_field(required=True)
    tags = ma.fields.List(TAG, load_default=list, validate=validate.Length(max=20))
    timezone = Text(load_default="Asia/Shanghai", validate=_valid_timezone)
    lat = ma.fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))


class StoreUpdateSchema(StrictSchema):
    name = Text(validate=validate.Length(min=1, max=200))
    region = code_field()
    tags = ma.fields.List(TAG, validate=validate.Length(max=20))
    timezone = Text(validate=_valid_timezone)
    lat = ma.fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))


class StoreSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    region = ma.fields.Function(lambda store: store.region.code)
    tags = ma.fields.List(ma.fields.String())
    timezone = ma.fields.String()
    lat = ma.fields.Float(allow_none=True)
    lng = ma.fields.Float(allow_none=True)


class StoreQuerySchema(PageQuerySchema):
    region = code_field()
    tag = Text(validate=validate.Length(max=40))


class UserCreateSchema(StrictSchema):
    username = Text(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_.@-]{3,80}$", error="Use 3-80 letters, digits, '_', '.', '@' or '-'."))
    password = Text(required=True, validate=validate.Length(min=8, max=256))
    display_name = Text(required=True, validate=validate.Length(min=1, max=200))
    role = Text(required=True, validate=validate.OneOf(ROLES))
    locale = Text(load_default="zh-CN", validate=validate.OneOf(LOCALES))
    store = code_field(allow_none=True)
    regions = ma.fields.List(code_field(), load_default=list, validate=validate.Length(max=50))


class UserUpdateSchema(StrictSchema):
    password = Text(validate=validate.Length(min=8, max=256))
    display_name = Text(validate=validate.Length(min=1, max=200))
    role = Text(validate=validate.OneOf(ROLES))
    locale = Text(validate=validate.OneOf(LOCALES))
    store = code_field(allow_none=True)
    regions = ma.fields.List(code_field(), validate=validate.Length(max=50))
    active = ma.fields.Boolean()


class UserSchema(ma.Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    display_name = ma.fields.String()
    role = ma.fields.String()
    locale = ma.fields.String()
    store = ma.fields.Function(lambda user: user.store.code if user.store else None)
    regions = ma.fields.Function(lambda user: [region.code for region in user.regions])
    active = ma.fields.Boolean()


class UserQuerySchema(PageQuerySchema):
    role = Text(validate=validate.OneOf(ROLES))
    store = code_field()


StorePageSchema = page_schema(StoreSchema, "StorePage")
UserPageSchema = page_schema(UserSchema, "UserPage")
