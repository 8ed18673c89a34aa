"""What a notification says: its texts in the reader's locale, the task facts, the top script
and the pairings of the campaign's featured product (read once per batch)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.campaigns.models import Campaign, TaskTemplate
from backend.org.models import Store
from backend.tasks.models import StoreTask
from notifications import messages
from notifications.models import Notification
from recommend import library as recommend


def _zone(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


class Facts:
    """Tasks, campaigns, stores and recommendations behind a set of notifications, cached."""

    def __init__(self, session: Session, *, default_timezone: str = "Asia/Shanghai"):
        self.session = session
        self.default_timezone = default_timezone
        self.tasks: dict[int, StoreTask] = {}
        self.templates: dict[int, TaskTemplate] = {}
        self.campaigns: dict[int, Campaign] = {}
        self.stores: dict[int, Store] = {}
        self._recommendations: dict[tuple[int, str], tuple[str, int | None, list[str]]] = {}

    def preload(self, notifications: list[Notification]) -> None:
        """Fetch everything the notifications refer to in a few IN queries."""
        task_ids = {n.task_id for n in notifications if n.task_id} - set(self.tasks)
        for task in self._fetch(StoreTask, task_ids):
            self.tasks[task.id] = task
        self.templates.update((t.id, t) for t in self._fetch(
            TaskTemplate, {t.template_id for t in self.tasks.values()} - set(self.templates)))
        campaign_ids = {n.campaign_id for n in notifications if n.campaign_id}
        self.campaigns.update((c.id, c) for c in self._fetch(Campaign, campaign_ids - set(self.campaigns)))
        store_ids = {n.store_id for n in notifications if n.store_id}
        self.stores.update((s.id, s) for s in self._fetch(Store, store_ids - set(self.stores)))

    def _fetch(self, model, ids: set[int]):
        ids = sorted(i for i in ids if i is not None)
        for start in range(0, len(ids), 900):
            yield from self.session.scalars(select(model).where(model.id.in_(ids[start:start + 900])))

    def _get(self, cache: dict, model, key: int | None):
        if key is None:
            return None
        if key not in cache:
            cache[key] = self.session.get(model, key)
        return cache[key]

    def timezone_of(self, notification: Notification) -> str:
        store = self._get(self.stores, Store, notification.store_id)
        return store.timezone if store is not None else self.default_timezone

    def params_for(self, notification: Notification, locale: str) -> dict:
        """The notification's own parameters plus the current task and campaign facts."""
        params = {"due_local": "—", **(notification.params or {})}
        task = self._get(self.tasks, StoreTask, notification.task_id)
        campaign = self._get(self.campaigns, Campaign, notification.campaign_id)
        store = self._get(self.stores, Store, notification.store_id)
        if task is not None:
            template = self._get(self.templates, TaskTemplate, task.template_id)
            params["task_title"] = template.title if template is not None else ""
            if task.due_at is not None:
                local = task.due_at.astimezone(_zone(store.timezone if store else None,
                                                     self.default_timezone))
                params["due_local"] = local.strftime("%m-%d %H:%M")
        if campaign is not None:
            params["campaign_title"] = campaign.title
        if store is not None:
            params["store_code"] = store.code
        return params

    def recommendations(self, notification, locale: str) -> tuple[str, int | None, list[str]]:
        """(top script text, its id, up to three pairing SKUs) of the first featured product of
        the notification's task — the same choice the task detail shows, one lookup per campaign."""
        task = self._get(self.tasks, StoreTask, notification.task_id)
        if task is None:
            return "", None, []
        key = (task.campaign_id, locale)
        if key not in self._recommendations:
            products = recommend.recommendations_for_task(self.session, task, locale, max_products=1)
            first = products[0] if products else {"script": None, "pairings": []}
            script = first["script"] or {"text": "", "id": None}
            self._recommendations[key] = (script["text"], script["id"],
                                          [p["sku"] for p in first["pairings"]][:3])
        return self._recommendations[key]

    def push_content(self, notification: Notification, locale: str | None) -> messages.PushContent:
        """The push for one device, in that device's locale."""
        locale = messages.pick_locale(locale)
        title, body = messages.render(notification.kind, locale, self.params_for(notification, locale))
        script, script_id, pairing_skus = self.recommendations(notification, locale)
        task = self._get(self.tasks, StoreTask, notification.task_id)
        ttl = messages.DEFAULT_TTL_SECONDS
        if notification.kind == "reminder" and task is not None and task.due_at is not None:
            ttl = int((task.due_at - dt.datetime.now(dt.timezone.utc)).total_seconds())
        return messages.PushContent(
            notification_id=notification.id, kind=notification.kind, title=title, body=body,
            task_id=notification.task_id, campaign_id=notification.campaign_id, script=script,
            script_id=script_id, pairing_skus=pairing_skus, ttl_seconds=ttl)

    def inbox_item(self, notification: Notification, locale: str | None) -> dict:
        """The notification as the inbox and sync pull show it."""
        content = self.push_content(notification, locale)
        return {"id": notification.id, "kind": notification.kind, "title": content.title,
                "body": content.body, "task_id": notification.task_id,
                "campaign_id": notification.campaign_id,
                "deep_link": messages.deep_link(task_id=notification.task_id,
                                                campaign_id=notification.campaign_id),
                "script": content.script[:messages.SCRIPT_MAX_CHARS],
                "script_id": content.script_id, "pairing_skus": content.pairing_skus,
                "created_at": notification.created_at, "read_at": notification.read_at}
