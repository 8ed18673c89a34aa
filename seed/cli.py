"""`flask --app wsgi seed demo [--stores N]`."""

import click
from flask import Flask
from flask.cli import AppGroup

from backend import db
from seed.demo import NAMED_STORES, seed_demo
from seed.double11 import STORES, seed_double11


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

    @group.command("double11")
    @click.option("--stores", default=STORES, show_default=True, type=click.IntRange(20, 10_000),
                  help="Stores of the simulated chain (half of each region's are targeted).")
    def double11(stores):
        """Seed a simulated Double-11 promotion with known true effects (deterministic)."""
        session = db.new_session()
        try:
            report, campaign_id, truth = seed_double11(session, stores=stores, progress=True)
        finally:
            session.close()
        created = ", ".join(f"{count} {kind}" for kind, count in report.created.items()) or "nothing new"
        click.echo(f"seeded: {created}")
        click.echo(f"campaign D11-SIM (id {campaign_id}); true effects put in by the simulation:")
        click.echo(f"  attach rate  +{truth.attach_points * 100:.2f} points from the campaign, "
                   f"+{truth.season_attach_points * 100:.2f} from the season (every store)")
        click.echo(f"  featured units per store  +{truth.featured_units_per_store:g} from the campaign, "
                   f"+{truth.season_units_per_store:g} from the season")
        click.echo(f"report: GET /api/v1/analytics/impact?campaign={campaign_id}")

    app.cli.add_command(group)
