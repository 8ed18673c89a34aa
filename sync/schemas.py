"""Schemas of the sync protocol (SPEC §5): push, pull, and the arguments of each mutation."""

import marshmallow as ma
from marshmallow import validate

from backend.catalog.schemas import SKU
from backend.common.schemas import LONE_SURROGATE, Instant, StrictSchema, Text
from backend.errors import PayloadTooLarge
from qr.schemas import TaskCodeSchema

MAX_MUTATIONS = 500
ID = dict(required=True, validate=validate.Range(min=1, max=2**62))
CLIENT_ID = Text(required=True, validate=validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,63}$", error="Use the app's install UUID (8-64 characters)."))


class MutationEnvelopeSchema(ma.Schema):
    """A queued mutation as the push envelope checks it: only its id, which orders the queue.
    Whatever else it holds is the mutation's own business — a bad name, bad arguments or an
    unknown field become a stored rejection of that mutation (``MutationSchema``), never a
    refused push that would block the phone's queue."""

    class Meta:
        unknown = ma.INCLUDE

    id = ma.fields.Integer(**ID)
    name = ma.fields.Raw(metadata={"description": "the mutation's name (string)"})
    args = ma.fields.Raw(metadata={"description": "its arguments (object)"})
    client_time = ma.fields.Raw(allow_none=True, metadata={
        "description": "when the edit happened on the phone (ISO 8601 with timezone)"})


class MutationList(ma.fields.List):
    """The push's list of mutations: a list of objects with integer ids in range is taken as it
    is (what the nested envelope schema would load); anything else goes through it."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list and all(
                type(m) is dict and type(m.get("id")) is int and 1 <= m["id"] <= 2**62
                and m.get("name", "") is not None and m.get("args", "") is not None for m in value):
            return [dict(m) for m in value]
        return super()._deserialize(value, attr, data, **kwargs)


class MutationSchema(StrictSchema):
    """One mutation's name, arguments and client time, checked on its own."""

    name = Text(required=True, validate=validate.Length(min=1, max=40))
    args = ma.fields.Dict(keys=ma.fields.String(), required=True)
    client_time = Instant(allow_none=True)


class PushSchema(StrictSchema):
    client_id = CLIENT_ID
    schema_version = ma.fields.Integer(required=True, validate=validate.Equal(1))
    mutations = MutationList(ma.fields.Nested(MutationEnvelopeSchema), required=True)

    @ma.pre_load
    def _at_most_500(self, data, **_kwargs):
        """Over 500 mutations is 413 (SPEC §5), before any field is even looked at."""
        if isinstance(data, dict) and isinstance(data.get("mutations"), list) \
                and len(data["mutations"]) > MAX_MUTATIONS:
            raise PayloadTooLarge(f"At most {MAX_MUTATIONS} mutations per push; nothing was applied.")
        return data


class PullSchema(StrictSchema):
    client_id = CLIENT_ID
    cursor = Text(allow_none=True, load_default=None, validate=validate.Length(max=500))
    schema_version = ma.fields.Integer(required=True, validate=validate.Equal(1))
    limit = ma.fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class BuiltList(ma.fields.List):
    """A list the service already builds item by item in the item schema's shape (plain JSON
    values): the answer sends it as it is. The item schema documents it (OpenAPI); dumping a
    thousand task payloads through it again would only copy them."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else list(value)


class MutationResultSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    error = ma.fields.String()
    message = ma.fields.String()
    details = ma.fields.Dict()
    entity = ma.fields.Dict(allow_none=True)


class PushResultSchema(ma.Schema):
    last_mutation_id = ma.fields.Integer()
    results = BuiltList(ma.fields.Nested(MutationResultSchema))


class ChangeSchema(ma.Schema):
    entity = ma.fields.String()
    op = ma.fields.String()
    id = ma.fields.Integer()
    data = ma.fields.Dict()


class PullResultSchema(ma.Schema):
    cursor = ma.fields.String()
    has_more = ma.fields.Boolean()
    reset = ma.fields.Boolean()
    last_mutation_id = ma.fields.Integer()
    changes = BuiltList(ma.fields.Nested(ChangeSchema))


# ---- arguments of each mutation --------------------------------------------------------------

class TaskArgs(StrictSchema):
    task_id = ma.fields.Integer(**ID)


class ClaimArgs(TaskCodeSchema):
    """A scanned token or a typed short code names its task; ``task_id``, when given, must
    agree with it."""

    task_id = ma.fields.Integer(validate=validate.Range(min=1, max=2**62), load_default=None,
                                allow_none=True)
    scanned_at = Instant(allow_none=True)


class ChecklistArgs(TaskArgs):
    item_id = Text(required=True, validate=validate.Length(min=1, max=40))
    done = ma.fields.Boolean(required=True)


class SaleArgs(TaskArgs):
    sku = Text(required=True, **SKU)
    quantity = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=10_000))


class NoteArgs(TaskArgs):
    text = Text(required=True, validate=validate.Length(min=1, max=4000))


class PhotoArgs(TaskArgs):
    sha256 = Text(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


class SubmitArgs(TaskArgs):
    observed_prices = ma.fields.Dict(keys=Text(**SKU), values=ma.fields.Float(
        validate=validate.Range(min=0, max=10_000_000), allow_nan=False), load_default=None,
        validate=validate.Length(max=50))
    quantity = ma.fields.Integer(allow_none=True, load_default=None,
                                 validate=validate.Range(min=0, max=1_000_000))


class MarkReadArgs(StrictSchema):
    notification_id = ma.fields.Integer(**ID)


class ScriptFeedbackArgs(StrictSchema):
    script_id = ma.fields.Integer(**ID)
    outcome = Text(required=True, validate=validate.OneOf(["used", "converted", "dismissed"]))


ARG_SCHEMAS = {
    "claim_task": ClaimArgs(), "unclaim_task": TaskArgs(), "start_task": TaskArgs(),
    "set_checklist_item": ChecklistArgs(), "record_sale": SaleArgs(), "add_note": NoteArgs(),
    "attach_photo": PhotoArgs(), "submit_task": SubmitArgs(), "mark_read": MarkReadArgs(),
    "script_feedback": ScriptFeedbackArgs(),
}


# ---- the fast path of the common case --------------------------------------------------------
# A push of progress edits is mostly well-formed mutations of four kinds; loading each through
# marshmallow costs more than applying it. ``load_progress_fast`` accepts only input that the
# schemas above would load to exactly the same value (plain JSON types, every argument present,
# no unknown key, the schemas' own validators) and returns None for anything else, which then
# goes through the schemas — so every error a client sees still comes from them
# (tests/sync/test_sync_schemas_fast.py holds the two paths equal).

_ARG_FIELDS = {name: ARG_SCHEMAS[name].fields for name in
               ("set_checklist_item", "record_sale", "add_note", "attach_photo")}
_ARG_TYPES = {"task_id": int, "item_id": str, "done": bool, "sku": str, "quantity": int,
              "text": str, "sha256": str}
_MUTATION_KEYS = frozenset(("id", "name", "args", "client_time"))
_CLIENT_TIME = MutationSchema().fields["client_time"]


def load_progress_fast(mutation: dict):
    """(name, args, client_time) of a well-formed progress mutation, else None."""
    name, args = mutation.get("name"), mutation.get("args")
    fields = _ARG_FIELDS.get(name) if type(name) is str else None
    if fields is None or type(args) is not dict or not _MUTATION_KEYS.issuperset(mutation) \
            or args.keys() != fields.keys():
        return None
    try:
        for key, value in args.items():
            if type(value) is not _ARG_TYPES[key]:
                return None
            if any(validator(value) is False for validator in fields[key].validators):
                return None
            if type(value) is str and ("\x00" in value or LONE_SURROGATE.search(value)):
                return None
        client_time = mutation.get("client_time")
        if client_time is not None:
            client_time = _CLIENT_TIME.deserialize(client_time)
    except ma.ValidationError:
        return None
    return name, dict(args), client_time
