"""The optional LLM provider against a local imitation of the chat completions API: good
answers become "llm" scripts, every failure falls back to the templates and is counted."""

import json
import socket
import time

import pytest
from sqlalchemy import select

from recommend import scripts
from recommend.llm import BREAKER_AFTER, LlmSettings, ScriptGenerator, parse_candidates
from recommend.models import Script
from tests.llm_imitation import ImitationLLM
from tests.recommend.test_pairings import sales_csv, seed_catalog

FACTS = scripts.ProductFacts(name="Velvet Lipstick #21", category="lipstick", price=199.0,
                             promo_price=159.0, pairs=["Lip Glaze"], brand="Acme",
                             campaign_title="Double 11")


@pytest.fixture
def llm():
    with ImitationLLM() as server:
        yield server


def generator_for(url: str, timeout: float = 0.5) -> ScriptGenerator:
    return ScriptGenerator(llm=LlmSettings(base_url=url, model="imitation-1", api_key="sk-test",
                                           timeout=timeout),
                           banned=scripts.DEFAULT_BANNED_WORDS)


def summary_of(output: str) -> dict:
    """The JSON line `recommend train` prints after its progress bar."""
    return json.loads(output[output.index('{"transactions"'):].splitlines()[0])


def test_settings_only_when_url_and_model_are_set():
    assert LlmSettings.from_config({"LLM_BASE_URL": "", "LLM_MODEL": "m"}) is None
    assert LlmSettings.from_config({"LLM_BASE_URL": "http://x/v1", "LLM_MODEL": ""}) is None
    settings = LlmSettings.from_config({"LLM_BASE_URL": "http://x/v1/", "LLM_MODEL": "m",
                                        "LLM_API_KEY": "k", "LLM_TIMEOUT": 3})
    assert settings == LlmSettings(base_url="http://x/v1", model="m", api_key="k", timeout=3.0)


def test_good_answer_becomes_llm_candidates(llm):
    generator = generator_for(llm.url)
    texts, source = generator.candidates(FACTS, "zh-CN")
    assert source == "llm" and len(texts) == 2
    assert texts[0].startswith("这款Velvet Lipstick #21") and "Lip Glaze" in texts[0]  # "1. " removed
    english, _ = generator.candidates(FACTS, "en")
    assert english[0].startswith("The Velvet Lipstick #21")  # "- " removed
    assert generator.outcomes == {"llm": 2}
    sent = llm.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["authorization"] == "Bearer sk-test"
    assert sent["body"]["model"] == "imitation-1" and sent["body"]["max_tokens"] > 0
    facts = json.loads(sent["body"]["messages"][1]["content"].split("(JSON): ", 1)[1])
    assert facts["promo_price"] == 159.0 and facts["campaign_title"] == "Double 11"
    assert facts["pairs"] == ["Lip Glaze"]
    assert "Simplified Chinese" in sent["body"]["messages"][0]["content"]
    assert "最好" in sent["body"]["messages"][0]["content"]  # the model is told the banned words
    generator.close()


@pytest.mark.parametrize("mode,reason", [
    ("http_500", "http_error"), ("slow", "timeout"), ("stall", "timeout"), ("trickle", "timeout"),
    ("malformed", "malformed"), ("not_chat", "malformed"), ("empty", "empty"),
    ("too_long", "too_long"), ("banned", "banned_words"), ("huge", "too_large"),
    ("truncated", "too_long")])
def test_every_failure_falls_back_to_the_templates(llm, mode, reason):
    llm.mode = mode
    generator = generator_for(llm.url, timeout=0.5)
    started = time.monotonic()
    texts, source = generator.candidates(FACTS, "zh-CN")
    assert time.monotonic() - started < 1.5  # bounded by the timeout, whatever the server does
    assert source == "generated" and texts == scripts.generate(FACTS, "zh-CN")
    assert generator.outcomes == {f"fallback_{reason}": 1, "template": 1}
    generator.close()


def test_unreachable_endpoint_and_the_circuit_breaker():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    generator = generator_for(f"http://127.0.0.1:{port}/v1")
    for _ in range(BREAKER_AFTER + 2):
        assert generator.candidates(FACTS, "en")[1] == "generated"
    assert generator.outcomes == {"fallback_unreachable": BREAKER_AFTER, "fallback_circuit_open": 2,
                                  "template": BREAKER_AFTER + 2}


def test_breaker_resets_after_a_success(llm):
    generator = generator_for(llm.url)
    llm.mode = "http_500"
    for _ in range(BREAKER_AFTER - 1):
        generator.candidates(FACTS, "en")
    llm.mode = "ok"
    assert generator.candidates(FACTS, "en")[1] == "llm"
    llm.mode = "http_500"
    for _ in range(BREAKER_AFTER - 1):
        generator.candidates(FACTS, "en")
    assert "fallback_circuit_open" not in generator.outcomes
    assert len(llm.requests) == 2 * BREAKER_AFTER - 1


def test_parse_candidates_keeps_the_first_lines_only():
    body = json.dumps({"choices": [{"finish_reason": "stop", "message": {
        "content": "（1）“第一句话术”\n\n2) 第二句\n3、第三句"}}]}).encode()
    assert parse_candidates(body) == ["第一句话术", "第二句"]


def test_recommend_train_asks_the_llm_for_featured_products(make, client, runner, app, llm):
    w = seed_catalog(make)
    client.post("/api/v1/sales/import", data=sales_csv().encode(), content_type="text/csv",
                headers=w.h["admin"])
    app.config.update(LLM_BASE_URL=llm.url, LLM_MODEL="imitation-1", LLM_TIMEOUT=2)
    result = runner.invoke(args=["recommend", "train"])
    assert result.exit_code == 0, result.output
    summary = summary_of(result.output)
    # D11 features LIP-01 only: two LLM calls (zh-CN, en); the rest of the catalog gets templates.
    assert summary["script_generation"]["llm"] == 2 and len(llm.requests) == 2
    assert "fallback_timeout" not in summary["script_generation"]
    facts = json.loads(llm.requests[0]["body"]["messages"][1]["content"].split("(JSON): ", 1)[1])
    assert facts["name"] == "Product LIP-01" and facts["promo_price"] == 159.0
    assert facts["campaign_title"] == "Campaign D11" and facts["pairs"][0] == "Product LIP-02"
    listed = client.get("/api/v1/scripts?sku=LIP-01", headers=w.h["clerk1"]).json
    # the campaign's scripts from the LLM, plus the general ones (templates) any campaign may use
    assert {(s["source"], s["campaign_id"]) for s in listed} == {("llm", w.campaign.id), ("generated", None)}
    assert len([s for s in listed if s["source"] == "llm"]) == 2
    others = client.get("/api/v1/scripts?sku=SER-01&locale=en", headers=w.h["clerk1"]).json
    assert {s["source"] for s in others} == {"generated"}
    # Training again adds nothing: every product already has its machine candidates.
    again = summary_of(runner.invoke(args=["recommend", "train"]).output)
    assert again["scripts_generated"] == 0 and len(llm.requests) == 2


def test_recommend_train_falls_back_when_the_llm_is_slow(make, client, runner, app, llm):
    w = seed_catalog(make)
    llm.mode = "slow"
    app.config.update(LLM_BASE_URL=llm.url, LLM_MODEL="imitation-1", LLM_TIMEOUT=0.3)
    result = runner.invoke(args=["recommend", "train"])
    assert result.exit_code == 0, result.output
    summary = summary_of(result.output)
    assert summary["script_generation"]["fallback_timeout"] == 2
    sources = make.scalar(select(Script.source).where(Script.product_id == w.lip.id).distinct())
    assert sources == "generated"
    listed = client.get("/api/v1/scripts?sku=LIP-01", headers=w.h["clerk1"]).json
    campaign_scripts = [s for s in listed if s["campaign_id"] == w.campaign.id]
    assert len(campaign_scripts) == 2 and all("159" in s["text"] for s in campaign_scripts)  # promo price
    assert all("159" not in s["text"] for s in listed if s["campaign_id"] is None)
