"""A local imitation of FCM HTTP v1 (``messages:send``) and Google's OAuth token endpoint, for
tests, benchmarks and demos: no network, fake service-account credentials.

Behaviour per address is scripted with ``plan(address, [status, …])``: each request for that
address takes the next status (then 200). Defaults: addresses starting ``dead-`` answer 404
UNREGISTERED, ``mismatch-`` 403 SENDER_ID_MISMATCH. Messages over 4,096 bytes answer 400, as
FCM does. ``hold()`` makes requests wait (after being recorded) until ``release()``, so a test
can kill a worker between the provider's receipt and the worker's acknowledgement.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_ERRORS = {
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    403: ("PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
    404: ("NOT_FOUND", "UNREGISTERED"),
    429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    500: ("INTERNAL", "INTERNAL"),
    503: ("UNAVAILABLE", "UNAVAILABLE"),
}


def fake_service_account(token_uri: str, project_id: str = "zhida-demo") -> dict:
    """Service-account credentials with a freshly generated key, trusted by nobody."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": project_id, "private_key_id": "local-imitation",
            "private_key": pem, "client_email": f"zhida@{project_id}.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": token_uri}


class _Server(ThreadingHTTPServer):
    # send_each opens up to 500 connections at once: the default backlog of 5 refuses them.
    request_queue_size = 1024
    daemon_threads = True


class FcmImitation:
    """The server, its records and its script; ``with FcmImitation() as fcm:`` runs it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, retry_after: int = 1):
        self.retry_after = retry_after
        self.lock = threading.Lock()
        self.received: list[dict] = []     # every messages:send request, in arrival order
        self.delivered: list[dict] = []    # the ones answered 200
        self.token_requests = 0
        self.plans: dict[str, list[int]] = defaultdict(list)
        self._open = threading.Event()
        self._open.set()
        self._counter = 0
        self.server = _Server((host, port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def plan(self, address: str, statuses: list[int]) -> None:
        with self.lock:
            self.plans[address].extend(statuses)

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def start(self) -> "FcmImitation":
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FcmImitation":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _answer(self, project: str, body: dict) -> tuple[int, dict, dict]:
        message = body.get("message") or {}
        address = message.get("token") or message.get("fid") or ""
        size = len(json.dumps({k: v for k, v in message.items() if k not in ("token", "fid")},
                              ensure_ascii=False, separators=(",", ":")).encode())
        with self.lock:
            self.received.append(message)
            status = self.plans[address].pop(0) if self.plans.get(address) else 200
            if status == 200 and address.startswith("dead-"):
                status = 404
            elif status == 200 and address.startswith("mismatch-"):
                status = 403
            elif status == 200 and size > 4096:
                status = 400
            if status == 200:
                self._counter += 1
                self.delivered.append(message)
                return 200, {"name": f"projects/{project}/messages/0:{self._counter}"}, {}
        grpc_status, fcm_code = _ERRORS[status]
        headers = {"Retry-After": str(self.retry_after)} if status in (429, 503) else {}
        error = {"error": {"code": status, "message": f"imitation: {fcm_code}", "status": grpc_status,
                           "details": [{"@type": FCM_ERROR_TYPE, "errorCode": fcm_code}]}}
        return status, error, headers

    def _handler(self):
        imitation = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/token":
                    with imitation.lock:
                        imitation.token_requests += 1
                    return self._reply(200, {"access_token": "imitation-access-token",
                                             "expires_in": 3600, "token_type": "Bearer"})
                match = PATH.match(self.path)
                if not match:
                    return self._reply(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
                if self.headers.get("Authorization") != "Bearer imitation-access-token":
                    return self._reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}})
                status, payload, headers = imitation._answer(match.group(1), body)
                imitation._open.wait()
                self._reply(status, payload, headers)

        return Handler

