"""POS files imported in the background: the console queues the upload, the worker imports it.

The page that queued it polls the import's progress (lines processed of the file's lines) and
then shows its report. The import itself is ``service.import_sales``, one transaction, so the
progress travels apart from it: PostgreSQL gets each step committed by a second session; SQLite
allows one writer at a time, so there the steps are kept in this process's memory (the embedded
default runs the worker inside the web process) and the row gets the total at the end.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from backend import db
from backend.auth import policy
from backend.db import utcnow
from backend.errors import DomainError, NotFound, ValidationFailed
from backend.org.models import User
from backend.sales import service
from backend.sales.models import SalesImport

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=10)
RECENT = 10

_progress: dict[int, int] = {}  # import id → lines processed, for imports running in this process
_progress_lock = threading.Lock()


def count_lines(data: bytes) -> int:
    """The lines after the header (blank last line not counted); a quoted line break counts one
    more, which the report's figure then corrects."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return max(0, lines - 1)


def queue_import(*, session: Session, actor: User, data: bytes, filename: str) -> SalesImport:
    """Keep the uploaded file for the worker and return its import (queued)."""
    if not data.strip():
        raise ValidationFailed("The file is empty.", errors={"file": ["Missing."]})
    job = SalesImport(user_id=actor.id, filename=(filename or "sales.csv")[:200], status="queued",
                      total_lines=count_lines(data), lines_done=0, data=data, created_at=utcnow())
    session.add(job)
    db.commit(session)
    return job


def get_import(*, session: Session, actor: User, import_id: int) -> dict:
    """An import and how far it got (HQ)."""
    if actor.role != policy.HQ:
        raise NotFound(f"No import {import_id}.")
    job = session.get(SalesImport, import_id)
    if job is None:
        raise NotFound(f"No import {import_id}.")
    with _progress_lock:
        live = _progress.get(job.id, 0)
    done = job.lines_done if job.status in ("done", "failed") else max(job.lines_done, live)
    return {"job": job, "lines_done": done, "total_lines": max(job.total_lines, done),
            "finished": job.status in ("done", "failed")}


def recent_imports(*, session: Session, actor: User) -> list[SalesImport]:
    """The latest imports, newest first (HQ)."""
    return list(session.scalars(select(SalesImport).order_by(SalesImport.id.desc()).limit(RECENT)))


def _claim(sessions: Callable[[], Session], worker_id: str, now: dt.datetime) -> int | None:
    """Take the oldest queued import (or one whose worker's lease ran out) for this worker."""
    with sessions() as session:
        candidate = session.scalar(
            select(SalesImport.id).where(or_(
                SalesImport.status == "queued",
                (SalesImport.status == "running") & (SalesImport.lease_until < now)))
            .order_by(SalesImport.id).limit(1))
        if candidate is None:
            return None
        taken = session.execute(
            update(SalesImport).where(SalesImport.id == candidate, or_(
                SalesImport.status == "queued",
                (SalesImport.status == "running") & (SalesImport.lease_until < now)))
            .values(status="running", worker_id=worker_id, lease_until=now + LEASE,
                    started_at=now, lines_done=0)).rowcount
        session.commit()
        return candidate if taken else None


def _reporter(sessions: Callable[[], Session], import_id: int, dialect: str):
    def progress(lines: int) -> None:
        with _progress_lock:
            _progress[import_id] = lines
        if dialect != "sqlite":
            with sessions() as session:
                session.execute(update(SalesImport).where(SalesImport.id == import_id)
                                .values(lines_done=lines, lease_until=utcnow() + LEASE))
                session.commit()
    return progress


def _finish(sessions: Callable[[], Session], import_id: int, **values) -> None:
    with sessions() as session:
        session.execute(update(SalesImport).where(SalesImport.id == import_id)
                        .values(data=None, finished_at=utcnow(), lease_until=None, **values))
        session.commit()


def run_one(sessions: Callable[[], Session], *, worker_id: str) -> int | None:
    """Import the next waiting file; its id, or None when nothing waits."""
    import_id = _claim(sessions, worker_id, utcnow())
    if import_id is None:
        return None
    try:
        with sessions() as session:
            job = session.get(SalesImport, import_id)
            actor = session.get(User, job.user_id) if job.user_id else None
            stream = io.TextIOWrapper(io.BytesIO(job.data or b""), encoding="utf-8-sig", newline="")
            progress = _reporter(sessions, import_id, session.bind.dialect.name)
            try:
                report = service.import_sales(session=session, actor=actor, stream=stream,
                                              progress=progress)
            except DomainError as exc:
                session.rollback()
                _finish(sessions, import_id, status="failed",
                        error={"error": exc.error, "message": exc.message,
                               "errors": exc.errors or {}})
                return import_id
            except Exception:
                session.rollback()
                log.exception("sales import %s failed", import_id)
                _finish(sessions, import_id, status="failed",
                        error={"error": "internal_error", "message": "The import failed.",
                               "errors": {}})
                return import_id
        _finish(sessions, import_id, status="done", report=report, lines_done=report["lines"],
                total_lines=report["lines"])
    finally:
        with _progress_lock:
            _progress.pop(import_id, None)
    return import_id


def run_waiting(sessions: Callable[[], Session], *, worker_id: str, limit: int = 20) -> int:
    """Import every waiting file (at most ``limit`` in one run); how many were imported."""
    done = 0
    while done < limit and run_one(sessions, worker_id=worker_id) is not None:
        done += 1
    return done
