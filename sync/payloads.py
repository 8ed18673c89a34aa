"""Task data as sync sends it: the shape of `GET /tasks/{id}` — the task plus each plugged-in
detail section (recommendations) — built set-based for many tasks at once
(``backend.tasks.payloads``), with each section computed once per campaign."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy.orm import Session

from backend.auth import policy
from backend.campaigns.models import Campaign
from backend.org.models import User
from backend.tasks.models import StoreTask
from backend.tasks.payloads import task_payloads
from backend.tasks.sections import DetailSection


class TaskPayloads:
    """Dumps tasks for one actor; sections depend only on the task's campaign, so a store's
    thousand tasks of three campaigns cost three section lookups, not a thousand."""

    def __init__(self, session: Session, actor: User, sections: dict[str, DetailSection] | None):
        self.session, self.actor = session, actor
        self.sections = sections or {}
        self._cache: dict[tuple[str, int], object] = {}
        self._campaigns: dict[int, Campaign] = {}

    def dump(self, task: StoreTask) -> dict:
        return self.dump_many([task.id])[task.id]

    def dump_many(self, task_ids: list[int], *, in_scope: bool = False) -> dict[int, dict]:
        """{task id: data} for those of the ids that exist, and that the actor may see when
        ``in_scope`` (else scope is the caller's filter)."""
        scope = policy.store_scope(self.actor, StoreTask.store_id) if in_scope else None
        payloads = task_payloads(self.session, task_ids, self._campaigns, scope)
        for data in payloads.values():
            for name, section in self.sections.items():
                key = (name, data["campaign_id"])
                if key not in self._cache:
                    # A section sees the task's campaign only (that is why it can be cached).
                    holder = SimpleNamespace(campaign=self._campaigns[data["campaign_id"]],
                                             campaign_id=data["campaign_id"])
                    self._cache[key] = section(self.session, holder, self.actor.locale)
                data[name] = self._cache[key]
        return payloads
