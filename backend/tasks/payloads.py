"""Many tasks in the JSON shape of `GET /tasks/{id}` (StoreTaskSchema), from a few set-based
queries: the tasks with their stores, then their campaigns, templates, claims, checklist
registers, sales, notes and photos by task id — seven queries for a page of a thousand tasks,
no ORM object per task. ``tests/sync/test_sync_push.py`` (GET and pull send identical task JSON) holds it equal to the schema's dump."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, bindparam, select
from sqlalchemy.orm import Session, lazyload

from backend.campaigns.models import Campaign, TaskTemplate
from backend.db import utcnow
from backend.org.models import Store, User
from backend.tasks.models import (ACTIVE_STATUSES, StoreTask, TaskChecklistItem, TaskClaim,
                                  TaskNote, TaskPhoto, TaskSale, note_entry)

_CHUNK = 1000
_TASK_COLUMNS = [StoreTask.id, StoreTask.campaign_id, StoreTask.template_id,
                 StoreTask.template_version, StoreTask.status, StoreTask.due_at,
                 StoreTask.max_claimants, StoreTask.quantity, StoreTask.observed_prices,
                 StoreTask.review, StoreTask.submitted_at, StoreTask.late,
                 StoreTask.submitted_after_cancel, StoreTask.instructions_changed,
                 StoreTask.version, StoreTask.updated_at, Store.code.label("store_code")]


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _by_task(session: Session, statement, ids: list[int]) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for start in range(0, len(ids), _CHUNK):
        for row in session.execute(statement, {"ids": ids[start:start + _CHUNK]}):
            grouped.setdefault(row[0], []).append(row)
    return grouped


# Built once (``ids``: an expanding bound parameter): building them costs more than running them
# for the few tasks of a push's answer or a pull's page.
_IDS = bindparam("ids", expanding=True)
_TASKS = select(*_TASK_COLUMNS).join(Store, StoreTask.store_id == Store.id).where(StoreTask.id.in_(_IDS))
# Without their templates (eager by default): the page reads the few template columns it shows
# below, and a thousand template objects would cost more than the page.
_CAMPAIGNS = select(Campaign).options(lazyload(Campaign.templates)).where(Campaign.id.in_(_IDS))
_TEMPLATES = select(TaskTemplate.id, TaskTemplate.title, TaskTemplate.instructions, TaskTemplate.kind,
                    TaskTemplate.script_hint, TaskTemplate.proof, TaskTemplate.checklist
                    ).where(TaskTemplate.id.in_(_IDS))
_CLAIMS = (select(TaskClaim.task_id, User.username, User.display_name, TaskClaim.claimed_at)
           .join(User, TaskClaim.user_id == User.id).where(TaskClaim.task_id.in_(_IDS))
           .order_by(TaskClaim.task_id, TaskClaim.claimed_at, TaskClaim.id))
_REGISTERS = select(TaskChecklistItem.task_id, TaskChecklistItem.item_id, TaskChecklistItem.done,
                    TaskChecklistItem.by_username, TaskChecklistItem.edited_at).where(
    TaskChecklistItem.task_id.in_(_IDS), TaskChecklistItem.edited_at.is_not(None))
_SALES = (select(TaskSale.task_id, TaskSale.sku, TaskSale.quantity).where(TaskSale.task_id.in_(_IDS))
          .order_by(TaskSale.task_id, TaskSale.sku))
_NOTES = (select(TaskNote.task_id, TaskNote.text, TaskNote.by_username, TaskNote.added_at,
                 TaskNote.client_time).where(TaskNote.task_id.in_(_IDS))
          .order_by(TaskNote.task_id, TaskNote.id))
_PHOTOS = (select(TaskPhoto.task_id, TaskPhoto.sha256, User.username, TaskPhoto.added_at)
           .join(User, TaskPhoto.added_by_id == User.id).where(TaskPhoto.task_id.in_(_IDS))
           .order_by(TaskPhoto.task_id, TaskPhoto.id))


def task_payloads(session: Session, task_ids: list[int],
                  campaigns: dict[int, Campaign] | None = None,
                  scope: ColumnElement[bool] | None = None) -> dict[int, dict]:
    """{task id: the task's JSON} for the tasks that exist and match ``scope`` (a condition on
    StoreTask, e.g. ``policy.store_scope``; reads only). ``campaigns`` is a cache the caller
    may keep across calls: campaigns not in it are loaded into it."""
    ids = sorted(set(task_ids))
    if not ids:
        return {}
    now = utcnow()
    statement = _TASKS if scope is None else _TASKS.where(scope)
    tasks = [row for start in range(0, len(ids), _CHUNK)
             for row in session.execute(statement, {"ids": ids[start:start + _CHUNK]})]
    ids = [row.id for row in tasks]
    if not ids:
        return {}
    campaigns = campaigns if campaigns is not None else {}
    missing = {row.campaign_id for row in tasks} - set(campaigns)
    if missing:
        campaigns.update((c.id, c) for c in session.scalars(_CAMPAIGNS, {"ids": sorted(missing)}))
    templates = {t.id: t for t in session.execute(
        _TEMPLATES, {"ids": sorted({row.template_id for row in tasks})})}
    claims = _by_task(session, _CLAIMS, ids)
    registers = _by_task(session, _REGISTERS, ids)
    sales = _by_task(session, _SALES, ids)
    notes = _by_task(session, _NOTES, ids)
    photos = _by_task(session, _PHOTOS, ids)
    campaign_json = {campaign_id: {
        "id": c.id, "code": c.code, "title": c.title, "status": c.effective_status(now),
        "ends_at": c.ends_at.isoformat(), "featured_skus": c.featured_skus,
        "promo_prices": c.promo_prices} for campaign_id, c in campaigns.items()}
    result = {}
    for row in tasks:
        template = templates[row.template_id]
        state = {r.item_id: r for r in registers.get(row.id, ())}
        result[row.id] = {
            "id": row.id, "campaign_id": row.campaign_id, "campaign": campaign_json[row.campaign_id],
            "template_id": row.template_id, "template_version": row.template_version,
            "store": row.store_code, "title": template.title, "instructions": template.instructions,
            "kind": template.kind, "script_hint": template.script_hint, "proof": template.proof,
            "status": row.status, "due_at": _iso(row.due_at),
            "overdue": row.status in ACTIVE_STATUSES and row.due_at is not None and now > row.due_at,
            "max_claimants": row.max_claimants,
            "claimants": [{"username": c.username, "display_name": c.display_name,
                           "claimed_at": _iso(c.claimed_at)} for c in claims.get(row.id, ())],
            "checklist": {item["id"]: {
                "label": item["label"], "done": bool(state[item["id"]].done) if item["id"] in state else False,
                "by": state[item["id"]].by_username if item["id"] in state else None,
                "at": _iso(state[item["id"]].edited_at) if item["id"] in state else None}
                for item in template.checklist},
            "sales": {s.sku: s.quantity for s in sales.get(row.id, ())},
            "quantity": row.quantity, "observed_prices": row.observed_prices,
            "notes": [note_entry(n.text, n.by_username, n.added_at, n.client_time)
                      for n in notes.get(row.id, ())],
            "photos": [{"sha256": p.sha256, "by": p.username, "at": _iso(p.added_at)}
                       for p in photos.get(row.id, ())],
            "review": row.review, "submitted_at": _iso(row.submitted_at), "late": row.late,
            "submitted_after_cancel": row.submitted_after_cancel,
            "instructions_changed": row.instructions_changed, "version": row.version,
            "updated_at": _iso(row.updated_at)}
    return result
