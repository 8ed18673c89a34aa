"""Forms of the master data pages (regions, stores, users): HTML fields to the API's bodies,
loaded by the API's own schemas, so a form accepts exactly what the API accepts."""

from __future__ import annotations

import marshmallow as ma
from werkzeug.datastructures import MultiDict

from backend.console.forms import _words, flatten_errors
from backend.org.schemas import (RegionSchema, StoreCreateSchema, StoreUpdateSchema,
                                 UserCreateSchema, UserUpdateSchema)

MAX_TEXT = 400  # longer than any field allows: the schema names the excess, nothing larger is kept


def _text(form: MultiDict, name: str) -> str:
    return form.get(name, "").strip()[:MAX_TEXT]


def _load(schema: ma.Schema, body: dict) -> tuple[dict | None, dict]:
    try:
        return schema.load(body), {}
    except ma.ValidationError as exc:
        return None, flatten_errors(exc.messages)


def load_region(form: MultiDict) -> tuple[dict | None, dict]:
    """A new region: code and name."""
    return _load(RegionSchema(), {"code": _text(form, "code"), "name": _text(form, "name")})


def load_new_store(form: MultiDict) -> tuple[dict | None, dict]:
    """A new store: code, name, region, tags, timezone."""
    return _load(StoreCreateSchema(), {
        "code": _text(form, "code"), "name": _text(form, "name"), "region": _text(form, "region"),
        "tags": _words(_text(form, "tags")), "timezone": _text(form, "timezone") or "Asia/Shanghai"})


def load_store_changes(form: MultiDict) -> tuple[dict | None, dict]:
    """A store's new name, region, tags and timezone."""
    return _load(StoreUpdateSchema(), {
        "name": _text(form, "name"), "region": _text(form, "region"),
        "tags": _words(_text(form, "tags")), "timezone": _text(form, "timezone")})


def _binding(form: MultiDict, role: str) -> dict:
    """Clerks name a store, supervisors tick regions, HQ neither (the service checks the rest)."""
    if role == "clerk":
        return {"store": _text(form, "store") or None, "regions": []}
    if role == "supervisor":
        return {"store": None, "regions": form.getlist("regions")}
    return {"store": None, "regions": []}


def load_new_user(form: MultiDict) -> tuple[dict | None, dict]:
    """A new user with a role, a first password, and a store or regions by role."""
    role = _text(form, "role")
    return _load(UserCreateSchema(), {
        "username": _text(form, "username"), "display_name": _text(form, "display_name"),
        "password": form.get("password", "")[:MAX_TEXT], "role": role,
        "locale": _text(form, "locale") or "zh-CN", **_binding(form, role)})


def load_user_changes(form: MultiDict, role: str) -> tuple[dict | None, dict]:
    """A user's new name, language, role (the current one when the form has none), binding for
    that role, active flag and (when typed) password."""
    role = _text(form, "role") or role
    body = {"display_name": _text(form, "display_name"), "locale": _text(form, "locale"),
            "role": role, "active": form.get("active") == "on", **_binding(form, role)}
    if form.get("password"):
        body["password"] = form.get("password", "")[:MAX_TEXT]
    return _load(UserUpdateSchema(), body)


def store_form(store) -> MultiDict:
    """The edit form's fields of a saved store."""
    return MultiDict({"name": store.name, "region": store.region.code,
                      "tags": ", ".join(store.tags), "timezone": store.timezone})


def user_form(user) -> MultiDict:
    """The edit form's fields of a saved user."""
    fields = [("display_name", user.display_name), ("locale", user.locale), ("role", user.role),
              ("store", user.store.code if user.store else "")]
    fields += [("regions", region.code) for region in user.regions]
    if user.active:
        fields.append(("active", "on"))
    return MultiDict(fields)
