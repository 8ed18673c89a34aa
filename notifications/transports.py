"""Where pushes go: the embedded recorder (no network) or FCM HTTP v1 through firebase-admin.

A transport encodes a batch of (target, message) into what it sends (done while the previous
batch is on the network), then sends it and answers one Outcome per message, in order; the
dispatcher decides what an outcome means for the outbox.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """A device's push address: an FCM registration token or a Firebase installation id."""

    address: str
    kind: str  # "registration_token" | "fid"


@dataclass(frozen=True)
class Outcome:
    """The provider's answer to one message."""

    message_id: str | None = None
    error: str | None = None         # a stable code: UNREGISTERED, QUOTA_EXCEEDED, INTERNAL, …
    detail: str = ""
    retry: bool = False              # worth another attempt later
    drop_token: bool = False         # the address is dead: forget it
    retry_after: float | None = None  # seconds the provider asked us to wait

    @property
    def ok(self) -> bool:
        return self.message_id is not None and self.error is None


class RecordTransport:
    """The embedded default: every message is accepted and kept in the outbox row (the inbox
    shows the notification either way), so the whole flow runs offline."""

    name = "record"
    keeps_payload = True  # the outbox row is where the message "arrives"

    def encode(self, batch: list[tuple[Target, dict]]) -> list[tuple[Target, dict]]:
        return batch

    def send(self, encoded: list[tuple[Target, dict]]) -> list[Outcome]:
        return [Outcome(message_id=f"local:{uuid.uuid4().hex}") for _ in encoded]


def _sdk_message(target: Target, message: dict):
    from firebase_admin import messaging

    android, apns = message["android"], message["apns"]
    address = {"fid": target.address} if target.kind == "fid" else {"token": target.address}
    return messaging.Message(
        notification=messaging.Notification(**message["notification"]),
        data=message["data"],
        android=messaging.AndroidConfig(
            priority=android["priority"], ttl=dt.timedelta(seconds=android["ttl"]),
            collapse_key=android["collapse_key"],
            notification=messaging.AndroidNotification(tag=android["notification"]["tag"])),
        apns=messaging.APNSConfig(
            headers=apns["headers"],
            payload=messaging.APNSPayload(aps=messaging.Aps(thread_id=apns["payload"]["aps"]["thread-id"]))),
        **address)


def _retry_after(error) -> float | None:
    response = getattr(error, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def classify(error) -> Outcome:
    """A firebase-admin exception as an outcome: dead tokens dropped, transient errors retried
    (honouring Retry-After), malformed messages dead-lettered."""
    from firebase_admin import exceptions, messaging

    detail = str(error)[:400]
    if isinstance(error, (messaging.UnregisteredError, messaging.SenderIdMismatchError)):
        code = "UNREGISTERED" if isinstance(error, messaging.UnregisteredError) else "SENDER_ID_MISMATCH"
        return Outcome(error=code, detail=detail, drop_token=True)
    if isinstance(error, exceptions.InvalidArgumentError):
        return Outcome(error="INVALID_ARGUMENT", detail=detail)
    if isinstance(error, (messaging.QuotaExceededError, exceptions.ResourceExhaustedError)):
        return Outcome(error="QUOTA_EXCEEDED", detail=detail, retry=True, retry_after=_retry_after(error))
    code = getattr(error, "code", None) or type(error).__name__
    # UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, UNKNOWN (connection), auth trouble: retry later.
    return Outcome(error=str(code).upper(), detail=detail, retry=True, retry_after=_retry_after(error))


class FcmTransport:
    """FCM HTTP v1 through firebase-admin's ``messaging.send_each`` (≤ 500 per call)."""

    name = "fcm"
    keeps_payload = False  # FCM's message id is the record; the payload would only cost writes

    def __init__(self, *, credentials_info: dict, project_id: str | None = None,
                 endpoint: str | None = None, timeout_seconds: float = 10.0):
        import firebase_admin
        from firebase_admin import credentials

        options = {"httpTimeout": timeout_seconds}
        if project_id:
            options["projectId"] = project_id
        self.app = firebase_admin.initialize_app(credentials.Certificate(credentials_info), options,
                                                 name=f"zhida-{uuid.uuid4().hex[:8]}")
        if endpoint:
            from notifications import fcm_seam
            fcm_seam.point_at(self.app, endpoint)

    @classmethod
    def from_file(cls, path: str, **options) -> "FcmTransport":
        with open(path, encoding="utf-8") as handle:
            return cls(credentials_info=json.load(handle), **options)

    def encode(self, batch: list[tuple[Target, dict]]) -> list:
        """firebase-admin Message objects (``token=`` is deprecated in favour of ``fid=`` but
        still served: registration tokens are what most installed apps report)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return [_sdk_message(target, message) for target, message in batch]

    def send(self, encoded: list) -> list[Outcome]:
        from firebase_admin import messaging

        answers = messaging.send_each(encoded, app=self.app)
        return [Outcome(message_id=r.message_id) if r.success else classify(r.exception)
                for r in answers.responses]

    def close(self) -> None:
        import firebase_admin
        firebase_admin.delete_app(self.app)
