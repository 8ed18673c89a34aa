"""Rules (HQ; supervisors for their regions): create, list, read, update or disable, dry-run,
and the A/B effect."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth import policy
from backend.db import utcnow
from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.org.models import Region, User
from backend.tasks.models import StoreTask
from rules import definition, effect, engine
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
    tasks = engine.dry_run_candidates(session, rule, now=now, lookback=dt.timedelta(hours=lookback_hours))
    items = []
    for task in tasks:
        if not engine.applies(rule, task.store, task.campaign):
            continue
        arm = definition.arm_of(rule.id, task.store_id, rule.variant_share)
        items.append({"task_id": task.id, "store_code": task.store.code, "arm": arm,
                      "action": rule.action["type"] if arm == "treatment" else "would_have_fired"})
    return {"rule_id": rule.id, "at": now, "would_fire": items}


def rule_effect(*, session: Session, actor: User, rule_id: int, hours: float) -> dict:
    """Per arm: firings and how many of their tasks were submitted within ``hours`` of firing."""
    rule = rule_by_id(session, actor, rule_id)
    window = dt.timedelta(hours=hours)
    # One rule's firings are few: the window is compared here rather than in dialect-specific SQL.
    rows = session.execute(select(RuleFiring.arm, RuleFiring.fired_at, StoreTask.submitted_at)
                           .join(StoreTask, StoreTask.id == RuleFiring.task_id)
                           .where(RuleFiring.rule_id == rule.id)).all()
    counts = {"treatment": [0, 0], "control": [0, 0]}
    for arm, fired_at, submitted_at in rows:
        counts[arm][1] += 1
        if submitted_at is not None and fired_at <= submitted_at <= fired_at + window:
            counts[arm][0] += 1
    return {"rule_id": rule.id, "hours": hours, "outcome": f"task submitted within {hours:g} h of firing",
            **effect.compare(tuple(counts["treatment"]), tuple(counts["control"]))}

