"""QR codes of store tasks and claiming by scan (SPEC §4).

``claim_by_qr`` is the one claim service: the HTTP endpoint and the offline
``claim_task`` sync mutation both call it. The winner is whoever's claim reaches the
server first; the client's scan time is recorded, never used to decide.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit, db
from backend.auth import policy
from backend.campaigns.models import Campaign
from backend.db import utcnow
from backend.errors import Conflict, Forbidden, Gone, NotFound, ValidationFailed
from backend.org.models import Store, User
from backend.tasks import service as tasks
from backend.tasks.models import StoreTask
from qr import render, tokens

NOT_CLAIMABLE_TASK = ("submitted", "approved", "cancelled")
NOT_CLAIMABLE_CAMPAIGN = ("closed", "cancelled")


@dataclass(frozen=True)
class QrSettings:
    """Keys and expiry policy, from the app config."""

    keyring: tokens.Keyring
    grace: dt.timedelta

    @classmethod
    def from_config(cls, config) -> QrSettings:
        spec = config.get("QR_SIGNING_KEYS") or ""
        keyring = tokens.parse_keyring(spec) if spec else tokens.derived_keyring(config["SECRET_KEY"])
        return cls(keyring=keyring, grace=dt.timedelta(hours=config.get("QR_GRACE_HOURS", 72)))


@dataclass
class ClaimResult:
    """The task after the claim, and whether this scan made a new claim."""

    task: StoreTask
    created: bool
    username: str
    claimed_at: dt.datetime


def expiry_of(task: StoreTask, grace: dt.timedelta) -> dt.datetime:
    """A code lives until the task's due time (or the campaign's end) plus a grace period."""
    return (task.due_at or task.campaign.ends_at) + grace


def token_for(task: StoreTask, settings: QrSettings) -> tuple[str, dt.datetime]:
    """The task's current token and its expiry (the same until the QR is rotated)."""
    expires_at = expiry_of(task, settings.grace)
    claims = tokens.QrClaims(task_id=task.id, store_id=task.store_id, expires_at=expires_at,
                             nonce=task.qr_nonce)
    return tokens.sign(claims, settings.keyring), expires_at.replace(second=0, microsecond=0)


def _managed_task(session: Session, actor: User, task_id: int, *, lock: bool = False) -> StoreTask:
    task = tasks.visible_task(session, actor, task_id, lock=lock)
    policy.ensure_can_manage_store(actor, task.store)
    return task


def get_qr(*, session: Session, actor: User, task_id: int, settings: QrSettings) -> dict:
    """The token of a task, for HQ and the store's supervisor."""
    task = _managed_task(session, actor, task_id)
    token, expires_at = token_for(task, settings)
    return {"token": token, "expires_at": expires_at, "short_code": short_code_for(task, settings)}


def qr_image(*, session: Session, actor: User, task_id: int, settings: QrSettings,
             image_format: str) -> bytes:
    """The task's QR as PNG or SVG."""
    token, _ = token_for(_managed_task(session, actor, task_id), settings)
    return render.qr_png(token) if image_format == "png" else render.qr_svg(token)


def rotate_qr(*, session: Session, actor: User, task_id: int, settings: QrSettings) -> dict:
    """Draw a new nonce: every code printed before answers 410 qr_revoked from now on."""
    task = _managed_task(session, actor, task_id, lock=True)
    old = task.qr_nonce
    while task.qr_nonce == old:
        task.qr_nonce = secrets.randbits(31)
    task.version += 1
    task.updated_at = utcnow()
    audit.record(session, entity="task", entity_id=task.id, action="qr_rotated", actor=actor,
                 before={"version": task.version - 1}, after={"version": task.version})
    db.commit(session)
    token, expires_at = token_for(task, settings)
    return {"token": token, "expires_at": expires_at, "short_code": short_code_for(task, settings)}


def short_code_for(task: StoreTask, settings: QrSettings) -> str:
    """The code printed under the task's QR, typed when the camera cannot read it."""
    return tokens.short_code(task.id, task.qr_nonce, settings.keyring)


def _task_of_code(session: Session, settings: QrSettings, now: dt.datetime, *,
                  qr_token: str | None, short_code: str | None) -> tuple[StoreTask, int | None]:
    """The locked task a scanned token or a typed short code names, after checking the code's
    signature and expiry (InvalidQr, QrExpired), with the nonce a token carries (its rotation
    is checked after the store: another store's clerk learns nothing about it)."""
    if qr_token is not None:
        claims = tokens.verify(qr_token, settings.keyring, now)
        task_id, store_id = claims.task_id, claims.store_id
    else:
        code = tokens.parse_short_code(short_code or "")
        task_id, store_id = code.task_id, None
    task = session.scalar(select(StoreTask).where(StoreTask.id == task_id)
                          .with_for_update(of=StoreTask))
    if task is None or (store_id is not None and task.store_id != store_id):
        raise tokens.InvalidQr("This code names no task.")
    if qr_token is None:
        # A short code carries no expiry and only matches the task's current nonce: a code of
        # a rotated QR reads as not valid (it cannot be told from a mistyped one).
        if not code.matches(task.qr_nonce, settings.keyring):
            raise tokens.InvalidQr("This short code is not valid; check it against the sheet.")
        expires_at = expiry_of(task, settings.grace)
        if now >= expires_at:
            raise tokens.QrExpired("This code has expired; ask for a fresh sheet.",
                                   expired_at=expires_at.isoformat())
        return task, None
    return task, claims.nonce


def claim_by_qr(*, session: Session, actor: User, settings: QrSettings,
                qr_token: str | None = None, short_code: str | None = None,
                client_id: str | None = None, scanned_at: dt.datetime | None = None,
                now: dt.datetime | None = None) -> ClaimResult:
    """Claim the task a scanned code (or a typed short code) names, with every check of
    SPEC §4; nothing written on refusal."""
    now = now or utcnow()
    task, nonce = _task_of_code(session, settings, now, qr_token=qr_token, short_code=short_code)
    if actor.role != policy.CLERK or actor.store_id != task.store_id:
        raise Forbidden(f"This task belongs to store {task.store.code}.", error="wrong_store",
                        store=task.store.code)
    if nonce is not None and task.qr_nonce != nonce:
        raise Gone("This code was replaced by a newer one; scan the current sheet.",
                   error="qr_revoked")
    mine = next((claim for claim in task.claims if claim.user_id == actor.id), None)
    if mine is not None:  # a re-scan by a holder is the same claim, whatever happened since
        db.commit(session)
        return ClaimResult(task=task, created=False, username=actor.username,
                           claimed_at=mine.claimed_at)
    campaign: Campaign = task.campaign
    if task.status in NOT_CLAIMABLE_TASK or campaign.status in NOT_CLAIMABLE_CAMPAIGN:
        raise Conflict(f"The task is {task.status} (campaign {campaign.status}); it cannot be claimed.",
                       error="task_not_claimable", status=task.status,
                       campaign_status=campaign.status)
    before = {"status": task.status, "claimants": sorted(c.user.username for c in task.claims),
              "version": task.version}
    tasks.add_claimant(session, task, actor, now, client_id=client_id, scanned_at=scanned_at)
    task.version += 1
    task.updated_at = now
    session.flush()
    audit.record(session, entity="task", entity_id=task.id, action="claimed", actor=actor,
                 before=before, after={"status": task.status, "version": task.version,
                                       "claimants": sorted(c.user.username for c in task.claims),
                                       "via": "qr"},
                 client_id=client_id, client_time=scanned_at, at=now)
    db.commit(session)
    return ClaimResult(task=task, created=True, username=actor.username, claimed_at=now)


def qr_sheet(*, session: Session, actor: User, campaign_id: int, settings: QrSettings,
             store: str | None, sheet_format: str) -> bytes:
    """Printable sheet: one A4 page per store (one store, or every store of the campaign in scope)."""
    if sheet_format == "png" and not store:
        raise ValidationFailed("A PNG sheet is one store's page: add ?store=CODE (or use PDF).",
                               errors={"store": ["Required for format=png."]})
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"No campaign {campaign_id}.")
    statement = (select(StoreTask).join(Store, StoreTask.store_id == Store.id)
                 .where(StoreTask.campaign_id == campaign.id,
                        policy.store_scope(actor, StoreTask.store_id))
                 .order_by(Store.code, StoreTask.template_id))
    if store:
        target = session.scalar(select(Store).where(Store.code == store))
        if target is None:
            raise NotFound(f"No store '{store}'.")
        policy.ensure_can_manage_store(actor, target)
        statement = statement.where(StoreTask.store_id == target.id)
    pages: dict[int, list[StoreTask]] = {}
    for task in session.scalars(statement):
        pages.setdefault(task.store_id, []).append(task)
    if not pages:
        raise NotFound("This campaign has no tasks for that store (is it published?).")
    sheet_pages = [render.SheetPage(
        store_code=store_tasks[0].store.code, store_name=store_tasks[0].store.name,
        store_timezone=store_tasks[0].store.timezone, campaign_title=campaign.title,
        items=[render.SheetItem(title=task.template.title, due_at=task.due_at,
                                token=token_for(task, settings)[0],
                                short_code=short_code_for(task, settings)) for task in store_tasks])
        for store_tasks in pages.values()]
    if sheet_format == "png":
        return render.sheet_png(sheet_pages[0])
    return render.sheet_pdf(sheet_pages)
