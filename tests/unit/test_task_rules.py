"""Pure lifecycle rules: no app, no database."""

import pytest

from backend.tasks import rules


@pytest.mark.parametrize("action,status,expected", [
    ("claim", "open", "claimed"), ("claim", "claimed", "claimed"),
    ("start", "claimed", "in_progress"), ("submit", "claimed", "submitted"),
    ("submit", "in_progress", "submitted"), ("approve", "submitted", "approved"),
    ("reject", "submitted", "claimed"), ("cancel", "in_progress", "cancelled"),
    ("cancel", "submitted", "cancelled"),
])
def test_allowed_transitions(action, status, expected):
    assert rules.next_status(action, status) == expected


@pytest.mark.parametrize("action,status", [
    ("start", "open"), ("start", "submitted"), ("submit", "open"), ("submit", "approved"),
    ("approve", "in_progress"), ("reject", "approved"), ("cancel", "approved"),
    ("cancel", "cancelled"), ("claim", "submitted"), ("claim", "cancelled"), ("claim", "approved"),
])
def test_refused_transitions_name_the_state(action, status):
    with pytest.raises(rules.InvalidTransition) as caught:
        rules.next_status(action, status)
    assert caught.value.details["current_status"] == status
    assert caught.value.status_code == 409


def test_unclaim_reopens_only_when_last_claimant_leaves():
    assert rules.status_after_unclaim("claimed", 0) == "open"
    assert rules.status_after_unclaim("in_progress", 1) == "in_progress"
    with pytest.raises(rules.InvalidTransition):
        rules.status_after_unclaim("submitted", 0)


def test_missing_proof_names_each_item():
    missing = rules.missing_proof(
        proof={"photos": 2, "quantity": True, "observed_price": True},
        checklist_ids=["shelf", "poster"], checklist_done={"shelf": True},
        photo_count=1, quantity=None, observed_prices={}, featured_skus=["LIP-01", "LIP-02"])
    assert set(missing) == {"checklist.poster", "photos", "quantity", "observed_prices"}
    assert "LIP-01, LIP-02" in missing["observed_prices"][0]
    assert "2 photo(s) required, 1 attached" in missing["photos"][0]


def test_complete_proof_has_nothing_missing():
    assert rules.missing_proof(
        proof={"photos": 1, "quantity": True, "observed_price": True},
        checklist_ids=["shelf"], checklist_done={"shelf": True}, photo_count=1, quantity=0,
        observed_prices={"LIP-01": 99.0}, featured_skus=["LIP-01"]) == {}


def test_observed_price_without_featured_skus_needs_any_price():
    kwargs = dict(proof={"observed_price": True}, checklist_ids=[], checklist_done={},
                  photo_count=0, quantity=None, featured_skus=[])
    assert "observed_prices" in rules.missing_proof(observed_prices={}, **kwargs)
    assert rules.missing_proof(observed_prices={"X": 1.0}, **kwargs) == {}
