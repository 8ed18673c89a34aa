"""The benchmark history (seed.execution) and the analytics service agree with a plain GROUP BY."""

import datetime as dt
import statistics

from sqlalchemy import delete, func, select, text

from backend.analytics import service as analytics
from backend.campaigns.models import Campaign
from backend.org.models import User
from backend.tasks.models import StoreTask, TaskClaim
from bench.analytics import floor_sql
from seed.execution import seed_execution

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)


def _seeded(make):
    report = seed_execution(make.session, stores=40, campaigns=6, now=NOW, progress=False)
    return report, make.session.scalar(select(User).where(User.username == "admin"))


def test_history_is_deterministic_and_consistent(make):
    report, _ = _seeded(make)
    session = make.session
    assert report.created["store tasks"] == 240
    by_status = dict(session.execute(select(StoreTask.status, func.count())
                                     .group_by(StoreTask.status)).all())
    assert set(by_status) <= {"open", "claimed", "in_progress", "submitted", "approved", "cancelled"}
    assert by_status["approved"] > 120  # most of a finished campaign gets done
    # One claim row per claimed task, by a clerk of the task's store.
    claimed = session.scalar(select(func.count()).where(StoreTask.first_claimed_at.is_not(None)))
    assert session.scalar(select(func.count()).select_from(TaskClaim)) == claimed
    assert session.scalar(select(func.count()).select_from(TaskClaim)
                          .join(StoreTask, TaskClaim.task_id == StoreTask.id)
                          .join(User, TaskClaim.user_id == User.id)
                          .where(User.store_id != StoreTask.store_id)) == 0
    late = session.scalars(select(StoreTask).where(StoreTask.late.is_(True))).all()
    assert late and all(task.submitted_at > task.due_at for task in late)
    fingerprint = session.execute(select(StoreTask.status, StoreTask.first_claimed_at)
                                  .order_by(StoreTask.campaign_id, StoreTask.store_id)).all()
    assert seed_execution(session, stores=40, campaigns=6, now=NOW, progress=False).created == {}
    session.execute(delete(Campaign))  # tasks and claims go with their campaign
    session.commit()
    session.expunge_all()  # SQLite hands the freed ids out again
    seed_execution(session, stores=40, campaigns=6, now=NOW, progress=False)
    assert session.execute(select(StoreTask.status, StoreTask.first_claimed_at)
                           .order_by(StoreTask.campaign_id, StoreTask.store_id)).all() == fingerprint


def test_service_matches_the_hand_written_group_by(make):
    _, admin = _seeded(make)
    session = make.session
    campaign = session.scalar(select(StoreTask.campaign_id).order_by(StoreTask.campaign_id.desc()))
    for group_by in analytics.GROUPS:
        for campaign_filter in (None, campaign):
            rows = analytics.execution_rates(session=session, actor=admin, group_by=group_by,
                                             campaign=campaign_filter)
            floor = session.execute(text(floor_sql(group_by, campaign_filter)),
                                    {"now": dt.datetime.now(dt.timezone.utc),
                                     "campaign": campaign_filter}).all()
            expected = {str(group): (tasks, claimed, submitted, approved, overdue)
                        for group, tasks, claimed, submitted, approved, overdue, _on_time, _dev in floor}
            assert {row["group"]: (row["tasks"], row["claimed"], row["submitted"], row["approved"],
                                   row["overdue"]) for row in rows} == expected, (group_by, campaign_filter)
    # Medians per store, worked out here from the raw timestamps.
    durations: dict[str, list[float]] = {}
    for code, created, claimed in session.execute(text(
            "SELECT s.code, t.created_at, t.first_claimed_at FROM store_tasks t "
            "JOIN stores s ON s.id = t.store_id "
            "WHERE t.status <> 'cancelled' AND t.first_claimed_at IS NOT NULL")):
        if isinstance(created, str):  # SQLite hands raw text back from a text() query
            created, claimed = dt.datetime.fromisoformat(created), dt.datetime.fromisoformat(claimed)
        durations.setdefault(code, []).append((claimed - created).total_seconds())
    by_store = {row["group"]: row["median_claim_minutes"]
                for row in analytics.execution_rates(session=session, actor=admin, group_by="store")}
    assert {code: minutes for code, minutes in by_store.items() if minutes is not None} == {
        code: round(statistics.median(values) / 60, 1) for code, values in durations.items()}
