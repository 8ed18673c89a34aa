"""Recurring tasks (SPEC §13): the RRULE subset, occurrences in each store's timezone across a DST
change, created by the worker ahead of time, once."""

import datetime as dt

import pytest
from sqlalchemy import select

from backend.campaigns import recurrence, recurring
from backend.campaigns.models import TaskTemplate
from backend.tasks.models import StoreTask

UTC = dt.timezone.utc


def at(*args):
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("text", ["FREQ=DAILY;BYHOUR=9", "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=10",
                                  "rrule:freq=daily;byhour=8,17;byminute=30", "FREQ=DAILY;INTERVAL=2;BYHOUR=6"])
def test_accepted_rules(text):
    recurrence.parse(text)


@pytest.mark.parametrize("text", ["", "FREQ=HOURLY;BYHOUR=9", "FREQ=DAILY", "FREQ=DAILY;BYHOUR=25",
                                  "FREQ=WEEKLY;BYDAY=XX;BYHOUR=9", "FREQ=DAILY;BYHOUR=9;COUNT=3",
                                  "FREQ=DAILY;BYHOUR=9;BYHOUR=10", "FREQ=DAILY;BYHOUR", "x" * 300,
                                  "FREQ=DAILY;BYHOUR=0,1,2,3,4,5;BYMINUTE=0,10,20,30,40"])
def test_refused_rules(text):
    with pytest.raises(recurrence.InvalidRecurrence):
        recurrence.parse(text)


def test_a_dst_week_keeps_the_local_hour():
    """Berlin leaves summer time on 2026-10-25: 09:00 local is 07:00 UTC before, 08:00 after."""
    found = recurrence.occurrences("FREQ=DAILY;BYHOUR=9", "Europe/Berlin", since=at(2026, 10, 21, 12),
                                   until=at(2026, 10, 28, 12), anchor=at(2026, 10, 1))
    assert [local for local, _ in found] == [f"2026-10-{d}T09:00" for d in range(22, 29)]
    assert [instant.hour for _, instant in found] == [7, 7, 7, 8, 8, 8, 8]
    # New York springs forward on 2026-03-08: 02:30 does not exist that day and is not lost
    spring = recurrence.occurrences("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "America/New_York",
                                    since=at(2026, 3, 7), until=at(2026, 3, 10), anchor=at(2026, 3, 1))
    assert [local for local, _ in spring] == ["2026-03-07T02:30", "2026-03-08T02:30", "2026-03-09T02:30"]


def test_weekly_rule_and_interval():
    found = recurrence.occurrences("FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=10", "Asia/Shanghai",
                                   since=at(2026, 11, 1), until=at(2026, 11, 15), anchor=at(2026, 11, 1))
    assert [(local, instant.hour) for local, instant in found] == [
        ("2026-11-02T10:00", 2), ("2026-11-05T10:00", 2), ("2026-11-09T10:00", 2), ("2026-11-12T10:00", 2)]
    every_other = recurrence.occurrences("FREQ=DAILY;INTERVAL=2;BYHOUR=6", "Asia/Shanghai",
                                         since=at(2026, 11, 1), until=at(2026, 11, 7), anchor=at(2026, 11, 1))
    # counted from the anchor's local day (1 Nov); 06:00 that day is 31 Oct 22:00 UTC, before ``since``
    assert [local[:10] for local, _ in every_other] == ["2026-11-03", "2026-11-05", "2026-11-07"]


def _recurring_campaign(make, w, rule, starts, ends):
    campaign = make.campaign(w.admin, "DAILY", targeting={"stores": ["S001", "S002"]},
                             tasks=[{"title": "Open the store", "recurrence": rule, "due_in_hours": 4}])
    campaign.starts_at, campaign.ends_at = starts, ends
    make.session.commit()
    return campaign


def occurrence_tasks(make, campaign):
    return make.session.execute(
        select(TaskTemplate.occurrence, StoreTask.store_id, StoreTask.due_at)
        .join(StoreTask, StoreTask.template_id == TaskTemplate.id)
        .where(TaskTemplate.campaign_id == campaign.id).order_by(StoreTask.due_at, StoreTask.store_id)).all()


def test_the_worker_creates_each_occurrence_once_in_each_stores_timezone_across_dst(make, client):
    w = make.world()
    w.s2.timezone = "Europe/Berlin"
    make.session.commit()
    campaign = _recurring_campaign(make, w, "FREQ=DAILY;BYHOUR=9", at(2026, 10, 20), at(2026, 11, 30))
    assert occurrence_tasks(make, campaign) == []  # publish does not fan the rule itself out
    # the worker runs every hour through the DST week; each run creates what starts within 24 h
    now, created = at(2026, 10, 21, 0), 0
    while now < at(2026, 10, 28, 0):
        with make.app.app_context():
            created += recurring.create_due_occurrences(make.session, now=now, lead=dt.timedelta(hours=24))
        now += dt.timedelta(hours=1)
    rows = occurrence_tasks(make, campaign)
    assert created == len(rows) > 0, (created, rows)
    berlin = [(local, due) for local, store_id, due in rows if store_id == w.s2.id]
    shanghai = [(local, due) for local, store_id, due in rows if store_id == w.s1.id]
    # due = start + 4 h: 09:00 Berlin is 07:00 UTC in summer time and 08:00 UTC after 25 October
    assert [(local[:10], due.hour) for local, due in berlin if "2026-10-23" <= local[:10] <= "2026-10-27"] == [
        ("2026-10-23", 11), ("2026-10-24", 11), ("2026-10-25", 12), ("2026-10-26", 12), ("2026-10-27", 12)]
    assert {due.hour for _, due in shanghai} == {5}  # 09:00 CST = 01:00 UTC, +4 h
    assert len({local for local, _ in berlin}) == len(berlin)  # once per occurrence
    again = recurring.create_due_occurrences(make.session, now=at(2026, 10, 27, 23), lead=dt.timedelta(hours=24))
    assert again == 0


def test_an_occurrence_reaches_the_clerks_phone_like_any_task(make, client):
    from backend.db import utcnow
    w = make.world()
    now = utcnow()
    campaign = _recurring_campaign(make, w, "FREQ=DAILY;BYHOUR=0,6,12,18", now - dt.timedelta(days=1),
                                   now + dt.timedelta(days=3))
    assert recurring.create_due_occurrences(make.session, now=now, lead=dt.timedelta(hours=24)) > 0
    items = client.get("/api/v1/tasks?page_size=200", headers=w.h["clerk1"]).json["items"]
    assert any(item["title"] == "Open the store" and item["campaign_id"] == campaign.id for item in items)
    pulled = client.post("/api/v1/sync/pull", headers=w.h["clerk1"], json={"client_id": "phone-clerk1-recur", "cursor": None,
                                                                      "schema_version": 1, "limit": 1000})
    assert pulled.status_code == 200
    assert "Open the store" in pulled.get_data(as_text=True)


def test_a_bad_rule_is_refused_at_campaign_creation(make, client):
    w = make.world()
    response = client.post("/api/v1/campaigns", headers=w.h["admin"], json={
        "code": "BADRULE", "title": "x", "starts_at": "2031-01-01T00:00:00Z", "ends_at": "2031-02-01T00:00:00Z",
        "targeting": {"regions": ["EAST"]}, "tasks": [{"title": "t", "recurrence": "FREQ=HOURLY;BYHOUR=1"}]})
    assert response.status_code == 422 and "FREQ" in str(response.json["errors"])
