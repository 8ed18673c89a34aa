"""Many tasks in the JSON shape of `GET /tasks/{id}` (StoreTaskSchema), from a few set-based
queries: the tasks with their stores, then their campaigns, templates, claims, checklist
registers, sales, notes and photos by task id — seven queries for a page of a thousand tasks,
no ORM object per task. ``tests/test_task_payloads.py`` holds it equal to the schema's dump."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, select, true
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
        for row in session.execute(statement(ids[start:start + _CHUNK])):
            grouped.setdefault(row[0], []).append(row)
    return grouped


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
    tasks = [row for start in range(0, len(ids), _CHUNK) for row in session.execute(
        select(*_TASK_COLUMNS).join(Store, StoreTask.store_id == Store.id)
        .where(StoreTask.id.in_(ids[start:start + _CHUNK]), true() if scope is None else scope))]
    ids = [row.id for row in tasks]
    if not ids:
        return {}
    campaigns = campaigns if campaigns is not None else {}
    missing = {row.campaign_id for row in tasks} - set(campaigns)
    if missing:
        # Without their templates (eager by default): the page reads the few template columns
        # it shows below, and a thousand template objects would cost more than the page.
        campaigns.update((c.id, c) for c in session.scalars(
            select(Campaign).options(lazyload(Campaign.templates)).where(Campaign.id.in_(missing))))
    templates = {t.id: t for t in session.execute(
        select(TaskTemplate.id, TaskTemplate.title, TaskTemplate.instructions, TaskTemplate.kind,
               TaskTemplate.script_hint, TaskTemplate.proof, TaskTemplate.checklist)
        .where(TaskTemplate.id.in_({row.template_id for row in tasks})))}
    claims = _by_task(session, lambda chunk: select(
        TaskClaim.task_id, User.username, User.display_name, TaskClaim.claimed_at)
        .join(User, TaskClaim.user_id == User.id).where(TaskClaim.task_id.in_(chunk))
        .order_by(TaskClaim.task_id, TaskClaim.claimed_at, TaskClaim.id), ids)
    registers = _by_task(session, lambda chunk: select(
        TaskChecklistItem.task_id, TaskChecklistItem.item_id, TaskChecklistItem.done,
        TaskChecklistItem.by_username, TaskChecklistItem.edited_at)
        .where(TaskChecklistItem.task_id.in_(chunk), TaskChecklistItem.edited_at.is_not(None)), ids)
    sales = _by_task(session, lambda chunk: select(TaskSale.task_id, TaskSale.sku, TaskSale.quantity)
                     .where(TaskSale.task_id.in_(chunk)).order_by(TaskSale.task_id, TaskSale.sku), ids)
    notes = _by_task(session, lambda chunk: select(
        TaskNote.task_id, TaskNote.text, TaskNote.by_username, TaskNote.added_at, TaskNote.client_time)
        .where(TaskNote.task_id.in_(chunk)).order_by(TaskNote.task_id, TaskNote.id), ids)
    photos = _by_task(session, lambda chunk: select(
        TaskPhoto.task_id, TaskPhoto.sha256, User.username, TaskPhoto.added_at)
        .join(User, TaskPhoto.added_by_id == User.id).where(TaskPhoto.task_id.in_(chunk))
        .order_by(TaskPhoto.task_id, TaskPhoto.id), ids)
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
