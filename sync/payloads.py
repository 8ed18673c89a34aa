"""Task data as sync sends it: the shape of `GET /tasks/{id}` — the task plus each plugged-in
detail section (recommendations) — with each section computed once per campaign."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.org.models import User
from backend.tasks.models import StoreTask
from backend.tasks.schemas import StoreTaskSchema
from backend.tasks.sections import DetailSection

TASK_SCHEMA = StoreTaskSchema()


class TaskPayloads:
    """Dumps tasks for one actor; sections depend only on the task's campaign, so a store's
    thousand tasks of three campaigns cost three section lookups, not a thousand."""

    def __init__(self, session: Session, actor: User, sections: dict[str, DetailSection] | None):
        self.session, self.actor = session, actor
        self.sections = sections or {}
        self._cache: dict[tuple[str, int], object] = {}

    def dump(self, task: StoreTask) -> dict:
        data = TASK_SCHEMA.dump(task)
        for name, section in self.sections.items():
            key = (name, task.campaign_id)
            if key not in self._cache:
                self._cache[key] = section(self.session, task, self.actor.locale)
            data[name] = self._cache[key]
        return data
