"""The fast path of push parsing loads exactly what the schemas load, and nothing they refuse:
no app, no database."""

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.schemas import (ARG_SCHEMAS, MutationList, MutationSchema, PushSchema,
                          load_progress_fast)

MUTATION = MutationSchema()
NAMES = ["set_checklist_item", "record_sale", "add_note", "attach_photo", "start_task", "nope", ""]
ARG_KEYS = ["task_id", "item_id", "done", "sku", "quantity", "text", "sha256", "extra"]

texts = st.one_of(st.text(max_size=45), st.sampled_from(
    ["a", "shelf", "LIP-01", "x" * 40, "x" * 41, "a\x00b", "\ud800", "ok\n", " ", "a" * 64,
     "0" * 64, "f" * 63, "LIP-01\n", "-bad"]))
values = st.one_of(st.none(), st.booleans(), st.integers(min_value=-3, max_value=2**63),
                   st.sampled_from([0, 1, 17, 10_000, 10_001, 2**62, 2**62 + 1, 1.0, 2.5, "17"]),
                   texts, st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                               st.integers(), max_size=2))
client_times = st.one_of(st.none(), st.sampled_from([
    "2026-11-11T09:30:00+08:00", "2026-11-11T09:30:00Z", "2026-11-11T09:30:00.123456+00:00",
    "2026-11-11T09:30:00", "2026-11-11", "1999-12-31T23:59:59+00:00", "2201-01-01T00:00:00+00:00",
    "not a time", "20261111T093000+0800", "2026-11-11 09:30:00+08:00"]), st.integers(), texts)


def _slow(mutation: dict):
    """What the schemas make of a mutation: (name, args, client_time), or None when refused."""
    body = {key: value for key, value in mutation.items() if key != "id"}
    try:
        loaded = MUTATION.load(body)
        schema = ARG_SCHEMAS.get(loaded["name"])
        if schema is None:
            return None
        return loaded["name"], schema.load(loaded["args"]), loaded.get("client_time")
    except ma.ValidationError:
        return None


@st.composite
def mutations(draw):
    name = draw(st.sampled_from(NAMES))
    schema = ARG_SCHEMAS.get(name)
    keys = list(schema.fields) if schema is not None and draw(st.booleans()) else \
        draw(st.lists(st.sampled_from(ARG_KEYS), max_size=4, unique=True))
    if draw(st.booleans()) and "extra" not in keys and draw(st.booleans()):
        keys = keys + ["extra"]
    args = {key: draw(values) for key in keys}
    if draw(st.booleans()):  # mostly well-typed, so the fast path is taken often
        plausible = {"task_id": 7, "item_id": "shelf", "done": True, "sku": "LIP-01",
                     "quantity": 2, "text": "hello", "sha256": "a" * 64}
        args = {key: plausible.get(key, value) for key, value in args.items()}
    mutation = {"id": 1, "name": name, "args": args}
    if draw(st.booleans()):
        mutation["client_time"] = draw(client_times)
    if draw(st.integers(0, 9)) == 0:
        mutation["unknown"] = 1
    if draw(st.integers(0, 9)) == 0:
        mutation["args"] = draw(values)
    return mutation


@settings(max_examples=3000, deadline=None)
@given(mutations())
def test_fast_path_loads_what_the_schemas_load(mutation):
    fast = load_progress_fast(mutation)
    if fast is not None:
        assert fast == _slow(mutation)


@pytest.mark.parametrize("mutation", [
    {"id": 1, "name": "set_checklist_item", "args": {"task_id": 3, "item_id": "a", "done": False},
     "client_time": "2026-11-11T09:30:00+08:00"},
    {"id": 2, "name": "record_sale", "args": {"task_id": 3, "sku": "LIP-01", "quantity": 1}},
    {"id": 3, "name": "add_note", "args": {"task_id": 3, "text": "note"}, "client_time": None},
    {"id": 4, "name": "attach_photo", "args": {"task_id": 3, "sha256": "ab" * 32}},
])
def test_well_formed_progress_mutations_take_the_fast_path(mutation):
    fast = load_progress_fast(mutation)
    assert fast is not None and fast == _slow(mutation)


@pytest.mark.parametrize("mutation", [
    {"id": 1, "name": "set_checklist_item", "args": {"task_id": 3, "item_id": "a", "done": "true"}},
    {"id": 1, "name": "set_checklist_item", "args": {"task_id": True, "item_id": "a", "done": True}},
    {"id": 1, "name": "record_sale", "args": {"task_id": 3, "sku": "LIP 01", "quantity": 1}},
    {"id": 1, "name": "add_note", "args": {"task_id": 3, "text": "\ud800"}},
    {"id": 1, "name": "add_note", "args": {"task_id": 3, "text": "x"}, "client_time": "yesterday"},
    {"id": 1, "name": "add_note", "args": {"task_id": 3, "text": "x"}, "extra": 1},
    {"id": 1, "name": "start_task", "args": {"task_id": 3}},
])
def test_anything_unusual_goes_through_the_schemas(mutation):
    assert load_progress_fast(mutation) is None


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(
    st.fixed_dictionaries({"id": st.one_of(st.integers(min_value=-1, max_value=2**62 + 1),
                                           st.booleans(), st.just("3"), st.none())},
                          optional={"name": values, "args": values, "client_time": values,
                                    "other": values}),
    values), max_size=4))
def test_mutation_list_loads_what_the_nested_envelopes_load(value):
    plain = ma.fields.List(PushSchema().fields["mutations"].inner)
    try:
        expected = plain.deserialize(value)
    except ma.ValidationError as exc:
        expected = ("refused", exc.messages)
    try:
        got = MutationList(PushSchema().fields["mutations"].inner).deserialize(value)
    except ma.ValidationError as exc:
        got = ("refused", exc.messages)
    assert got == expected
