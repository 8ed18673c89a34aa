"""The analytics rollups stay equal to a hand-written GROUP BY of the tasks, whatever happens to
them and through whichever entry point (hypothesis, stateful, on SQLite and PostgreSQL); and the
answers read from them equal the live aggregates (medians of regions and days within 1 %)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import statistics

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select, text

from backend import db
from backend.analytics import rollups, service as analytics
from backend.analytics.models import ClaimDelayHistogram, ClerkRollup, DayRollup, StoreRollup
from backend.analytics.rollup_sql import MEDIAN_RELATIVE_ERROR, _Dialect
from backend.campaigns import recurring
from backend.errors import ValidationFailed
from backend.org.models import Store, User
from backend.tasks.models import StoreTask, TaskClaim
from seed.demo import tiny_png
from tests.conftest import _empty_all_tables
from tests.factories import Factory
from tests.sync_helpers import phone

EXAMPLES = int(os.environ.get("ZHIDA_ROLLUP_EXAMPLES", "40" if os.environ.get("CI") else "6"))
STEPS = 30
CLERKS = ("clerk1", "clerk1b", "clerk2", "clerk3")
COUNTS = "tasks, claimed, submitted, approved, on_time, deviated, active_due"


# ---- the hand-written GROUP BY ------------------------------------------------------------------

def _contributions(dialect: str) -> str:
    """Per task: its key columns and 0/1 per count, written out again (not taken from rollup_sql)."""
    sql = _Dialect(dialect)
    return f"""
        SELECT t.id, t.store_id, s.region_id, t.store_id % 16 AS stripe, {sql.day('t')} AS due_day,
               CASE WHEN t.status <> 'cancelled' THEN 1 ELSE 0 END AS tasks,
               CASE WHEN t.status <> 'cancelled' AND t.first_claimed_at IS NOT NULL THEN 1 ELSE 0 END AS claimed,
               CASE WHEN t.status <> 'cancelled' AND t.submitted_at IS NOT NULL THEN 1 ELSE 0 END AS submitted,
               CASE WHEN t.status = 'approved' THEN 1 ELSE 0 END AS approved,
               CASE WHEN t.status <> 'cancelled' AND t.submitted_at IS NOT NULL AND NOT t.late
                    THEN 1 ELSE 0 END AS on_time,
               CASE WHEN t.status <> 'cancelled' AND t.submitted_at IS NOT NULL AND t.deviates
                    THEN 1 ELSE 0 END AS deviated,
               CASE WHEN t.status IN ('open', 'claimed', 'in_progress') AND t.due_at IS NOT NULL
                    THEN 1 ELSE 0 END AS active_due,
               CASE WHEN t.status <> 'cancelled' AND t.first_claimed_at IS NOT NULL
                    THEN {sql.delay('t')} END AS delay,
               CASE WHEN t.status <> 'cancelled' AND t.first_claimed_at IS NOT NULL
                    THEN {sql.bucket('t')} END AS bucket
        FROM store_tasks t JOIN stores s ON s.id = t.store_id"""


def _grouped(session, keys: str, source: str) -> dict:
    sums = ", ".join(f"sum({name})" for name in COUNTS.split(", "))
    rows = session.execute(text(f"SELECT {keys}, {sums} FROM ({source}) AS c GROUP BY {keys}")).all()
    return {tuple(row[:-7]): tuple(int(value) for value in row[-7:]) for row in rows
            if any(row[-7:])}


def _stored(session, model, keys: tuple[str, ...]) -> dict:
    names = COUNTS.split(", ")
    return {tuple(getattr(row, key) for key in keys): tuple(int(getattr(row, name)) for name in names)
            for row in session.scalars(select(model)) if any(getattr(row, name) for name in names)}


def assert_rollups_match(session) -> None:
    """Every rollup row equals the GROUP BY of the tasks it sums (zero rows ignored)."""
    contributions = _contributions(session.bind.dialect.name)
    assert _stored(session, StoreRollup, ("store_id",)) == _grouped(session, "store_id", contributions)
    assert _stored(session, DayRollup, ("due_day", "stripe")) == _grouped(
        session, "due_day, stripe", contributions)
    by_clerk = f"SELECT c.user_id, x.* FROM task_claims c JOIN ({contributions}) AS x ON x.id = c.task_id"
    assert _stored(session, ClerkRollup, ("user_id",)) == _grouped(session, "user_id", by_clerk)
    histogram = {(row.dimension, row.group_key, row.bucket): row.claims
                 for row in session.scalars(select(ClaimDelayHistogram)) if row.claims}
    expected = {}
    for region, day, bucket in session.execute(text(
            f"SELECT region_id, due_day, bucket FROM ({contributions}) AS c WHERE bucket IS NOT NULL")):
        for key in (("day", day, int(bucket)), ("region", str(region), int(bucket))):
            expected[key] = expected.get(key, 0) + 1
    assert histogram == expected
    # Exact medians of stores and clerks: statistics.median of the delays themselves.
    delays = session.execute(text(
        f"SELECT x.id, x.store_id, x.delay FROM ({contributions}) AS x WHERE x.delay IS NOT NULL")).all()
    holders = {}
    for task_id, user_id in session.execute(select(TaskClaim.task_id, TaskClaim.user_id)):
        holders.setdefault(task_id, []).append(user_id)
    per_store, per_clerk = {}, {}
    for task_id, store_id, delay in delays:
        per_store.setdefault(store_id, []).append(float(delay))
        for user_id in holders.get(task_id, []):
            per_clerk.setdefault(user_id, []).append(float(delay))
    for model, key, values in ((StoreRollup, "store_id", per_store), (ClerkRollup, "user_id", per_clerk)):
        for row in session.scalars(select(model)):
            wanted = values.get(getattr(row, key))
            if wanted is None:
                assert row.median_claim_seconds is None, (model, getattr(row, key))
            else:
                assert row.median_claim_seconds == pytest.approx(statistics.median(wanted), abs=1e-6)


def assert_answers_match_live(session, actors) -> None:
    """The rolled-up answers equal the live aggregates (region and day medians within 1 %)."""
    for actor in actors:
        for group_by in analytics.GROUPS:
            fast = analytics.execution_rates(session=session, actor=actor, group_by=group_by)
            live = analytics.execution_rates(session=session, actor=actor, group_by=group_by, live=True)
            assert [row["group"] for row in fast] == [row["group"] for row in live], group_by
            for got, want in zip(fast, live):
                got, want = dict(got), dict(want)
                got_median, want_median = got.pop("median_claim_minutes"), want.pop("median_claim_minutes")
                assert got == want, (actor.username, group_by)
                if want_median is None:
                    assert got_median is None
                else:
                    assert abs(got_median - want_median) <= MEDIAN_RELATIVE_ERROR * want_median + 0.1, \
                        (actor.username, group_by, got_median, want_median)


# ---- random task changes through every entry point ----------------------------------------------

def build_machine(app, database_url):
    class RollupWorld(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            _empty_all_tables(database_url)
            self.ctx = app.app_context()
            self.ctx.push()
            self.make = Factory(app)
            self.w = self.make.world()
            self.client = app.test_client()
            self.admin = self.w.h["admin"]
            png = tiny_png(3)
            self.photo = hashlib.sha256(png).hexdigest()
            for clerk in CLERKS:
                self.client.put(f"/api/v1/blobs/{self.photo}", data=png, content_type="image/png",
                                headers=self.w.h[clerk])
            self.phones = {clerk: phone(self.client, self.w.h[clerk], f"phone-{clerk}-000000")
                           for clerk in CLERKS}
            # A second rejection of a task makes a follow-up task (rules as a service).
            assert self.client.post("/api/v1/rules", headers=self.admin, json={
                "name": "follow-up", "trigger": {"type": "task.rejected", "nth": 1}, "condition": {},
                "action": {"type": "create_task", "title": "Coach $store_code", "due_in_hours": 6},
                "variant_share": 1.0}).status_code == 201
            self.campaigns = [self.w.campaign.id]
            self.codes = 0

        def teardown(self):
            try:
                self.check()
            finally:
                self.make.close()
                self.ctx.pop()

        def _task(self, index: int) -> int:
            ids = self.make.session.scalars(select(StoreTask.id).order_by(StoreTask.id)).all()
            self.make.session.commit()
            return ids[index % len(ids)]

        def _post(self, path, who, body=None):
            headers = who if isinstance(who, dict) else self.w.h[who]
            return self.client.post(path, headers=headers, json=body if body is not None else {})

        # ---- REST, QR and sync ----------------------------------------------------------------
        @rule(task=st.integers(0, 40), clerk=st.sampled_from(CLERKS))
        def claim_by_qr(self, task, clerk):
            task_id = self._task(task)
            token = self.client.get(f"/api/v1/tasks/{task_id}/qr", headers=self.admin).json["token"]
            self._post("/api/v1/claims", clerk, {"token": token})

        @rule(task=st.integers(0, 40), clerk=st.sampled_from(CLERKS))
        def assign(self, task, clerk):
            self._post(f"/api/v1/tasks/{self._task(task)}/assign", self.admin, {"username": clerk})

        @rule(task=st.integers(0, 40), clerk=st.sampled_from(CLERKS), via_sync=st.booleans())
        def start(self, task, clerk, via_sync):
            task_id = self._task(task)
            if via_sync:
                self.phones[clerk].enqueue("start_task", task_id=task_id)
                self.phones[clerk].push()
            else:
                self._post(f"/api/v1/tasks/{task_id}/start", clerk)

        @rule(task=st.integers(0, 40), clerk=st.sampled_from(CLERKS))
        def claim_by_sync(self, task, clerk):
            self.phones[clerk].enqueue("claim_task", task_id=self._task(task))
            self.phones[clerk].push()

        @rule(task=st.integers(0, 40), clerk=st.sampled_from(CLERKS), price=st.sampled_from([159.0, 120.0]),
              via_sync=st.booleans())
        def submit(self, task, clerk, price, via_sync):
            task_id = self._task(task)
            proof = {"checklist": {"shelf": True, "poster": True}, "photos": [self.photo],
                     "quantity": 2, "observed_prices": {"LIP-01": price}}
            if via_sync:
                self.phones[clerk].enqueue("submit_task", task_id=task_id, **proof)
                self.phones[clerk].push()
            else:
                self._post(f"/api/v1/tasks/{task_id}/submit", clerk, proof)

        @rule(task=st.integers(0, 40), decision=st.sampled_from(["approve", "reject"]))
        def review(self, task, decision):
            self._post(f"/api/v1/tasks/{self._task(task)}/review", self.admin,
                       {"decision": decision, "comment": "again"})

        @rule(task=st.integers(0, 40))
        def cancel_task(self, task):
            self._post(f"/api/v1/tasks/{self._task(task)}/cancel", self.admin)

        @rule(task=st.integers(0, 40), clerk=st.sampled_from(CLERKS), to=st.sampled_from(CLERKS))
        def reassign(self, task, clerk, to):
            task_id = self._task(task)
            self._post(f"/api/v1/tasks/{task_id}/unclaim", self.admin, {"username": clerk})
            self._post(f"/api/v1/tasks/{task_id}/assign", self.admin, {"username": to})

        @rule(task=st.integers(0, 40), clerk=st.sampled_from(CLERKS))
        def unclaim_by_sync(self, task, clerk):
            self.phones[clerk].enqueue("unclaim_task", task_id=self._task(task))
            self.phones[clerk].push()

        # ---- campaigns, recurrences ------------------------------------------------------------
        @rule(regions=st.sampled_from([["EAST"], ["NORTH"], ["EAST", "NORTH"]]),
              due=st.sampled_from([None, 1, 30, 24 * 40]), recurring_too=st.booleans())
        def publish_campaign(self, regions, due, recurring_too):
            self.codes += 1
            tasks = [{"title": "Display", "due_in_hours": due}]
            if recurring_too:
                tasks.append({"title": "Open", "recurrence": "FREQ=DAILY;BYHOUR=9", "due_in_hours": 2})
            try:
                campaign = self.make.campaign(self.w.admin, f"X{self.codes}", targeting={"regions": regions},
                                              featured_skus=["LIP-01"], promo_prices={"LIP-01": 159.0},
                                              tasks=tasks)
            except ValidationFailed:  # moving stores emptied the region
                self.make.session.rollback()
                return
            self.campaigns.append(campaign.id)

        @rule()
        def make_recurrences(self):
            recurring.create_due_occurrences(self.make.session, now=db.utcnow(),
                                             lead=dt.timedelta(hours=30))

        @rule(which=st.integers(0, 10), action=st.sampled_from(["cancel", "close"]))
        def end_campaign(self, which, action):
            campaign_id = self.campaigns[which % len(self.campaigns)]
            self._post(f"/api/v1/campaigns/{campaign_id}/{action}", self.admin,
                       {"reason": "done"} if action == "cancel" else None)

        @rule(which=st.integers(0, 10), hours=st.sampled_from([2, 48]))
        def edit_template_due(self, which, hours):
            campaign_id = self.campaigns[which % len(self.campaigns)]
            template = self.client.get(f"/api/v1/campaigns/{campaign_id}", headers=self.admin).json["tasks"][0]
            self.client.patch(f"/api/v1/campaigns/{campaign_id}/templates/{template['id']}",
                              headers=self.admin, json={"version": template["version"], "due_in_hours": hours})

        # ---- clock and org changes the services do not make (raw ORM writes) -------------------
        @rule(task=st.integers(0, 40), minutes=st.integers(1, 5000), due_hours=st.integers(-72, 72))
        def backdate(self, task, minutes, due_hours):
            stored = self.make.session.get(StoreTask, self._task(task))
            stored.created_at = stored.created_at - dt.timedelta(minutes=minutes)
            stored.due_at = db.utcnow() + dt.timedelta(hours=due_hours)
            self.make.session.commit()

        @rule(store=st.sampled_from(["S001", "S002", "S003"]))
        def move_store(self, store):
            row = self.make.session.scalar(select(Store).where(Store.code == store))
            row.region = self.w.north if row.region_id == self.w.east.id else self.w.east
            self.make.session.commit()

        @invariant()
        def check(self):
            session = db.new_session(reads_only=True)
            try:
                assert_rollups_match(session)
                actors = session.scalars(select(User).where(User.username.in_(["admin", "sup_east"]))).all()
                assert_answers_match_live(session, actors)
            finally:
                session.close()

    return RollupWorld


def test_rollups_equal_a_group_by_after_random_task_changes(app, database_url):
    run_state_machine_as_test(build_machine(app, database_url), settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck)))


def test_rebuild_reproduces_what_the_triggers_kept(make, client):
    """The migration's backfill (``rollups.rebuild``) and the triggers agree."""
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                json={"quantity": 1, "observed_prices": {"LIP-01": 120.0}})
    session = make.session
    kept = {model: _stored(session, model, keys) for model, keys in
            ((StoreRollup, ("store_id",)), (ClerkRollup, ("user_id",)), (DayRollup, ("due_day", "stripe")))}
    session.commit()
    rollups.rebuild(session)
    session.commit()
    assert {model: _stored(session, model, keys) for model, keys in
            ((StoreRollup, ("store_id",)), (ClerkRollup, ("user_id",)), (DayRollup, ("due_day", "stripe")))} == kept
    assert_rollups_match(session)
    assert kept[ClerkRollup] == {(w.clerk1.id,): (1, 1, 1, 0, 1, 1, 0)}


def test_the_answer_says_where_its_figures_come_from(make, client):
    w = make.world()
    ask = lambda query, who="admin": client.get(f"/api/v1/analytics/execution?{query}",  # noqa: E731
                                                headers=w.h[who]).json
    region = ask("group_by=region")
    assert (region["source"], region["median_relative_error"]) == ("rollups", 0.01)
    assert (ask("group_by=store")["source"], ask("group_by=store")["median_relative_error"]) == ("rollups", 0.0)
    assert ask(f"group_by=region&campaign={w.campaign.id}")["source"] == "tasks"
    assert ask("group_by=day", "sup_east")["source"] == "tasks"
    assert ask("group_by=store", "sup_east")["source"] == "rollups"
    assert [row["group"] for row in ask("group_by=region")["rows"]] == ["EAST", "NORTH"]
