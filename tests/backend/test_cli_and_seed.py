"""CLI commands: db upgrade, create-admin, seed demo (deterministic and idempotent)."""

from sqlalchemy import select

from backend import db
from backend.campaigns.models import Campaign
from backend.catalog.models import Product
from backend.org.models import Store, User
from backend.tasks.models import StoreTask


def _snapshot(app):
    with app.app_context():
        session = db.new_session()
        try:
            return {
                "stores": session.scalars(select(Store.code).order_by(Store.code)).all(),
                "products": session.execute(select(Product.sku, Product.name, Product.price)
                                            .order_by(Product.sku)).all(),
                "users": session.scalars(select(User.username).order_by(User.username)).all(),
                "campaigns": session.scalars(select(Campaign.code).order_by(Campaign.code)).all(),
                "tasks": session.execute(select(StoreTask.status, StoreTask.store_id)
                                         .order_by(StoreTask.id)).all(),
            }
        finally:
            session.close()


def test_seed_demo_is_realistic_deterministic_and_idempotent(app, runner):
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    assert "admin" in first.output and "clerk_s001_1" in first.output
    snapshot = _snapshot(app)
    assert len(snapshot["stores"]) == 30 and len(snapshot["products"]) >= 150
    assert snapshot["campaigns"] == ["D11-2026", "SPRING-2027"]
    statuses = {status for status, _ in snapshot["tasks"]}
    assert {"open", "claimed", "in_progress", "submitted", "approved"} <= statuses
    again = runner.invoke(args=["seed", "demo"])
    assert again.exit_code == 0 and "nothing new" in again.output
    assert _snapshot(app) == snapshot


def test_seed_more_stores_adds_to_the_chain(app, runner):
    assert runner.invoke(args=["seed", "demo", "--stores", "40"]).exit_code == 0
    assert len(_snapshot(app)["stores"]) == 40


def test_create_admin_and_login(app, runner, client):
    result = runner.invoke(args=["create-admin", "boss", "--password", "very-secret-pw"])
    assert result.exit_code == 0, result.output
    login = client.post("/api/v1/auth/login", json={"username": "boss", "password": "very-secret-pw"})
    assert login.status_code == 200 and login.json["user"]["role"] == "hq_admin"
    short = runner.invoke(args=["create-admin", "boss2", "--password", "short"])
    assert short.exit_code != 0


def test_db_upgrade_is_a_noop_on_a_current_database(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "database at head" in result.output


def test_migrations_match_the_models(app):
    """No model change ships without its migration: autogenerate finds nothing to add."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import backend.models  # noqa: F401
    import recommend.models  # noqa: F401
    import sync.models  # noqa: F401
    from backend.db import Base
    with app.app_context():
        with db.engine().connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []


def test_purge_changes_command(app, runner):
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    kept = runner.invoke(args=["db", "purge-changes", "--days", "30"])
    assert kept.exit_code == 0 and "purged 0 change rows" in kept.output
    assert runner.invoke(args=["db", "purge-changes", "--days", "0"]).exit_code != 0
