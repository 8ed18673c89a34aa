"""Pure sync rules and cursors: no app, no database."""

import datetime as dt

import pytest

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
    cursor = cursors.Cursor(seq=42, scope="abc123", snapshot_after=7)
    assert cursors.decode(cursors.encode(cursor)) == cursor
    for bad in ["nope", "c1.!!!", "c1." + "e30", "c1.eyJzIjotMSwiayI6IngifQ"]:
        with pytest.raises(cursors.InvalidCursor):
            cursors.decode(bad)
