"""Rules (HQ; supervisors for their regions): create, list, read, update or disable, dry-run,
and the A/B effect."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth import policy
from backend.campaigns.models import Campaign
from backend.db import utcnow
from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.org.models import Region, Store, User
from backend.tasks.models import StoreTask
from rules import definition, effect, engine, metrics
from rules.models import Rule, RuleFiring

_FIELDS = ("trigger", "condition", "action")


def _check(definition_fields: dict) -> None:
    found = definition.problems(definition_fields)
    if found:
        raise ValidationFailed("The rule is not valid.", error="invalid_rule", errors=found)


def _region_ids(session: Session, actor: User, condition: dict) -> list[int]:
    """The rule's scope: every store for HQ, the supervisor's regions (or fewer) otherwise."""
    codes = condition.get("regions") or []
    known = dict(session.execute(select(Region.code, Region.id).where(Region.code.in_(codes))).all()) if codes else {}
    unknown = sorted(set(codes) - set(known))
    if unknown:
        raise ValidationFailed("Unknown region(s) in the condition.", error="invalid_rule",
                               errors={"condition.regions": [f"No region {code}." for code in unknown]})
    if actor.role == policy.HQ:
        return []
    mine = sorted(actor.region_ids)
    if not mine:
        raise Forbidden("You supervise no region.", error="out_of_scope")
    outside = sorted(code for code, region_id in known.items() if region_id not in mine)
    if outside:
        raise Forbidden(f"Region(s) {', '.join(outside)} are outside your scope.", error="out_of_scope")
    return sorted(known.values()) or mine


def _visible(actor: User, rule: Rule) -> bool:
    if actor.role == policy.HQ:
        return True
    return bool(rule.region_ids) and set(rule.region_ids) <= set(actor.region_ids)


def rule_by_id(session: Session, actor: User, rule_id: int) -> Rule:
    """The rule, if the actor may see it."""
    rule = session.get(Rule, rule_id)
    if rule is None:
        raise NotFound(f"No rule {rule_id}.")
    if not _visible(actor, rule):
        raise Forbidden("This rule is outside your scope.", error="out_of_scope")
    return rule


def create_rule(*, session: Session, actor: User, name: str, trigger: dict, condition: dict, action: dict,
                variant_share: float) -> Rule:
    """A new active rule."""
    _check({"trigger": trigger, "condition": condition, "action": action})
    now = utcnow()
    rule = Rule(name=name, trigger=trigger, condition=condition, action=action, variant_share=variant_share,
                active=True, region_ids=_region_ids(session, actor, condition), created_by_id=actor.id,
                created_at=now, updated_at=now)
    session.add(rule)
    session.commit()
    return rule


def list_rules(*, session: Session, actor: User) -> list[Rule]:
    """Rules the actor may see, newest first."""
    return [r for r in session.scalars(select(Rule).order_by(Rule.id.desc())) if _visible(actor, r)]


def update_rule(*, session: Session, actor: User, rule_id: int, changes: dict) -> Rule:
    """Change a rule's fields, or disable it (``active: false``)."""
    rule = rule_by_id(session, actor, rule_id)
    merged = {field: changes.get(field, getattr(rule, field)) for field in _FIELDS}
    _check(merged)
    if "condition" in changes:
        rule.region_ids = _region_ids(session, actor, merged["condition"])
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.updated_at = utcnow()
    session.commit()
    return rule


def dry_run(*, session: Session, actor: User, rule_id: int, lookback_hours: float) -> dict:
    """What the rule would fire for now, and in which arm; writes nothing."""
    rule = rule_by_id(session, actor, rule_id)
    now = utcnow()
    items = []
    for subject, period in engine.would_fire(session, rule, now=now, lookback=dt.timedelta(hours=lookback_hours)):
        arm, _ = engine.arm_and_action(rule, subject.store.id)
        action = rule.action["type"] if arm == "treatment" else "would_have_fired"
        items.append({"task_id": subject.task.id if subject.task is not None else None,
                      "store_code": subject.store.code, "campaign_id": subject.campaign.id,
                      "subject": subject.key, "period": period, "arm": arm, "action": action,
                      "value": subject.values["value"] or None})
    return {"rule_id": rule.id, "at": now, "would_fire": items}


def _task_outcomes(session: Session, rule: Rule, window: dt.timedelta) -> dict[str, list[int]]:
    # One rule's firings are few: the window is compared here rather than in dialect-specific SQL.
    rows = session.execute(select(RuleFiring.arm, RuleFiring.fired_at, StoreTask.submitted_at)
                           .join(StoreTask, StoreTask.id == RuleFiring.task_id)
                           .where(RuleFiring.rule_id == rule.id)).all()
    counts = {"treatment": [0, 0], "control": [0, 0]}
    for arm, fired_at, submitted_at in rows:
        counts[arm][1] += 1
        if submitted_at is not None and fired_at <= submitted_at <= fired_at + window:
            counts[arm][0] += 1
    return counts


def _store_outcome(session: Session, rule: Rule, firing: RuleFiring, window: dt.timedelta) -> bool | None:
    """Whether the store recovered after a store-metric firing: every task of that deadline
    submitted within the window (completion), or its attach rate over the window back at or above
    the threshold (attach rate). None when the firing's subject is gone."""
    parsed = metrics.parse_subject(firing.subject)
    if parsed is None:
        return None
    campaign_id, store_id = parsed
    end = firing.fired_at + window
    if rule.trigger["type"] == "store.completion":
        due = metrics.due_of(firing.period)
        submitted = session.scalars(select(StoreTask.submitted_at).where(
            StoreTask.campaign_id == campaign_id, StoreTask.store_id == store_id, StoreTask.status != "cancelled",
            StoreTask.due_at >= due, StoreTask.due_at < due + dt.timedelta(minutes=1))).all()
        return bool(submitted) and all(at is not None and at <= end for at in submitted)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return None
    transactions, attached = metrics.attach_counts(session, campaign, start=firing.fired_at, end=end,
                                                   store_ids=[store_id]).get(store_id, (0, 0))
    return transactions > 0 and attached / transactions >= rule.trigger["below"]


OUTCOMES = {"store.completion": "every task of the deadline submitted within {hours:g} h of firing",
            "store.attach_rate": "attach rate over the {hours:g} h after firing back at or above the threshold"}


def rule_effect(*, session: Session, actor: User, rule_id: int, hours: float) -> dict:
    """Per arm: firings and how many were followed by the outcome within ``hours`` — the task
    submitted (task triggers), or the store back above its threshold (store metrics)."""
    rule = rule_by_id(session, actor, rule_id)
    window = dt.timedelta(hours=hours)
    kind = rule.trigger["type"]
    if kind in definition.STORE_TRIGGERS:
        counts = {"treatment": [0, 0], "control": [0, 0]}
        for firing in session.scalars(select(RuleFiring).where(RuleFiring.rule_id == rule.id).order_by(RuleFiring.id)):
            outcome = _store_outcome(session, rule, firing, window)
            if outcome is None:
                continue
            counts[firing.arm][1] += 1
            counts[firing.arm][0] += int(outcome)
        outcome_text = OUTCOMES[kind].format(hours=hours)
    else:
        counts = _task_outcomes(session, rule, window)
        outcome_text = f"task submitted within {hours:g} h of firing"
    return {"rule_id": rule.id, "hours": hours, "outcome": outcome_text,
            **effect.compare(tuple(counts["treatment"]), tuple(counts["control"]))}


def recent_firings(*, session: Session, actor: User, rule_id: int, limit: int = 50) -> list[dict]:
    """The rule's latest firings: subject, period, store, arm and what was done."""
    rule = rule_by_id(session, actor, rule_id)
    rows = session.execute(select(RuleFiring, Store.code).join(Store, Store.id == RuleFiring.store_id)
                           .where(RuleFiring.rule_id == rule.id).order_by(RuleFiring.id.desc()).limit(limit)).all()
    return [{"id": firing.id, "subject": firing.subject, "period": firing.period, "store_code": code,
             "task_id": firing.task_id, "arm": firing.arm, "action_taken": firing.action_taken,
             "fired_at": firing.fired_at} for firing, code in rows]
