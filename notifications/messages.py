"""Localized notification texts and the push message, kept under FCM's size limit (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

LOCALES = ("zh-CN", "en")
FCM_LIMIT_BYTES = 4096        # a message to one device
FCM_TOPIC_LIMIT_BYTES = 2048  # a topic message
SCRIPT_MAX_CHARS = 400        # the script travels trimmed even when it would fit
DEFAULT_TTL_SECONDS = 24 * 3600

_TEXTS = {
    "task_published": {
        "zh-CN": ("新任务：{task_title}", "{campaign_title} · {store_code} · 截止 {due_local}"),
        "en": ("New task: {task_title}", "{campaign_title} · {store_code} · due {due_local}"),
    },
    "task_changed": {
        "zh-CN": ("任务有更新：{task_title}", "{campaign_title}：说明或截止时间已更改，请查看"),
        "en": ("Task updated: {task_title}", "{campaign_title}: instructions or due time changed"),
    },
    "task_cancelled": {
        "zh-CN": ("任务已取消：{task_title}", "{campaign_title} · {store_code}"),
        "en": ("Task cancelled: {task_title}", "{campaign_title} · {store_code}"),
    },
    "review_result": {
        "zh-CN": ("审核结果：{decision_text}", "{task_title} {comment}"),
        "en": ("Review: {decision_text}", "{task_title} {comment}"),
    },
    "reminder": {
        "zh-CN": ("即将截止：{task_title}", "{store_code} · 截止 {due_local}，请尽快完成"),
        "en": ("Due soon: {task_title}", "{store_code} · due {due_local}, please finish it"),
    },
    "overdue": {
        "zh-CN": ("任务逾期：{store_code}", "{task_title}（{campaign_title}）已超过截止时间 {due_local}"),
        "en": ("Overdue at {store_code}", "{task_title} ({campaign_title}) passed its due time {due_local}"),
    },
    "rule": {  # an HQ rule fired (rules/): the rule's message, already filled in
        "zh-CN": ("{rule_name}", "{message}"),
        "en": ("{rule_name}", "{message}"),
    },
    "campaign_summary": {
        "zh-CN": ("活动结束：{campaign_title}", "您的区域完成率 {completion}（{approved}/{tasks}）"),
        "en": ("Campaign closed: {campaign_title}", "Your regions: {completion} done ({approved}/{tasks})"),
    },
}
_DECISIONS = {"zh-CN": {"approve": "已通过", "reject": "需整改"},
              "en": {"approve": "approved", "reject": "needs rework"}}
_URGENT = {"task_published", "reminder", "overdue", "review_result"}


class _Blank(dict):
    def __missing__(self, key):
        return ""


def pick_locale(locale: str | None) -> str:
    """A supported locale: zh-CN unless the user reads English."""
    return "en" if (locale or "").lower().startswith("en") else "zh-CN"


def render(kind: str, locale: str | None, params: dict) -> tuple[str, str]:
    """(title, body) of a notification in the reader's locale."""
    locale = pick_locale(locale)
    values = _Blank(params)
    values["decision_text"] = _DECISIONS[locale].get(params.get("decision", ""), "")
    title, body = _TEXTS[kind][locale]
    return title.format_map(values).strip(), " ".join(body.format_map(values).split())


def deep_link(*, task_id: int | None, campaign_id: int | None) -> str:
    """Where the app opens when the notification is tapped."""
    if task_id is not None:
        return f"zhida://tasks/{task_id}"
    return f"zhida://campaigns/{campaign_id}" if campaign_id is not None else "zhida://inbox"


@dataclass
class PushContent:
    """Everything a push says, before it is fitted to the size limit."""

    notification_id: int
    kind: str
    title: str
    body: str
    task_id: int | None = None
    campaign_id: int | None = None
    script: str = ""
    script_id: int | None = None
    pairing_skus: list[str] = field(default_factory=list)
    ttl_seconds: int = DEFAULT_TTL_SECONDS


def _message(content: PushContent, script: str, title: str, body: str) -> dict:
    data = {"notification_id": str(content.notification_id), "kind": content.kind,
            "deep_link": deep_link(task_id=content.task_id, campaign_id=content.campaign_id)}
    if content.task_id is not None:
        data["task_id"] = str(content.task_id)
    if content.campaign_id is not None:
        data["campaign_id"] = str(content.campaign_id)
    if script:
        data["script"] = script
        if content.script_id is not None:
            data["script_id"] = str(content.script_id)
    if content.pairing_skus:
        data["pairing_skus"] = ",".join(content.pairing_skus[:3])
    group = f"task-{content.task_id}" if content.task_id is not None else f"n-{content.notification_id}"
    urgent = content.kind in _URGENT
    ttl = max(60, int(content.ttl_seconds))
    return {
        "notification": {"title": title, "body": body},
        "data": data,
        # One notification per task on the phone: the tag replaces a shown one, the collapse
        # key replaces an undelivered one.
        "android": {"priority": "high" if urgent else "normal", "ttl": ttl, "collapse_key": group,
                    "notification": {"tag": group}},
        "apns": {"headers": {"apns-collapse-id": group, "apns-priority": "10" if urgent else "5"},
                 "payload": {"aps": {"thread-id": group}}},
    }


def encoded_size(message: dict) -> int:
    """Bytes of the message as JSON on the wire (compact, UTF-8)."""
    return len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())


def _upper_bound(message: dict) -> int:
    """A cheap bound on the encoded size: every character at 3 bytes, every escape and the
    fixed skeleton (keys, Android and APNs settings) generously counted."""
    texts = list(message["notification"].values()) + list(message["data"].values())
    return 3 * sum(len(text) for text in texts) + 2 * sum(len(k) for k in message["data"]) + 900


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:max(0, chars - 1)].rstrip() + "…"


def build_push(content: PushContent, *, limit: int = FCM_LIMIT_BYTES) -> dict:
    """The push message, never over ``limit`` bytes: the script is trimmed first, then the
    body, then the title; the ids and the deep link are never dropped."""
    script = _cut(content.script, SCRIPT_MAX_CHARS)
    title, body = _cut(content.title, 200), _cut(content.body, 1000)
    message = _message(content, script, title, body)
    if _upper_bound(message) <= limit or encoded_size(message) <= limit:  # the usual case
        return message
    for field_name in ("script", "body", "title"):
        while encoded_size(message) > limit:
            current = {"script": script, "body": body, "title": title}[field_name]
            if not current:
                break
            excess = encoded_size(message) - limit
            # A CJK character is 3 bytes: cutting excess/3 chars (at least a few) converges fast.
            shorter = _cut(current, max(0, len(current) - max(4, excess // 3 + 1))) \
                if len(current) > 4 else ""
            script, body, title = ((shorter, body, title) if field_name == "script" else
                                   (script, shorter, title) if field_name == "body" else
                                   (script, body, shorter))
            message = _message(content, script, title, body)
    if encoded_size(message) > limit:
        raise ValueError("The message cannot fit the limit even without its texts.")
    return message
