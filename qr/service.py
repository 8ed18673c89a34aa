"""QR codes of store tasks and claiming by scan (SPEC §4).

``claim_by_qr`` is the one claim service: the HTTP endpoint and the offline
``claim_task`` sync mutation both call it. The winner is whoever's claim reaches the
server first; the client's scan time is recorded, never used to decide.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from backend import db
from backend.auth import policy
from backend.campaigns.models import Campaign
from backend.db import utcnow
from backend.errors import Conflict, Forbidden, Gone, NotFound, ValidationFailed
from backend.org.models import Store, User
from backend.tasks import history
from backend.tasks import service as tasks
from backend.tasks.models import StoreTask, TaskClaim
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


@dataclass(frozen=True)
class Claimant:
    username: str
    display_name: str
    claimed_at: dt.datetime


@dataclass(frozen=True)
class ClaimedTask:
    """The slim answer's task: what a scan changes."""

    id: int
    status: str
    version: int
    claimants: list[Claimant]


@dataclass
class ClaimResult:
    """The task after the claim, and whether this scan made a new claim."""

    task: ClaimedTask
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
    history.touch(session, task, actor, "qr_rotated", {"version": task.version}, utcnow())
    db.commit(session)
    token, expires_at = token_for(task, settings)
    return {"token": token, "expires_at": expires_at, "short_code": short_code_for(task, settings)}


def short_code_for(task: StoreTask, settings: QrSettings) -> str:
    """The code printed under the task's QR, typed when the camera cannot read it."""
    return tokens.short_code(task.id, task.qr_nonce, settings.keyring)


@dataclass(frozen=True)
class _TaskForClaim:
    id: int
    store_id: int
    store_code: str
    status: str
    campaign_status: str
    qr_nonce: int
    version: int
    full: bool
    due_at: dt.datetime | None
    campaign_ends_at: dt.datetime
    holders: list[Claimant]


# Built once (a burst of scans runs it hundreds of times a second; building it costs more than
# running it).
_TASK_FOR_CLAIM = (
    select(StoreTask.id, StoreTask.store_id, Store.code, StoreTask.status, Campaign.status,
           StoreTask.qr_nonce, StoreTask.version,
           StoreTask.claimant_count >= StoreTask.max_claimants, StoreTask.due_at, Campaign.ends_at,
           User.username, User.display_name, TaskClaim.claimed_at)
    .join(Store, StoreTask.store_id == Store.id).join(Campaign, StoreTask.campaign_id == Campaign.id)
    .outerjoin(TaskClaim, TaskClaim.task_id == StoreTask.id)
    .outerjoin(User, TaskClaim.user_id == User.id)
    .where(StoreTask.id == bindparam("task_id")).order_by(TaskClaim.claimed_at, TaskClaim.id))


def _task_for_claim(session: Session, task_id: int) -> _TaskForClaim | None:
    """The task as one statement sees it (no lock): what the checks need, and its claimants."""
    rows = session.execute(_TASK_FOR_CLAIM, {"task_id": task_id}).all()
    if not rows:
        return None
    return _TaskForClaim(*rows[0][:10], holders=[Claimant(*row[10:]) for row in rows if row[10] is not None])


def _forget_loaded_task(session: Session, task_id: int) -> None:
    """A caller (sync push) may hold the task loaded: it must see the claim written in SQL."""
    loaded = session.identity_map.get(session.identity_key(StoreTask, task_id))
    if loaded is not None:
        session.expire(loaded)


def _refuse_or_rescan(session: Session, actor: User, task: _TaskForClaim) -> ClaimResult:
    """The answer when this scan makes no new claim: the clerk already holds it (the same
    claim), the task cannot be claimed, or every place is taken."""
    mine = next((c for c in task.holders if c.username == actor.username), None)
    if mine is not None:  # a re-scan by a holder is the same claim, whatever happened since
        db.commit(session)
        return ClaimResult(task=ClaimedTask(task.id, task.status, task.version, task.holders),
                           created=False, username=actor.username, claimed_at=mine.claimed_at)
    if task.status in NOT_CLAIMABLE_TASK or task.campaign_status in NOT_CLAIMABLE_CAMPAIGN:
        raise Conflict(f"The task is {task.status} (campaign {task.campaign_status}); it cannot be claimed.",
                       error="task_not_claimable", current_status=task.status,
                       campaign_status=task.campaign_status)
    raise Conflict("The task already has all the claimants it allows.", error="task_already_claimed",
                   held_by=[{"username": c.username, "claimed_at": c.claimed_at.isoformat()}
                            for c in task.holders],
                   since=task.holders[0].claimed_at.isoformat() if task.holders else None)


def _task_of_code(session: Session, settings: QrSettings, now: dt.datetime, *,
                  qr_token: str | None, short_code: str | None) -> tuple[_TaskForClaim, int | None]:
    """The task a scanned token or a typed short code names, after checking the code's
    signature and expiry (InvalidQr, QrExpired), with the nonce a token carries (its rotation
    is checked after the store: another store's clerk learns nothing about it)."""
    if qr_token is not None:
        claims = tokens.verify(qr_token, settings.keyring, now)
        task_id, store_id = claims.task_id, claims.store_id
    else:
        code = tokens.parse_short_code(short_code or "")
        task_id, store_id = code.task_id, None
    task = _task_for_claim(session, task_id)
    if task is None or (store_id is not None and task.store_id != store_id):
        raise tokens.InvalidQr("This code names no task.")
    if qr_token is None:
        # A short code carries no expiry and only matches the task's current nonce: a code of
        # a rotated QR reads as not valid (it cannot be told from a mistyped one).
        if not code.matches(task.qr_nonce, settings.keyring):
            raise tokens.InvalidQr("This short code is not valid; check it against the sheet.")
        expires_at = (task.due_at or task.campaign_ends_at) + settings.grace
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
    SPEC §4; nothing written on refusal.

    Built for a burst of scans on one task: one read decides re-scans and refusals without a
    lock, so losers never queue; a scan that can win takes the place and writes its claim in one
    statement (``tasks.take_claim``, conditional on capacity: the database decides the race),
    then the event row, and the change-feed row at commit."""
    now = now or utcnow()
    task, nonce = _task_of_code(session, settings, now, qr_token=qr_token, short_code=short_code)
    if actor.role != policy.CLERK or actor.store_id != task.store_id:
        raise Forbidden(f"This task belongs to store {task.store_code}.", error="wrong_store",
                        store=task.store_code)
    if nonce is not None and task.qr_nonce != nonce:
        raise Gone("This code was replaced by a newer one; scan the current sheet.",
                   error="qr_revoked")
    if (task.full or task.status in NOT_CLAIMABLE_TASK or task.campaign_status in NOT_CLAIMABLE_CAMPAIGN
            or any(c.username == actor.username for c in task.holders)):
        return _refuse_or_rescan(session, actor, task)
    _forget_loaded_task(session, task.id)
    before = {"status": task.status, "claimants": sorted(c.username for c in task.holders),
              "version": task.version}
    taken = tasks.claim_scanned(session, task_id=task.id, clerk=actor, now=now, before=before,
                                client_id=client_id, scanned_at=scanned_at)
    if taken is None:  # someone was faster (or the task changed) since the read: read again
        return _refuse_or_rescan(session, actor, _task_for_claim(session, task.id))
    status, version = taken
    after = [*task.holders, Claimant(actor.username, actor.display_name, now)]
    db.commit(session)
    return ClaimResult(task=ClaimedTask(task.id, status, version, after), created=True,
                       username=actor.username, claimed_at=now)


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
