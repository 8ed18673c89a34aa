"""People from a CSV file (HQ): every line checked first, any bad line rejects the whole file.

Columns: username, display_name, role, and as needed store (clerks), regions (supervisors,
separated by spaces or ';'), locale, password. A username already there is updated to the
line (name, role, binding, language) and keeps its password; a new one needs a password.
Importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

import csv
import io
import re

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import changefeed, db
from backend.auth import policy
from backend.auth import service as auth
from backend.auth.passwords import hash_password
from backend.common.schemas import line_problems
from backend.errors import ValidationFailed
from backend.org.models import Region, Store, User
from backend.org.schemas import UserCreateSchema
from backend.tasks.models import StoreTask, TaskClaim

REQUIRED_COLUMNS = ("username", "display_name", "role")
OPTIONAL_COLUMNS = ("store", "regions", "locale", "password")
MAX_LINES = 5000


class _ExistingUserSchema(UserCreateSchema):
    """A line naming a user who exists: the password column is not needed (nor used)."""

    password = ma.fields.String(load_default=None, allow_none=True)


def _binding_problems(role: str, store: str | None, regions: list[str],
                      stores: dict[str, Store], known_regions: dict[str, Region]) -> list[str]:
    """What is wrong with a line's store and regions for its role (the rules of org.service)."""
    if role == policy.CLERK:
        if not store:
            return ["store: A clerk needs a store."]
        problems = [] if store in stores else [f"store: Unknown store '{store}'."]
        return problems + (["regions: Clerks have a store, not regions."] if regions else [])
    if role == policy.SUPERVISOR:
        if store:
            return ["store: Supervisors have regions, not a store."]
        if not regions:
            return ["regions: A supervisor needs at least one region."]
        return [f"regions: Unknown region '{code}'." for code in regions if code not in known_regions]
    return ["role: HQ admins have neither a store nor regions."] if store or regions else []


def _parse(text: str, existing: set[str], stores: dict, regions: dict) -> tuple[list[dict], dict]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        return [], {"header": [f"Missing column(s): {', '.join(missing)}."]}
    reader.fieldnames = columns
    rows, errors, seen = [], {}, {}
    for row in reader:
        line = reader.line_num
        if reader.line_num > MAX_LINES + 1:
            errors[f"line {line}"] = [f"Longer than maximum length {MAX_LINES}."]
            break
        raw = {key: (row.get(key) or "").strip()
               for key in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if key in columns}
        body = {**raw, "store": raw.get("store") or None,
                "regions": [code for code in re.split(r"[\s;,|]+", raw.get("regions", "")) if code],
                "locale": raw.get("locale") or "zh-CN"}
        if not body.get("password"):
            body.pop("password", None)
        schema = _ExistingUserSchema() if body.get("username") in existing else UserCreateSchema()
        try:
            loaded = schema.load(body)
        except ma.ValidationError as exc:
            errors[f"line {line}"] = line_problems(exc)
            continue
        problems = _binding_problems(loaded["role"], loaded["store"], loaded["regions"],
                                     stores, regions)
        if loaded["username"] in seen:
            problems.append(f"username: duplicate of line {seen[loaded['username']]}.")
        if problems:
            errors[f"line {line}"] = problems
            continue
        seen[loaded["username"]] = line
        rows.append(loaded)
    return rows, errors


def _apply(session: Session, user: User, row: dict, stores: dict, regions: dict) -> bool:
    """Set the user to the line; True when anything changed."""
    store = stores[row["store"]] if row["store"] else None
    bound = sorted({regions[code].id for code in row["regions"]})
    before = (user.display_name, user.role, user.locale, user.store_id,
              sorted(region.id for region in user.regions))
    after = (row["display_name"], row["role"], row["locale"], store.id if store else None, bound)
    if before == after:
        return False
    if user.id is not None and user.role != row["role"]:
        auth.end_every_session(session, user)  # a new role signs in anew
    if user.id is not None and user.display_name != row["display_name"]:
        # Claimant names travel inside the tasks they hold.
        changefeed.mark_tasks_where(session, StoreTask.id.in_(
            select(TaskClaim.task_id).where(TaskClaim.user_id == user.id)))
    user.display_name, user.role, user.locale = row["display_name"], row["role"], row["locale"]
    user.store = store
    user.regions = [regions[code] for code in sorted(set(row["regions"]))]
    return True


def import_users(*, session: Session, actor: User, text: str) -> dict:
    """Create or update people from CSV; any bad line rejects the whole file (422 invalid_csv,
    errors keyed 'line N')."""
    existing = {user.username: user for user in session.scalars(select(User))}
    stores = {store.code: store for store in session.scalars(select(Store))}
    regions = {region.code: region for region in session.scalars(select(Region))}
    try:
        rows, errors = _parse(text, set(existing), stores, regions)
    except csv.Error as exc:
        raise ValidationFailed(f"The file is not readable CSV: {exc}.", error="invalid_csv",
                               errors={"file": [str(exc)]})
    if errors:
        raise ValidationFailed(f"{len(errors)} line(s) of the CSV are invalid; nothing was imported.",
                               error="invalid_csv", errors=errors)
    counts = {"imported": len(rows), "created": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        user = existing.get(row["username"])
        if user is None:
            user = User(username=row["username"], password_hash=hash_password(row["password"]),
                        active=True)
            _apply(session, user, row, stores, regions)
            session.add(user)
            counts["created"] += 1
        elif _apply(session, user, row, stores, regions):
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    db.commit(session)
    return counts
