"""A few seconds of the schemathesis fuzzer (bench/fuzz.py) per database: no 5xx, no answer the
published spec does not describe. The full run per role is in docs/security.md."""

from __future__ import annotations

from bench.fuzz import fuzz


def test_a_short_fuzz_run_finds_no_server_error_and_no_schema_violation(database_url):
    failures = []
    figures = fuzz(database_url, role="supervisor", max_examples=2, seed=14,
                   operations="/tasks", stores=4, sales=50, report=failures.append)
    assert figures["operations"] >= 10 and figures["cases"] >= 40
    assert failures == [] and figures["server_errors"] == figures["schema_violations"] == 0
    assert 200 in figures["statuses"] and 422 in figures["statuses"]  # both sides exercised
