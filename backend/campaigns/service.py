"""Campaigns: create and edit drafts, preview targeting, publish fan-out, cancel and close."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from backend import audit, changefeed, db, events
from backend.auth import policy
from backend.campaigns import targeting as targeting_rules
from backend.campaigns.models import Campaign, TaskTemplate
from backend.catalog.models import Product
from backend.common.paging import Page, paginate
from backend.db import utcnow
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.org.models import User
from backend.tasks import inserts
from backend.tasks.models import ACTIVE_STATUSES, FINAL_STATUSES, StoreTask, TaskChecklistItem

PUBLISHABLE = ("draft", "scheduled", "live")
DRAFT_ONLY_FIELDS = ("starts_at", "featured_skus", "tasks")


# ---- reading ------------------------------------------------------------------------------

def _visible(actor: User):
    """HQ sees every campaign; others only published ones with tasks in their scope."""
    if actor.role == policy.HQ:
        return None
    return exists().where(StoreTask.campaign_id == Campaign.id,
                          policy.store_scope(actor, StoreTask.store_id))


def list_campaigns(*, session: Session, actor: User, page: int, page_size: int,
                   status: str | None = None) -> Page:
    """Campaigns in the actor's scope, newest first."""
    statement = select(Campaign).order_by(Campaign.starts_at.desc(), Campaign.id.desc())
    visible = _visible(actor)
    if visible is not None:
        statement = statement.where(visible)
    if status:
        statement = statement.where(Campaign.status == status)
    return paginate(session, statement, page=page, page_size=page_size)


def campaign_by_id(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign:
    """The campaign or 404 (optionally row-locked for a write)."""
    statement = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        statement = statement.with_for_update()
    campaign = session.scalar(statement)
    if campaign is None:
        raise NotFound(f"No campaign {campaign_id}.")
    return campaign


def get_campaign(*, session: Session, actor: User, campaign_id: int) -> Campaign:
    """One campaign, if in scope."""
    campaign = campaign_by_id(session, campaign_id)
    visible = _visible(actor)
    if visible is not None and not session.scalar(select(visible)
                                                  .where(Campaign.id == campaign_id)):
        raise Forbidden("This campaign has no tasks in your scope.", error="out_of_scope")
    return campaign


# ---- writing drafts -----------------------------------------------------------------------

def _check_skus(session: Session, skus: list[str]) -> None:
    if not skus:
        return
    known = set(session.scalars(select(Product.sku).where(Product.sku.in_(skus))))
    unknown = sorted(set(skus) - known)
    if unknown:
        raise ValidationFailed("Featured SKUs must be in the catalog.",
                               errors={"featured_skus": [f"Unknown SKU(s): {', '.join(unknown)}."]})


def _template_from(fields: dict, position: int) -> TaskTemplate:
    fields = dict(fields)
    fields["due_offset_hours"] = fields.pop("due_in_hours", None)
    return TaskTemplate(position=position, **fields)


def create_campaign(*, session: Session, actor: User, tasks: list[dict], **fields) -> Campaign:
    """Create a draft campaign with its task templates (HQ)."""
    if session.scalar(select(Campaign.id).where(Campaign.code == fields["code"])):
        raise Conflict(f"Campaign '{fields['code']}' already exists.", error="already_exists")
    _check_skus(session, fields["featured_skus"])
    targeting_rules.validate_targeting(session, fields["targeting"])
    now = utcnow()
    campaign = Campaign(status="draft", version=1, created_by_id=actor.id, created_at=now,
                        updated_at=now, **fields)
    campaign.templates = [_template_from(task, index) for index, task in enumerate(tasks)]
    session.add(campaign)
    session.flush()
    audit.record(session, entity="campaign", entity_id=campaign.id, action="created", actor=actor,
                 after={"code": campaign.code, "templates": len(tasks)}, at=now)
    db.commit(session)
    return campaign


def _check_version(current: int, given: int, what: str) -> None:
    if current != given:
        raise Conflict(f"The {what} changed since you loaded it (version {given}, now {current}).",
                       error="version_conflict", current_version=current)


def update_campaign(*, session: Session, actor: User, campaign_id: int, changes: dict) -> Campaign:
    """Edit a campaign; structural fields only while it is a draft (HQ)."""
    campaign = campaign_by_id(session, campaign_id, lock=True)
    _check_version(campaign.version, changes.pop("version"), "campaign")
    if campaign.status in FINAL_STATUSES + ("closed",):
        raise Conflict(f"A {campaign.status} campaign cannot be edited.", error="campaign_locked",
                       current_status=campaign.status)
    if campaign.status != "draft":
        locked = sorted(set(changes) & set(DRAFT_ONLY_FIELDS))
        if locked:
            raise Conflict("After publish, edit templates one by one; these fields are fixed: "
                           + ", ".join(locked), error="campaign_published",
                           errors={field: ["Fixed after publish."] for field in locked})
    starts, ends = changes.get("starts_at", campaign.starts_at), changes.get("ends_at", campaign.ends_at)
    if ends <= starts:
        raise ValidationFailed("ends_at must be after starts_at.",
                               errors={"ends_at": ["Must be after starts_at."]})
    if "featured_skus" in changes:
        _check_skus(session, changes["featured_skus"])
    featured = set(changes.get("featured_skus", campaign.featured_skus))
    if "promo_prices" in changes or "featured_skus" in changes:
        stray = sorted(set(changes.get("promo_prices", campaign.promo_prices)) - featured)
        if stray:
            raise ValidationFailed("Promo prices are for featured SKUs only.",
                                   errors={"promo_prices": [f"Not featured: {', '.join(stray)}."]})
    if "targeting" in changes:
        targeting_rules.validate_targeting(session, changes["targeting"])
    if "tasks" in changes:
        campaign.templates = [_template_from(task, index)
                              for index, task in enumerate(changes.pop("tasks"))]
    before = {key: _jsonable(getattr(campaign, key)) for key in changes}
    for key, value in changes.items():
        setattr(campaign, key, value)
    campaign.version += 1
    campaign.updated_at = utcnow()
    if campaign.published_at is not None:  # the campaign summary travels inside every task
        changefeed.mark_tasks_where(session, StoreTask.campaign_id == campaign.id)
    audit.record(session, entity="campaign", entity_id=campaign.id, action="edited", actor=actor,
                 before=before, after={key: _jsonable(value) for key, value in changes.items()})
    db.commit(session)
    return campaign


def _jsonable(value):
    return value.isoformat() if isinstance(value, dt.datetime) else value


def template_by_id(session: Session, campaign: Campaign, template_id: int) -> TaskTemplate:
    """A template of this campaign or 404."""
    for template in campaign.templates:
        if template.id == template_id:
            return template
    raise NotFound(f"Campaign {campaign.id} has no task template {template_id}.")


def update_template(*, session: Session, actor: User, campaign_id: int, template_id: int,
                    changes: dict) -> TaskTemplate:
    """Edit a task template; after publish the version bumps and store tasks follow (SPEC §3).

    Unclaimed tasks simply take the new text; claimed ones are flagged
    ``instructions_changed`` and keep progress on checklist items whose ids still exist.
    """
    campaign = campaign_by_id(session, campaign_id, lock=True)
    if campaign.status in ("closed", "cancelled"):
        raise Conflict(f"A {campaign.status} campaign cannot be edited.", error="campaign_locked",
                       current_status=campaign.status)
    template = template_by_id(session, campaign, template_id)
    _check_version(template.version, changes.pop("version"), "template")
    if "due_in_hours" in changes:
        changes["due_offset_hours"] = changes.pop("due_in_hours")
        if changes["due_offset_hours"] is not None:
            changes["due_at"] = None
    elif changes.get("due_at") is not None:
        changes["due_offset_hours"] = None
    before = {key: _jsonable(getattr(template, key)) for key in changes}
    for key, value in changes.items():
        setattr(template, key, value)
    template.version += 1
    now = utcnow()
    if campaign.published_at is not None:
        _propagate_template(session, actor, campaign, template, now)
    audit.record(session, entity="campaign", entity_id=campaign.id, action="template_edited",
                 actor=actor, before={"template_id": template.id, **before},
                 after={"template_id": template.id, "version": template.version,
                        **{key: _jsonable(value) for key, value in changes.items()}}, at=now)
    db.commit(session)
    return template


def template_edit_impact(*, session: Session, actor: User, campaign_id: int,
                         template_id: int) -> dict:
    """What saving an edit of this template would do now (SPEC §3): unclaimed tasks that take
    the new text, and claimed ones that will be flagged ``instructions_changed``."""
    campaign = get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    template = template_by_id(session, campaign, template_id)
    counts = dict(session.execute(
        select(StoreTask.status, func.count()).where(StoreTask.template_id == template.id,
                                                     StoreTask.status.in_(ACTIVE_STATUSES))
        .group_by(StoreTask.status)).all())
    return {"template": template, "open": counts.get("open", 0),
            "flagged": sum(count for status, count in counts.items() if status != "open")}


def _propagate_template(session: Session, actor: User, campaign: Campaign,
                        template: TaskTemplate, now: dt.datetime) -> None:
    # Progress on items the template no longer has is dropped first: a sync push locks the
    # registers it writes before the task rows, so taking them in the same order cannot deadlock.
    session.execute(delete(TaskChecklistItem).where(
        TaskChecklistItem.task_id.in_(select(StoreTask.id).where(StoreTask.template_id == template.id)),
        TaskChecklistItem.item_id.not_in(template.checklist_ids or [""]))
        .execution_options(synchronize_session=False))
    # Lock the template's tasks in id order, the order sync pushes lock in: no deadlock.
    session.execute(select(StoreTask.id).where(StoreTask.template_id == template.id)
                    .order_by(StoreTask.id).with_for_update())
    due_at = template.due_for(campaign.published_at)
    common = dict(template_version=template.version, due_at=due_at,
                  max_claimants=template.max_claimants, updated_at=now)
    open_ids = list(session.scalars(
        update(StoreTask).where(StoreTask.template_id == template.id, StoreTask.status == "open")
        .values(version=StoreTask.version + 1, **common).returning(StoreTask.id)
        .execution_options(synchronize_session=False)))
    # Every task shows the template's text, whatever its state: all of them change for sync.
    changefeed.mark_tasks_where(session, StoreTask.template_id == template.id)
    events.announce_tasks("task_changed", session=session, now=now,
                          condition=(StoreTask.template_id == template.id)
                          & StoreTask.status.in_(ACTIVE_STATUSES))
    held = session.scalars(select(StoreTask).where(
        StoreTask.template_id == template.id,
        StoreTask.status.in_([status for status in ACTIVE_STATUSES if status != "open"]))
        .order_by(StoreTask.id).with_for_update(of=StoreTask)).all()
    for task in held:
        task.instructions_changed = True
        task.version += 1
        for key, value in common.items():
            setattr(task, key, value)
    audit.record_many(session, [
        dict(entity="task", entity_id=task_id, action="template_changed", user_id=actor.id,
             server_time=now, before=None, after={"template_version": template.version,
                                                  "instructions_changed": changed})
        for task_id, changed in [(i, False) for i in open_ids] + [(t.id, True) for t in held]])


# ---- publish and lifecycle ----------------------------------------------------------------

def preview(*, session: Session, actor: User, targeting: dict, templates: int = 0) -> dict:
    """How many stores a targeting selects, per region, and the tasks it would make."""
    by_region = targeting_rules.count_by_region(session, targeting)
    stores = sum(by_region.values())
    return {"stores": stores, "tasks": stores * templates, "by_region": by_region}


def preview_campaign(*, session: Session, actor: User, campaign_id: int) -> dict:
    """The targeting preview of a saved campaign."""
    campaign = campaign_by_id(session, campaign_id)
    return preview(session=session, actor=actor, targeting=campaign.targeting,
                   templates=len(campaign.templates))


def store_task_row(*, campaign_id: int, template_id: int, template_version: int, store_id: int,
                   due_at: dt.datetime | None, max_claimants: int, now: dt.datetime) -> dict:
    """The columns of a new open store task (publish, CSV import, recurrences, rule follow-ups)."""
    return dict(campaign_id=campaign_id, template_id=template_id, store_id=store_id,
                template_version=template_version, status="open", due_at=due_at,
                max_claimants=max_claimants, claimant_count=0,
                observed_prices={}, late=False, submitted_after_cancel=False,
                instructions_changed=False, version=1, qr_nonce=secrets.randbits(31),
                created_at=now, updated_at=now)


def publish(*, session: Session, actor: User, campaign_id: int) -> dict:
    """Create one store task per template per targeted store, in one transaction.

    Idempotent: pairs that already have a task are skipped, so publishing again
    creates nothing (or only the tasks of stores added to the targeting since).
    """
    campaign = campaign_by_id(session, campaign_id, lock=True)
    if campaign.status not in PUBLISHABLE:
        raise Conflict(f"A {campaign.status} campaign cannot be published.",
                       error="campaign_not_publishable", current_status=campaign.status)
    if not campaign.templates:
        raise ValidationFailed("Add at least one task before publishing.",
                               errors={"tasks": ["At least one task is required."]})
    store_ids = targeted_ids = targeting_rules.targeted_store_ids(session, campaign.targeting)
    if not targeted_ids:
        raise ValidationFailed("The targeting selects no store.", error="no_targeted_stores",
                               errors={"targeting": ["Selects no store."]})
    now = utcnow()
    first_publish = campaign.published_at is None
    if first_publish:
        campaign.published_at = now
        campaign.status = "scheduled" if campaign.starts_at > now else "live"
        campaign.version += 1
    existing = {(template_id, store_id) for template_id, store_id in session.execute(
        select(StoreTask.template_id, StoreTask.store_id).where(StoreTask.campaign_id == campaign.id))}
    rows = []
    for template in campaign.templates:
        if template.recurrence or template.recurrence_of_id:  # the worker makes occurrences
            continue
        due_at = template.due_for(campaign.published_at)
        rows.extend(
            store_task_row(campaign_id=campaign.id, template_id=template.id,
                           template_version=template.version, store_id=store_id, due_at=due_at,
                           max_claimants=template.max_claimants, now=now)
            for store_id in ([template.store_id] if template.store_id else store_ids)
            if (template.id, store_id) not in existing)
    if rows:
        inserts.insert_tasks(session, rows)
        new_tasks = (StoreTask.campaign_id == campaign.id) & (StoreTask.created_at == now)
        changefeed.mark_tasks_where(session, new_tasks)
        events.announce_tasks("task_published", session=session, condition=new_tasks, now=now)
    audit.record(session, entity="campaign", entity_id=campaign.id, action="published",
                 actor=actor, after={"stores": len(store_ids), "tasks_created": len(rows)}, at=now)
    db.commit(session)
    return {"stores": len(store_ids), "tasks_created": len(rows),
            "status": campaign.effective_status(now)}


def cancel(*, session: Session, actor: User, campaign_id: int, reason: str = "") -> dict:
    """Cancel the campaign and every task of it not yet approved (HQ)."""
    campaign = campaign_by_id(session, campaign_id, lock=True)
    if campaign.status in ("cancelled", "closed"):
        raise Conflict(f"The campaign is already {campaign.status}.", error="invalid_transition",
                       current_status=campaign.status)
    now = utcnow()
    live = session.execute(select(StoreTask.id, StoreTask.status).where(
        StoreTask.campaign_id == campaign.id, StoreTask.status.not_in(FINAL_STATUSES))
        .order_by(StoreTask.id).with_for_update(of=StoreTask)).all()
    session.execute(update(StoreTask)
                    .where(StoreTask.campaign_id == campaign.id,
                           StoreTask.status.not_in(FINAL_STATUSES))
                    .values(status="cancelled", version=StoreTask.version + 1, updated_at=now)
                    .execution_options(synchronize_session=False))
    changefeed.mark_tasks_where(session, StoreTask.campaign_id == campaign.id)
    events.announce_tasks("task_cancelled", session=session, now=now,
                          condition=(StoreTask.campaign_id == campaign.id)
                          & (StoreTask.status == "cancelled") & (StoreTask.updated_at == now))
    audit.record_many(session, [
        dict(entity="task", entity_id=task_id, action="cancelled", user_id=actor.id,
             server_time=now, before={"status": status},
             after={"status": "cancelled", "reason": reason or "campaign cancelled"})
        for task_id, status in live])
    audit.record(session, entity="campaign", entity_id=campaign.id, action="cancelled",
                 actor=actor, before={"status": campaign.status},
                 after={"status": "cancelled", "reason": reason, "tasks_cancelled": len(live)}, at=now)
    campaign.status = "cancelled"
    campaign.version += 1
    campaign.updated_at = now
    db.commit(session)
    return {"id": campaign.id, "status": campaign.status, "tasks_cancelled": len(live)}


def close(*, session: Session, actor: User, campaign_id: int) -> dict:
    """Close a published campaign: its tasks stay as they are for the record (HQ)."""
    campaign = campaign_by_id(session, campaign_id, lock=True)
    if campaign.status not in ("scheduled", "live"):
        raise Conflict(f"Only a published campaign can be closed; this one is {campaign.status}.",
                       error="invalid_transition", current_status=campaign.status)
    now = utcnow()
    audit.record(session, entity="campaign", entity_id=campaign.id, action="closed", actor=actor,
                 before={"status": campaign.status}, after={"status": "closed"}, at=now)
    campaign.status = "closed"
    changefeed.mark_tasks_where(session, StoreTask.campaign_id == campaign.id)
    events.announce_campaign("campaign_closed", session=session, campaign=campaign, now=now)
    campaign.version += 1
    campaign.updated_at = now
    db.commit(session)
    return {"id": campaign.id, "status": campaign.status, "tasks_cancelled": 0}
