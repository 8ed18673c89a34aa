"""`flask --app wsgi sales import FILE` with a progress bar."""

import io
import os

import click
from flask import Flask
from flask.cli import AppGroup
from tqdm import tqdm

from backend import db
from backend.errors import DomainError
from backend.sales.service import import_sales


def register_sales_cli(app: Flask) -> None:
    group = AppGroup("sales", help="POS sales lines.")

    @group.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def import_command(path):
        """Import a CSV of sales lines (streamed; re-importing a file adds nothing)."""
        session = db.new_session()
        with open(path, "rb") as raw, tqdm(total=os.path.getsize(path), unit="B", unit_scale=True,
                                          desc="sales") as bar:
            stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            try:
                result = import_sales(session=session, actor=None, stream=stream,
                                      progress=lambda _lines: bar.update(raw.tell() - bar.n))
            except DomainError as exc:
                raise click.ClickException(f"{exc.message} {exc.errors or ''}")
            finally:
                session.close()
            bar.update(bar.total - bar.n)
        click.echo(f"{result['lines']} lines: {result['imported']} imported, "
                   f"{result['duplicates']} already there, {result['rejected']} rejected")
        for line, reasons in list(result["errors"].items())[:20]:
            click.echo(f"  {line}: {'; '.join(reasons)}")

    app.cli.add_command(group)
