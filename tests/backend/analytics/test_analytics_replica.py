"""Analytics read from ANALYTICS_DATABASE_URL when it is set (a replica), and say how far behind
it is; the rest of the API keeps reading and writing the primary."""

from __future__ import annotations

import uuid

import pytest

from backend import migrate
from backend.app import create_app
from backend.db import build_engine
from tests.factories import Factory


@pytest.fixture
def replica_url(database_url, request, tmp_path):
    """A second migrated database of the same kind, standing in for a replica."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    else:
        server = request.getfixturevalue("postgres")
        name = f"replica_{uuid.uuid4().hex[:8]}"
        server.create_database(name)
        url = server.url(name)
    engine = build_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def _app(database_url, replica_url=""):
    return create_app({"DATABASE_URL": database_url, "ANALYTICS_DATABASE_URL": replica_url,
                       "SECRET_KEY": "test-secret-key-that-is-long-enough-32b", "TESTING": True,
                       "NOTIFY_QUIET_HOURS": "off"})


def test_analytics_read_the_replica_and_report_its_lag(database_url, replica_url):
    primary_only = _app(database_url)
    with primary_only.app_context():
        make = Factory(primary_only)
        w = make.world()
        make.close()
    client = primary_only.test_client()
    answer = client.get("/api/v1/analytics/execution?group_by=store", headers=w.h["admin"])
    assert answer.headers["X-Analytics-Lag"] == "primary"
    assert [row["group"] for row in answer.json["rows"]] == ["S001", "S002", "S003"]
    primary_only.extensions["zhida.engine"].dispose()

    # The replica holds no tasks yet (it has not caught up): analytics say so, the rest of the
    # API still answers from the primary.
    with_replica = _app(database_url, replica_url)
    client = with_replica.test_client()
    answer = client.get("/api/v1/analytics/execution?group_by=store", headers=w.h["admin"])
    assert answer.status_code == 200 and answer.json["rows"] == []
    expected_lag = "unknown" if database_url.startswith("sqlite") else "0.000"  # not in recovery
    assert answer.headers["X-Analytics-Lag"] == expected_lag
    csv = client.get("/api/v1/analytics/execution?format=csv", headers=w.h["admin"])
    assert csv.headers["X-Analytics-Lag"] == expected_lag
    assert client.get(f"/api/v1/analytics/impact?campaign={w.campaign.id}",
                      headers=w.h["admin"]).status_code == 404  # not on the replica yet
    tasks = client.get(f"/api/v1/tasks?campaign={w.campaign.id}", headers=w.h["admin"]).json
    assert tasks["total"] == 6
    for engine in ("zhida.engine", "zhida.analytics_engine"):
        with_replica.extensions[engine].dispose()
