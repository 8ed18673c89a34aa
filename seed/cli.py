"""`flask --app wsgi seed demo [--stores N]`."""

import click
from flask import Flask
from flask.cli import AppGroup

from backend import db
from seed.demo import NAMED_STORES, seed_demo


def register_seed_cli(app: Flask) -> None:
    """Attach the seed commands."""
    group = AppGroup("seed", help="Deterministic demo and benchmark data.")

    @group.command("demo")
    @click.option("--stores", default=NAMED_STORES, show_default=True, type=click.IntRange(1, 100_000),
                  help="Number of stores (10000 builds the benchmark chain).")
    def demo(stores):
        """Seed the demo cosmetics chain (idempotent) and print the demo logins."""
        session = db.new_session()
        try:
            report = seed_demo(session, stores=stores, progress=True)
        finally:
            session.close()
        created = ", ".join(f"{count} {kind}" for kind, count in report.created.items()) or "nothing new"
        click.echo(f"seeded: {created}")
        click.echo("demo logins (username / password / role):")
        for username, password, role in report.logins:
            click.echo(f"  {username:<14} {password:<18} {role}")

    app.cli.add_command(group)
