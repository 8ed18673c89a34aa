"""The one place that reaches inside firebase-admin: pointing an app's messaging service at
another FCM endpoint (the local imitation in tests, benchmarks and demos).

firebase-admin has no public setting for the FCM URL (the OAuth token URL, by contrast, is
the service account's public ``token_uri``). This relies on private names of firebase-admin
7.7.0 (pinned in requirements.txt); tests/notifications/test_notifications_fcm.py fails loudly if an upgrade
removes them, and so does ``point_at`` itself.
"""

from __future__ import annotations

from firebase_admin import App, messaging

SEAM_VERSION = "7.7.0"


class SeamMissing(RuntimeError):
    """firebase-admin changed its internals: re-check this module after an upgrade."""


def point_at(app: App, base_url: str) -> None:
    """Send the app's FCM HTTP v1 requests to ``base_url`` instead of fcm.googleapis.com."""
    getter = getattr(messaging, "_get_messaging_service", None)
    if getter is None:
        raise SeamMissing(f"firebase_admin.messaging._get_messaging_service is gone "
                          f"(seam written for {SEAM_VERSION})")
    service = getter(app)
    if not isinstance(getattr(service, "_fcm_url", None), str):
        raise SeamMissing(f"_MessagingService._fcm_url is gone (seam written for {SEAM_VERSION})")
    service._fcm_url = f"{base_url.rstrip('/')}/v1/projects/{app.project_id}/messages:send"
