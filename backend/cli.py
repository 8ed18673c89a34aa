"""Flask CLI commands of the backend: db upgrade, create-admin."""

import datetime as dt

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from backend import changefeed, db, migrate
from backend.auth.passwords import hash_password
from backend.db import utcnow
from backend.org.models import User


def register_cli(app: Flask) -> None:
    """Attach the backend's commands to `flask --app wsgi`."""
    db_group = AppGroup("db", help="Database schema migrations.")

    @db_group.command("upgrade")
    @click.argument("revision", default="head")
    def upgrade_command(revision):
        """Apply migrations up to REVISION (default: head)."""
        migrate.upgrade(db.engine(), revision)
        click.echo(f"database at {revision}")

    @db_group.command("downgrade")
    @click.argument("revision")
    def downgrade_command(revision):
        """Step migrations back to REVISION."""
        migrate.downgrade(db.engine(), revision)

    @db_group.command("revision")
    @click.option("-m", "--message", required=True)
    def revision_command(message):
        """Autogenerate a migration from the models."""
        migrate.revision(db.engine(), message)

    @db_group.command("purge-changes")
    @click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650))
    def purge_changes_command(days):
        """Drop sync change rows older than DAYS; phones with older cursors get reset: true."""
        session = db.new_session()
        try:
            removed = changefeed.purge_older_than(session, utcnow() - dt.timedelta(days=days))
        finally:
            session.close()
        click.echo(f"purged {removed} change rows older than {days} days")

    app.cli.add_command(db_group)

    @app.cli.command("create-admin")
    @click.argument("username")
    @click.option("--password", required=True, help="At least 8 characters.")
    @click.option("--display-name", default=None)
    def create_admin(username, password, display_name):
        """Create (or reset the password of) an HQ admin."""
        if len(password) < 8:
            raise click.BadParameter("at least 8 characters", param_hint="--password")
        session = db.new_session()
        user = session.scalar(select(User).where(User.username == username))
        if user is not None and user.role != "hq_admin":
            raise click.ClickException(f"{username} exists and is a {user.role}")
        if user is None:
            user = User(username=username, role="hq_admin", display_name=display_name or username,
                        locale="zh-CN", active=True, password_hash="")
            session.add(user)
        user.password_hash = hash_password(password)
        user.active = True
        session.commit()
        session.close()
        click.echo(f"HQ admin {username} ready")
