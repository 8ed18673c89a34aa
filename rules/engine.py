"""Firing rules: from domain events (inside the event's transaction) and from the worker's
schedule; each firing recorded once per (rule, subject, period), in the store's A/B arm, and —
in the treatment arm — acted on."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from backend import changefeed, db, events
from backend.audit import Event
from backend.campaigns.models import Campaign, TaskTemplate
from backend.campaigns.service import store_task_row
from backend.org.models import Store, User, supervisor_regions
from backend.tasks.models import ACTIVE_STATUSES, StoreTask
from integrations import outbox as webhooks
from notifications import outbox as notifications
from rules import definition, metrics
from rules.models import Rule, RuleFiring

FOLLOW_UP_KEY_PREFIX = metrics.FOLLOW_UP_KEY_PREFIX
TAKEN = {"notify": "notified", "create_task": "task_created", "escalate": "escalated", "webhook": "webhook_sent"}



def _active_rules(session: Session, trigger_type: str) -> list[Rule]:
    return [rule for rule in session.scalars(select(Rule).where(Rule.active.is_(True)).order_by(Rule.id))
            if rule.trigger.get("type") == trigger_type]


def applies(rule: Rule, store: Store, campaign: Campaign) -> bool:
    """The rule's scope and condition admit this store and campaign."""
    if rule.region_ids and store.region_id not in rule.region_ids:
        return False
    condition = rule.condition or {}
    if condition.get("regions") and store.region.code not in condition["regions"]:
        return False
    if condition.get("store_tags") and not set(condition["store_tags"]) & set(store.tags):
        return False
    if condition.get("campaign_codes") and campaign.code not in condition["campaign_codes"]:
        return False
    return True


@dataclass(frozen=True)
class Subject:
    """What a rule fires for: one task (``task:<id>``) or one store in a campaign
    (``campaign:<id>:store:<id>``, from a store metric), with its message placeholders."""

    key: str
    store: Store
    campaign: Campaign
    task: StoreTask | None
    values: dict


def task_subject(rule: Rule, task: StoreTask) -> Subject:
    """A task as the subject of a firing."""
    return Subject(f"task:{task.id}", task.store, task.campaign, task, {
        "store_code": task.store.code, "task_title": task.template.title, "task_id": task.id,
        "campaign_title": task.campaign.title, "rule_name": rule.name, "value": "", "threshold": ""})


def store_subject(session: Session, rule: Rule, reading: metrics.Reading) -> Subject:
    """A store of a campaign, whose metric crossed the rule's threshold, as a subject."""
    store, campaign = session.get(Store, reading.store_id), session.get(Campaign, reading.campaign_id)
    return Subject(reading.subject, store, campaign, None, {
        "store_code": store.code, "task_title": "", "task_id": "", "campaign_title": campaign.title,
        "rule_name": rule.name, "value": f"{reading.value:.0%}", "threshold": f"{rule.trigger['below']:.0%}"})


def _recipients(session: Session, to: str, store: Store) -> list[int]:
    if to == "clerks":
        where = (User.role == "clerk") & (User.store_id == store.id)
    elif to == "supervisor":
        where = (User.role == "supervisor") & User.id.in_(
            select(supervisor_regions.c.user_id).where(supervisor_regions.c.region_id == store.region_id))
    else:
        where = User.role == "hq_admin"
    return list(session.scalars(select(User.id).where(where, User.active.is_(True)).order_by(User.id)))


def _notify(session: Session, rule: Rule, subject: Subject, firing_id: int, to: list[str], message: str,
            now: dt.datetime) -> None:
    text = definition.fill(message, subject.values)
    task_id = subject.task.id if subject.task is not None else None
    for group in to:
        for user_id in _recipients(session, group, subject.store):
            notifications.insert_one(session, user_id=user_id, kind="rule", now=now, task_id=task_id,
                                     campaign_id=subject.campaign.id, store_id=subject.store.id,
                                     dedupe_key=f"rule:{firing_id}:{group}",
                                     params={"rule_name": rule.name[:100], "message": text})


def _follow_up_task(session: Session, rule: Rule, subject: Subject, firing_id: int, now: dt.datetime) -> None:
    """A store-specific task of the same campaign for the same store."""
    action = rule.action
    campaign_id, store_id = subject.campaign.id, subject.store.id
    key = FOLLOW_UP_KEY_PREFIX + hashlib.sha256(f"rule-firing:{firing_id}".encode()).hexdigest()[:35]
    position = session.scalar(select(func.coalesce(func.max(TaskTemplate.position), 0))
                              .where(TaskTemplate.campaign_id == campaign_id)) + 1
    template_id = session.execute(TaskTemplate.__table__.insert().values(
        campaign_id=campaign_id, position=position,
        title=definition.fill(action["title"], subject.values)[:200],
        instructions=definition.fill(action.get("instructions", ""), subject.values),
        kind="other", checklist=[], proof={"photos": 0, "quantity": False, "observed_price": False},
        max_claimants=1, script_hint="", version=1, store_id=store_id, import_key=key,
    ).returning(TaskTemplate.id)).scalar()
    due = now + dt.timedelta(hours=action.get("due_in_hours", 24))
    session.execute(StoreTask.__table__.insert().values(**store_task_row(
        campaign_id=campaign_id, template_id=template_id, template_version=1, store_id=store_id,
        due_at=due, max_claimants=1, now=now)))
    new_task = StoreTask.template_id == template_id
    changefeed.mark_tasks_where(session, new_task)
    events.announce_tasks("task_published", session=session, condition=new_task, now=now)


def _default_message(rule: Rule) -> str:
    """The message of a rule that names none."""
    if rule.trigger["type"] in definition.STORE_TRIGGERS:
        return "$rule_name: $store_code at $value ($campaign_title)"
    return "$rule_name: $task_title ($store_code)"


def arm_and_action(rule: Rule, store_id: int) -> tuple[str, str]:
    """The store's arm for this rule and what a firing there does."""
    arm = definition.arm_of(rule.id, store_id, rule.variant_share)
    return arm, TAKEN[rule.action["type"]] if arm == "treatment" else "would_have_fired"


def fire(session: Session, rule: Rule, subject: Subject, *, period: str, now: dt.datetime) -> RuleFiring | None:
    """Record the rule's firing for this subject in this period and act on it in the treatment
    arm; None when the rule does not apply or already fired for it."""
    if not applies(rule, subject.store, subject.campaign):
        return None
    arm, taken = arm_and_action(rule, subject.store.id)
    task_id = subject.task.id if subject.task is not None else None
    statement = db.insert_skipping_conflicts(session, RuleFiring.__table__, ["rule_id", "subject", "period"])
    firing_id = session.execute(statement.values(
        rule_id=rule.id, subject=subject.key, period=period, store_id=subject.store.id, task_id=task_id,
        arm=arm, action_taken=taken, fired_at=now).returning(RuleFiring.id)).scalar()
    if firing_id is None:
        return None
    if arm == "treatment":
        action = rule.action
        if action["type"] == "notify":
            _notify(session, rule, subject, firing_id, [action["to"]], action.get("message") or _default_message(rule),
                    now)
        elif action["type"] == "escalate":
            _notify(session, rule, subject, firing_id, ["supervisor", "hq"],
                    action.get("message") or "Escalation — " + _default_message(rule), now)
        elif action["type"] == "create_task":
            _follow_up_task(session, rule, subject, firing_id, now)
        data = {"rule_id": rule.id, "rule_name": rule.name, "subject": subject.key, "period": period, "arm": arm,
                "action": action["type"], "task_id": task_id, "store_code": subject.store.code,
                "campaign_id": subject.campaign.id, "at": now.isoformat()}
        if subject.task is None:
            data.update(metric=rule.trigger["type"], value=subject.values["value"],
                        threshold=subject.values["threshold"])
        webhooks.publish(session, "rule.fired", data, now=now, dedupe_key=f"rule.fired:{firing_id}")
    return session.get(RuleFiring, firing_id)


# ---- triggers ----------------------------------------------------------------------------------

def _rejections(session: Session, task_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Event).where(
        Event.entity == "task", Event.entity_id == task_id, Event.action == "rejected"))


def _on_recorded(entity: str, *, session: Session, event) -> None:
    if entity != "task" or event.action not in ("rejected", "submitted"):
        return
    trigger = "task.rejected" if event.action == "rejected" else "task.submitted"
    rules = _active_rules(session, trigger)
    if not rules:
        return
    task = session.get(StoreTask, event.entity_id)
    if task is None:
        return
    now = event.server_time
    if trigger == "task.rejected":
        count = _rejections(session, task.id)  # autoflush: this rejection included
        for rule in rules:
            if count == rule.trigger["nth"]:
                fire(session, rule, task_subject(rule, task), period=f"rejected:{count}", now=now)
    elif task.deviates:
        for rule in rules:
            fire(session, rule, task_subject(rule, task), period=f"submitted:v{task.version}", now=now)


def overdue_candidates(session: Session, rule: Rule, *, now: dt.datetime, lookback: dt.timedelta) -> list[StoreTask]:
    """Tasks overdue for at least the rule's hours (and at most ``lookback`` more), in live
    campaigns, that the rule has not fired for."""
    threshold = now - dt.timedelta(hours=rule.trigger["after_hours"])
    fired = select(RuleFiring.task_id).where(RuleFiring.rule_id == rule.id, RuleFiring.period == "overdue")
    live = select(Campaign.id).where(Campaign.status.in_(("scheduled", "live")))
    return list(session.scalars(select(StoreTask).where(and_(
        StoreTask.status.in_(ACTIVE_STATUSES), StoreTask.campaign_id.in_(live), StoreTask.due_at <= threshold,
        StoreTask.due_at > threshold - lookback, StoreTask.id.not_in(fired))).order_by(StoreTask.id)))


def fire_overdue(session: Session, *, now: dt.datetime, lookback: dt.timedelta) -> int:
    """The worker's job: fire every overdue rule for the tasks past its hours. Commits."""
    fired = 0
    for rule in _active_rules(session, "task.overdue"):
        for task in overdue_candidates(session, rule, now=now, lookback=lookback):
            if fire(session, rule, task_subject(rule, task), period="overdue", now=now) is not None:
                fired += 1
    session.commit()
    return fired


def store_candidates(session: Session, rule: Rule, *, now: dt.datetime) -> list[tuple[Subject, str]]:
    """(subject, period) of every store whose metric is below the rule's threshold now, in the
    rule's scope, that the rule has not fired for in that period."""
    fired = set(session.execute(select(RuleFiring.subject, RuleFiring.period)
                                .where(RuleFiring.rule_id == rule.id)).all())
    found = []
    for reading in metrics.readings(session, rule.trigger, now=now):
        if (reading.subject, reading.period) in fired:
            continue
        subject = store_subject(session, rule, reading)
        if applies(rule, subject.store, subject.campaign):
            found.append((subject, reading.period))
    return found


def fire_store_metrics(session: Session, *, now: dt.datetime) -> int:
    """The worker's job: fire every store-metric rule for the stores below its threshold,
    once per (rule, store and campaign, period). Commits."""
    fired = 0
    for trigger_type in definition.STORE_TRIGGERS:
        for rule in _active_rules(session, trigger_type):
            for subject, period in store_candidates(session, rule, now=now):
                if fire(session, rule, subject, period=period, now=now) is not None:
                    fired += 1
    session.commit()
    return fired


def _task_candidates(session: Session, rule: Rule, *, now: dt.datetime,
                     lookback: dt.timedelta) -> list[tuple[StoreTask, str]]:
    kind = rule.trigger["type"]
    if kind == "task.overdue":
        return [(task, "overdue") for task in overdue_candidates(session, rule, now=now, lookback=lookback)]
    if kind == "task.submitted":
        tasks = session.scalars(select(StoreTask).where(StoreTask.status == "submitted",
                                                        StoreTask.deviates.is_(True)).order_by(StoreTask.id))
        fired = set(session.execute(select(RuleFiring.task_id, RuleFiring.period)
                                    .where(RuleFiring.rule_id == rule.id)).all())
        return [(t, f"submitted:v{t.version}") for t in tasks if (t.id, f"submitted:v{t.version}") not in fired]
    counts = session.execute(select(Event.entity_id, func.count()).where(
        Event.entity == "task", Event.action == "rejected").group_by(Event.entity_id)
        .having(func.count() == rule.trigger["nth"])).all()
    fired = set(session.scalars(select(RuleFiring.task_id).where(RuleFiring.rule_id == rule.id)))
    ids = [task_id for task_id, _ in counts if task_id not in fired]
    tasks = session.scalars(select(StoreTask).where(StoreTask.id.in_(ids), StoreTask.status.in_(ACTIVE_STATUSES))
                            .order_by(StoreTask.id)) if ids else []
    return [(task, f"rejected:{rule.trigger['nth']}") for task in tasks]


def would_fire(session: Session, rule: Rule, *, now: dt.datetime, lookback: dt.timedelta) -> list[tuple[Subject, str]]:
    """(subject, period) of every firing the rule would make now (nothing is written)."""
    if rule.trigger["type"] in definition.STORE_TRIGGERS:
        return store_candidates(session, rule, now=now)
    return [(task_subject(rule, task), period)
            for task, period in _task_candidates(session, rule, now=now, lookback=lookback)
            if applies(rule, task.store, task.campaign)]


def listen() -> None:
    """Subscribe to backend's domain events (called by create_app)."""
    events.recorded.connect(_on_recorded, weak=False)

