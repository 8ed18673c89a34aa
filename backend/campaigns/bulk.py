"""Store-specific tasks from CSV (SPEC §13): ``store_code,title,instructions,kind,due_at``.

Each line becomes a template of the campaign that belongs to one store (``store_id``) and, once
the campaign is published, that store's task. The line's (store, title) is its import key, so
importing the same file again adds nothing; any bad line rejects the whole file, with one error
list per line, and nothing is written.
"""

from __future__ import annotations

import csv
import hashlib
import io

import marshmallow as ma
from marshmallow import validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit, changefeed, events
from backend.campaigns.models import TASK_KINDS, TaskTemplate
from backend.campaigns.service import campaign_by_id, store_task_row
from backend.common.schemas import Instant, StrictSchema, Text, line_problems
from backend.db import utcnow
from backend.errors import Conflict, ValidationFailed
from backend.org.models import Store, User
from backend.tasks import inserts
from backend.tasks.models import StoreTask

COLUMNS = ("store_code", "title", "instructions", "kind", "due_at")
MAX_LINES = 20_000
OPEN_FOR_IMPORT = ("draft", "scheduled", "live")


class TaskLineSchema(StrictSchema):
    store_code = Text(required=True, validate=validate.Length(min=1, max=40))
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    instructions = Text(load_default="", validate=validate.Length(max=10_000))
    kind = Text(load_default="other", validate=validate.OneOf(TASK_KINDS))
    due_at = Instant(load_default=None, allow_none=True)


def import_key(store_code: str, title: str) -> str:
    """What makes a line the same line in a later import."""
    return hashlib.sha256(f"{store_code}\x1f{title}".encode()).hexdigest()[:40]


def _parse(text: str, stores: dict[str, int]) -> tuple[list[dict], dict]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in ("store_code", "title") if column not in (reader.fieldnames or [])]
    unknown = [column for column in (reader.fieldnames or []) if column not in COLUMNS]
    if missing or unknown:
        return [], {"header": [f"Expected columns {','.join(COLUMNS)}"
                               + (f"; missing {', '.join(missing)}" if missing else "")
                               + (f"; unknown {', '.join(unknown)}" if unknown else "") + "."]}
    schema = TaskLineSchema()
    rows, errors, seen = [], {}, {}
    for row in reader:
        line = reader.line_num
        if len(rows) + len(errors) >= MAX_LINES:
            errors["file"] = [f"At most {MAX_LINES} lines per import."]
            break
        if None in row:  # more fields than the header names
            errors[f"line {line}"] = ["More fields than the header has columns."]
            continue
        raw = {key: (value or "").strip() for key, value in row.items()}
        if not raw.get("due_at"):
            raw.pop("due_at", None)
        for optional in ("instructions", "kind"):
            if optional in raw and not raw[optional]:
                raw.pop(optional)
        try:
            loaded = schema.load(raw)
        except ma.ValidationError as exc:
            errors[f"line {line}"] = line_problems(exc)
            continue
        if loaded["store_code"] not in stores:
            errors[f"line {line}"] = [f"store_code: no store {loaded['store_code']}."]
            continue
        key = import_key(loaded["store_code"], loaded["title"])
        if key in seen:
            errors[f"line {line}"] = [f"title: the same store and title as line {seen[key]}."]
            continue
        seen[key] = line
        rows.append({**loaded, "key": key, "store_id": stores[loaded["store_code"]]})
    return rows, errors


def import_tasks(*, session: Session, actor: User, campaign_id: int, text: str) -> dict:
    """Add the file's store-specific tasks to the campaign (HQ); idempotent by (store, title)."""
    campaign = campaign_by_id(session, campaign_id, lock=True)
    if campaign.status not in OPEN_FOR_IMPORT:
        raise Conflict(f"Tasks cannot be added to a {campaign.status} campaign.",
                       error="campaign_not_open", current_status=campaign.status)
    stores = dict(session.execute(select(Store.code, Store.id)).all())
    try:
        rows, errors = _parse(text, stores)
    except csv.Error as exc:
        raise ValidationFailed(f"The file is not readable CSV: {exc}.", error="invalid_csv",
                               errors={"file": [str(exc)]})
    if errors:
        raise ValidationFailed(f"{len(errors)} line(s) of the CSV are invalid; nothing was imported.",
                               error="invalid_csv", errors=errors)
    if not rows:
        raise ValidationFailed("The file has no task lines.", error="invalid_csv",
                               errors={"file": ["No lines."]})
    known = set(session.scalars(select(TaskTemplate.import_key).where(
        TaskTemplate.campaign_id == campaign.id, TaskTemplate.import_key.in_([r["key"] for r in rows]))))
    fresh = [row for row in rows if row["key"] not in known]
    now = utcnow()
    position = max((t.position for t in campaign.templates), default=-1) + 1
    templates = []
    for offset, row in enumerate(fresh):
        template = TaskTemplate(position=position + offset, title=row["title"],
                                instructions=row["instructions"], kind=row["kind"], checklist=[],
                                proof={"photos": 0, "quantity": False, "observed_price": False},
                                due_at=row["due_at"], max_claimants=1, script_hint="", version=1,
                                store_id=row["store_id"], import_key=row["key"])
        campaign.templates.append(template)
        templates.append(template)
    session.flush()
    created_tasks = 0
    if templates and campaign.published_at is not None:  # published: the stores get them now
        inserts.insert_tasks(session, [
            store_task_row(campaign_id=campaign.id, template_id=t.id, template_version=t.version,
                           store_id=t.store_id, due_at=t.due_for(campaign.published_at),
                           max_claimants=t.max_claimants, now=now) for t in templates])
        created_tasks = len(templates)
        new_tasks = StoreTask.template_id.in_([t.id for t in templates])
        changefeed.mark_tasks_where(session, new_tasks)
        events.announce_tasks("task_published", session=session, condition=new_tasks, now=now)
    audit.record(session, entity="campaign", entity_id=campaign.id, action="tasks_imported", actor=actor,
                 after={"lines": len(rows), "added": len(fresh), "tasks_created": created_tasks}, at=now)
    session.commit()
    return {"lines": len(rows), "added": len(fresh), "existing": len(rows) - len(fresh),
            "tasks_created": created_tasks}
