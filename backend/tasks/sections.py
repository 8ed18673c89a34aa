"""Extension point of the task detail: packages backend may not import (recommend) add named
sections to `GET /tasks/{id}`; create_app plugs them in."""

from __future__ import annotations

from typing import Any, Callable

from flask import Flask
from sqlalchemy.orm import Session

from backend.tasks.models import StoreTask

# (session, task, locale) → a JSON-ready value; reads only, never commits.
DetailSection = Callable[[Session, StoreTask, str], Any]
_KEY = "zhida.task_detail_sections"


def add_detail_section(app: Flask, name: str, section: DetailSection) -> None:
    """Make `GET /tasks/{id}` answer carry `name: section(session, task, locale)`."""
    app.extensions.setdefault(_KEY, {})[name] = section


def detail_sections(app: Flask) -> dict[str, DetailSection]:
    """The sections plugged into this app (none when a package is left out)."""
    return dict(app.extensions.get(_KEY, {}))
