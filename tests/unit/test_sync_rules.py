"""Pure sync rules and cursors: no app, no database."""

import base64
import datetime as dt
import json

import pytest

from backend.changefeed import Position
from sync import cursor as cursors
from sync import rules

T0 = dt.datetime(2026, 11, 11, 9, 0, tzinfo=dt.timezone.utc)


def test_split_mutation_ids():
    assert rules.split_mutation_ids([1, 2, 3], 0) == ([], [1, 2, 3])
    assert rules.split_mutation_ids([4, 5, 6, 7], 5) == ([4, 5], [6, 7])
    assert rules.split_mutation_ids([2, 3], 3) == ([2, 3], [])
    for ids, last in [([2], 0), ([1, 3], 0), ([7], 5), ([3, 2], 1), ([6, 5], 5)]:
        with pytest.raises(rules.MutationGap) as caught:
            rules.split_mutation_ids(ids, last)
        assert caught.value.details["last_mutation_id"] == last


def test_client_time_is_clamped_between_previous_and_now():
    now = T0 + dt.timedelta(hours=1)
    assert rules.clamp_client_time(T0, None, now) == T0
    assert rules.clamp_client_time(T0 + dt.timedelta(days=3), None, now) == now      # future clock
    assert rules.clamp_client_time(T0 - dt.timedelta(days=3), T0, now) == T0         # rewound clock
    assert rules.clamp_client_time(None, T0, now) == now


def test_checklist_register_last_writer_wins_with_deterministic_ties():
    current = {"done": True, "client_time": T0.isoformat(), "client_id": "bbbbbbbb"}
    later, earlier = T0 + dt.timedelta(seconds=1), T0 - dt.timedelta(seconds=1)
    assert rules.checklist_edit_wins(effective_time=later, client_id="aaaaaaaa", current=current)
    assert not rules.checklist_edit_wins(effective_time=earlier, client_id="zzzzzzzz", current=current)
    assert rules.checklist_edit_wins(effective_time=T0, client_id="cccccccc", current=current)
    assert not rules.checklist_edit_wins(effective_time=T0, client_id="aaaaaaaa", current=current)
    assert rules.checklist_edit_wins(effective_time=earlier, client_id="a", current=None)


def test_cursor_round_trip_and_damage():
    for cursor in [cursors.Cursor(position=Position(42), scope="abc123", snapshot_after=7),
                   cursors.Cursor(position=Position(42, (43, 9)), scope="abc123"),
                   cursors.Cursor(position=Position(5), scope="abc123", snapshot_after=0,
                                  snapshot_entity="notification")]:
        assert cursors.decode(cursors.encode(cursor)) == cursor
    forged = [{"h": True, "k": "x"}, {"h": 1.5, "k": "x"}, {"h": "1", "k": "x"}, {"h": -1, "k": "x"},
              {"h": 1, "k": 3}, {"h": 1, "k": "x", "a": False}, {"h": 1, "k": "x", "p": [1]},
              {"h": 1, "k": "x", "p": [1, True]}, {"h": 1, "k": "x", "p": {"t": 1}},
              {"h": 1, "k": "x", "e": ["task"]}, {"h": 2**70, "k": "x"}, {"k": "x"}, [1, 2], "s"]
    bad = ["nope", "c1.!!!", "c1." + "e30", "c1.eyJzIjotMSwiayI6IngifQ", "c2.!!!", "c2.e30",
           *(encoded("c2.", payload) for payload in forged),
           encoded("c1.", {"s": True, "k": "x"}), encoded("c1.", {"s": 1, "k": "x", "a": True})]
    for text in bad:
        with pytest.raises(cursors.InvalidCursor):
            cursors.decode(text)


def test_old_counter_cursor_decodes_as_legacy():
    legacy = cursors.decode(encoded("c1.", {"s": 42, "k": "abc123"}))
    assert legacy.legacy and legacy.scope == "abc123"


def encoded(prefix, payload):
    raw = json.dumps(payload).encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")
