"""Pure rules of notifications: texts, the 4 KB limit, backoff, quiet hours (no app, no database)."""

import datetime as dt
import random

import pytest

from outbox.retry import backoff_seconds
from notifications.messages import (FCM_LIMIT_BYTES, FCM_TOPIC_LIMIT_BYTES, PushContent, build_push,
                                    encoded_size, render)
from notifications.quiet_hours import QuietHours


def content(**overrides):
    base = dict(notification_id=7, kind="task_published", title="新任务：端架陈列", body="D11 · S001",
                task_id=123456789, campaign_id=3, script="推荐话术" * 10, script_id=5,
                pairing_skus=["A-1", "B-2", "C-3", "D-4"])
    return PushContent(**{**base, **overrides})


def test_texts_are_localized_and_missing_facts_leave_no_placeholders():
    assert render("reminder", "en", {"task_title": "Shelf", "store_code": "S001", "due_local": "11-23 18:00"}) \
        == ("Due soon: Shelf", "S001 · due 11-23 18:00, please finish it")
    title, body = render("review_result", "zh-CN", {"decision": "approve"})
    assert title == "审核结果：已通过" and "{" not in body


def test_a_huge_script_is_trimmed_and_the_ids_survive():
    message = build_push(content(script="话术很长。" * 5000, body="正文" * 2000))
    assert encoded_size(message) <= FCM_LIMIT_BYTES
    assert message["data"]["task_id"] == "123456789" and message["data"]["notification_id"] == "7"
    assert message["data"]["deep_link"] == "zhida://tasks/123456789"
    assert message["data"]["pairing_skus"] == "A-1,B-2,C-3"
    topic = build_push(content(script="x" * 9000, title="标题" * 500), limit=FCM_TOPIC_LIMIT_BYTES)
    assert encoded_size(topic) <= FCM_TOPIC_LIMIT_BYTES and topic["data"]["task_id"] == "123456789"


def test_a_small_message_is_left_whole():
    message = build_push(content())
    assert message["data"]["script"] == "推荐话术" * 10
    assert message["android"]["collapse_key"] == "task-123456789"
    assert message["apns"]["headers"]["apns-collapse-id"] == "task-123456789"


def test_backoff_grows_with_jitter_and_honours_retry_after():
    rng = random.Random(1)
    first = [backoff_seconds(1, None, base=5, cap=3600, rng=rng) for _ in range(50)]
    fifth = [backoff_seconds(5, None, base=5, cap=3600, rng=rng) for _ in range(50)]
    assert all(2.5 <= d <= 5 for d in first) and len(set(first)) > 40
    assert all(40 <= d <= 80 for d in fifth)
    assert backoff_seconds(1, 120.0, base=5, cap=3600, rng=rng) == 120.0
    assert backoff_seconds(30, None, base=5, cap=600, rng=rng) <= 600


@pytest.mark.parametrize("utc_hour, released_at_utc_hour", [(15, 0), (23, 0), (13, None), (0, None)])
def test_quiet_hours_follow_the_store_timezone(utc_hour, released_at_utc_hour):
    quiet = QuietHours.parse("22-8")
    now = dt.datetime(2026, 11, 22, utc_hour, 30, tzinfo=dt.timezone.utc)
    release = quiet.release_time(now, "Asia/Shanghai")  # UTC+8: 15:30Z is 23:30 local
    if released_at_utc_hour is None:
        assert release is None
    else:
        assert release.hour == released_at_utc_hour and release > now
    assert QuietHours.parse("off") is None
    with pytest.raises(ValueError):
        QuietHours.parse("8-8")
