"""Fixtures: one suite, run against a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from backend import migrate
from backend.app import create_app
import recommend.models  # noqa: F401  (their tables are emptied between tests too)
import notifications.models  # noqa: F401
import integrations.models  # noqa: F401
import outbox.models  # noqa: F401
import rules.models  # noqa: F401
import sync.models  # noqa: F401
from backend.db import Base, build_engine
from tests import openapi_contract, pg_server
from tests.factories import Factory

BACKENDS = ["sqlite", "postgresql"]
REQUIRE_POSTGRES = os.environ.get("ZHIDA_REQUIRE_POSTGRES") == "1"
# A file to list OpenAPI violations in, instead of failing the tests that met them (a survey).
OPENAPI_SURVEY = os.environ.get("ZHIDA_OPENAPI_SURVEY")


@pytest.fixture(autouse=True)
def api_answers_match_the_published_spec(request):
    """Fails a test that received an API answer its published OpenAPI does not describe."""
    openapi_contract.violations.clear()
    yield
    found = list(dict.fromkeys(openapi_contract.violations))
    openapi_contract.violations.clear()
    if found and OPENAPI_SURVEY:
        with open(OPENAPI_SURVEY, "a", encoding="utf-8") as survey:
            survey.writelines(f"{request.node.nodeid}\t{line}\n" for line in found)
    elif found:
        pytest.fail("answers that /api/v1/openapi.json does not describe:\n" + "\n".join(found[:20]),
                    pytrace=False)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server started for this test session (or a skip, loudly, when absent)."""
    if pg_server.find_pg_bin() is None:
        message = "PostgreSQL is not installed: PostgreSQL tests skipped (apt-get install postgresql)"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    server = pg_server.start_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_urls(tmp_path_factory):
    """Database URLs already migrated to head, one per backend, created on first use."""
    cache: dict[str, str] = {}
    return cache


@pytest.fixture(params=BACKENDS)
def database_url(request, migrated_urls, tmp_path_factory):
    """A migrated database of each backend, emptied before every test."""
    backend = request.param
    if backend not in migrated_urls:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'zhida-test.sqlite3'}"
        else:
            server = request.getfixturevalue("postgres")
            server.create_database("zhida_test")
            url = server.url("zhida_test")
        engine = build_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        migrated_urls[backend] = url
    url = migrated_urls[backend]
    _empty_all_tables(url)
    return url


def _empty_all_tables(url: str) -> None:
    engine = build_engine(url)
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)
              if table.name != "change_counter"]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
            # Deleting tasks and claims ran the rollup triggers: empty the rollups last.
            for table in tables:
                if table.startswith("analytics_"):
                    connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("UPDATE change_counter SET value = 0, purged_through = 0"))
    engine.dispose()


@pytest.fixture
def app(database_url):
    # Quiet hours follow the wall clock; the tests of them set their own clock and settings.
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key-that-is-long-enough-32b",
                      "TESTING": True, "NOTIFY_QUIET_HOURS": "off"})
    app.test_client_class = openapi_contract.RecordingClient
    yield app
    app.extensions["zhida.engine"].dispose()


@pytest.fixture(scope="module")
def plain_app(tmp_path_factory):
    """An app for what needs no data (the route table, the spec, static files, page shells):
    built once per module, on an empty SQLite file, so such tests run once, not per database."""
    url = f"sqlite:///{tmp_path_factory.mktemp('plain') / 'empty.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret-key-that-is-long-enough-32b",
                      "TESTING": True})
    app.test_client_class = openapi_contract.RecordingClient
    yield app
    app.extensions["zhida.engine"].dispose()


@pytest.fixture
def plain_client(plain_app):
    return plain_app.test_client()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app):
    """Row factories bound to a session of this app's database."""
    with app.app_context():
        factory = Factory(app)
        yield factory
        factory.close()
