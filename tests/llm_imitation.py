"""A local imitation of an OpenAI-compatible chat completions endpoint (127.0.0.1, a thread),
which can be told to answer well, slowly, badly or with banned words."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD = {
    "zh-CN": ["1. 这款{name}今天活动价更划算，搭配{pair}一起用妆效更完整。",
              "2. 您先试试{name}的颜色，再叠一层{pair}，我帮您一起拿？"],
    "en": ["- The {name} is on offer today, and it pairs nicely with {pair}.",
           "- Try the {name} first; with {pair} on top the look is complete."],
}


class ImitationLLM:
    """Start with ``with ImitationLLM() as llm``; set ``llm.mode`` to choose the next answers."""

    MODES = ("ok", "http_500", "slow", "stall", "trickle", "malformed", "not_chat", "empty", "too_long",
             "banned", "huge", "truncated")

    def __init__(self):
        self.mode = "ok"
        self.requests: list[dict] = []
        imitation = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                imitation.requests.append({"path": self.path, "body": body,
                                           "authorization": self.headers.get("Authorization")})
                imitation.answer(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # ---- answers --------------------------------------------------------------------------

    @staticmethod
    def _facts(body: dict) -> tuple[str, dict]:
        system, user = body["messages"][0]["content"], body["messages"][1]["content"]
        locale = "zh-CN" if "Simplified Chinese" in system else "en"
        return locale, json.loads(user.split("(JSON): ", 1)[1])

    @staticmethod
    def _completion(content: str, finish_reason: str = "stop") -> bytes:
        return json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": "imitation",
                           "choices": [{"index": 0, "finish_reason": finish_reason,
                                        "message": {"role": "assistant", "content": content}}],
                           "usage": {"prompt_tokens": 50, "completion_tokens": 40}},
                          ensure_ascii=False).encode()

    def _send(self, handler, status: int, body: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the client timed out and left
            pass

    def answer(self, handler, body: dict) -> None:
        locale, facts = self._facts(body)
        pair = (facts.get("pairs") or ["the matching range"])[0]
        good = "\n".join(line.format(name=facts["name"], pair=pair) for line in GOOD[locale])
        mode = self.mode
        if mode == "ok":
            self._send(handler, 200, self._completion(good))
        elif mode == "http_500":
            self._send(handler, 500, b'{"error": {"message": "overloaded"}}')
        elif mode == "slow":
            time.sleep(2.0)
            self._send(handler, 200, self._completion(good))
        elif mode == "trickle":  # headers at once, then a byte now and then: no single read times out
            payload = self._completion(good)
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            try:
                for byte in payload[:40]:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(0.1)
            except OSError:  # the client gave up, as it should
                pass
        elif mode == "stall":  # headers at once, then silence
            handler.send_response(200)
            handler.send_header("Content-Length", "500")
            handler.end_headers()
            handler.wfile.flush()
            time.sleep(2.0)
        elif mode == "malformed":
            self._send(handler, 200, b'{"choices": [{"message": ')
        elif mode == "not_chat":
            self._send(handler, 200, b'{"object": "list", "data": []}')
        elif mode == "empty":
            self._send(handler, 200, self._completion("  \n\n "))
        elif mode == "too_long":
            self._send(handler, 200, self._completion(good.splitlines()[0] + "\n" + "好" * 400))
        elif mode == "banned":
            self._send(handler, 200, self._completion(
                "全网最好的口红，保证显白！" if locale == "zh-CN" else "Guaranteed to cure dry lips!"))
        elif mode == "huge":
            self._send(handler, 200, self._completion("x" * 200_000))
        elif mode == "truncated":
            self._send(handler, 200, self._completion(good[:20], finish_reason="length"))
