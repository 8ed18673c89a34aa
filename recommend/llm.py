"""Optional LLM provider: script candidates from an OpenAI-compatible chat completions API,
checked like any script, with the deterministic templates as the fallback for every failure."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass

import requests
import urllib3

from recommend import scripts

CANDIDATES = 2  # scripts asked per product and locale, like the templates give
MAX_RESPONSE_BYTES = 64 * 1024  # a chat answer of two short scripts is ~2 KB
MAX_TOKENS = 600
# After this many failures in a row a run stops asking (a dead endpoint must not cost a
# timeout per product); every later product gets the templates, counted as "circuit_open".
BREAKER_AFTER = 3
LANGUAGE = {"zh-CN": "Simplified Chinese (zh-CN)", "en": "English"}
_LIST_MARKER = re.compile(r"^\s*(?:[-*•·]|\d{1,2}\s*[.)、:：]|[(（]\d{1,2}[)）])\s*")
_QUOTES = "\"'“”‘’「」"


class LlmFailure(Exception):
    """The LLM gave no usable scripts; ``reason`` is the counter it adds to."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class LlmSettings:
    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config) -> LlmSettings | None:
        """The provider when ZHIDA_LLM_BASE_URL and ZHIDA_LLM_MODEL are set, else None."""
        if not config.get("LLM_BASE_URL") or not config.get("LLM_MODEL"):
            return None
        return cls(base_url=config["LLM_BASE_URL"].rstrip("/"), model=config["LLM_MODEL"],
                   api_key=config.get("LLM_API_KEY", ""), timeout=float(config.get("LLM_TIMEOUT", 10)))


def build_messages(facts: scripts.ProductFacts, locale: str, banned: tuple[str, ...],
                   n: int = CANDIDATES) -> list[dict]:
    """The chat prompt: rules in the system message, the facts as JSON in the user message (data,
    not instructions, and nothing the model may add to)."""
    system = (
        "You write short in-store sales scripts (话术) that a retail clerk says to a customer. "
        f"Write in {LANGUAGE[locale]}. Write exactly {n} different scripts, one per line, with no "
        f"numbering, no quotes and nothing else. Each script is at most {scripts.MAX_LENGTH - 60} "
        "characters, uses only the facts given, names the products to pair when there are any, "
        "and makes no absolute, medical or guaranteed claims. Never use these words: "
        + ", ".join(banned[:40]) + ".")
    data = {key: value for key, value in asdict(facts).items() if value not in (None, "", [], {})}
    return [{"role": "system", "content": system},
            {"role": "user", "content": "Product facts (JSON): " + json.dumps(data, ensure_ascii=False)}]


def parse_candidates(body: bytes, n: int = CANDIDATES) -> list[str]:
    """The scripts in a chat completions answer, one per line, list markers and quotes removed."""
    try:
        answer = json.loads(body)
        choice = answer["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LlmFailure("malformed", "not a chat completions answer")
    if not isinstance(content, str):
        raise LlmFailure("malformed", "content is not text")
    if choice.get("finish_reason") == "length":
        raise LlmFailure("too_long", "the answer was cut at max_tokens")
    lines = [_LIST_MARKER.sub("", line).strip().strip(_QUOTES).strip() for line in content.splitlines()]
    texts = [line for line in lines if line]
    if not texts:
        raise LlmFailure("empty")
    return texts[:n]


def request_candidates(settings: LlmSettings, facts: scripts.ProductFacts, locale: str,
                       banned: tuple[str, ...], *, http: requests.Session,
                       n: int = CANDIDATES) -> list[str]:
    """Ask the LLM once; the whole exchange is bounded by the timeout and the answer's size."""
    headers = {"Accept-Encoding": "identity"}  # the size cap counts the bytes as sent
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    payload = {"model": settings.model, "messages": build_messages(facts, locale, banned, n),
               "temperature": 0.7, "max_tokens": MAX_TOKENS, "n": 1}
    deadline = time.monotonic() + settings.timeout
    try:
        with http.post(f"{settings.base_url}/chat/completions", json=payload, headers=headers,
                       timeout=settings.timeout, stream=True, allow_redirects=False) as response:
            if response.status_code != 200:
                raise LlmFailure("http_error", f"HTTP {response.status_code}")
            body = bytearray()
            # requests' timeout bounds each read; the deadline bounds a server that trickles
            # (read1: one read per step, so a byte a second cannot keep us waiting past it).
            while chunk := response.raw.read1(8192):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise LlmFailure("too_large", f"over {MAX_RESPONSE_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise LlmFailure("timeout", "the answer took too long")
    except (requests.Timeout, urllib3.exceptions.TimeoutError):  # the latter: while reading the body
        raise LlmFailure("timeout")
    except requests.ConnectionError as exc:
        raise LlmFailure("unreachable", str(exc)[:200])
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise LlmFailure("http_error", str(exc)[:200])
    return parse_candidates(bytes(body), n)


def check_candidates(texts: list[str], banned: tuple[str, ...]) -> None:
    """Every candidate must be a storable script; one bad line discards the answer."""
    for text in texts:
        if len(text) > scripts.MAX_LENGTH:
            raise LlmFailure("too_long", f"{len(text)} characters")
        found = scripts.banned_words_in(text, banned)
        if found:
            raise LlmFailure("banned_words", ", ".join(found))
        problems = scripts.problems_with(text, ())
        if problems:
            raise LlmFailure("malformed", "; ".join(problems))


class ScriptGenerator:
    """Candidates for a product in a locale: from the LLM when configured and its answer passes
    the checks, from the templates otherwise; ``outcomes`` counts what happened."""

    def __init__(self, *, llm: LlmSettings | None, banned: tuple[str, ...]):
        self.llm = llm
        self.banned = banned
        self.outcomes: Counter[str] = Counter()
        self._failures_in_a_row = 0
        self._http = requests.Session() if llm else None

    def candidates(self, facts: scripts.ProductFacts, locale: str, *,
                   use_llm: bool = True) -> tuple[list[str], str]:
        """(texts, source): source "llm" or "generated" (the templates)."""
        if self.llm is not None and use_llm:
            if self._failures_in_a_row >= BREAKER_AFTER:
                self.outcomes["fallback_circuit_open"] += 1
            else:
                try:
                    texts = request_candidates(self.llm, facts, locale, self.banned, http=self._http)
                    check_candidates(texts, self.banned)
                except LlmFailure as failure:
                    self._failures_in_a_row += 1
                    self.outcomes[f"fallback_{failure.reason}"] += 1
                else:
                    self._failures_in_a_row = 0
                    self.outcomes["llm"] += 1
                    return texts, "llm"
        texts = [text for text in scripts.generate(facts, locale)
                 if not scripts.banned_words_in(text, self.banned)]
        self.outcomes["template"] += 1
        return texts, "generated"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
