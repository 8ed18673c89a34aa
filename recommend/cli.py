"""`flask --app wsgi recommend train|evaluate`."""

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from tqdm import tqdm

from backend import db
from recommend import pairing_service, script_generation


def register_recommend_cli(app: Flask) -> None:
    group = AppGroup("recommend", help="Product pairings and sales scripts.")

    @group.command("train")
    @click.option("--tune/--no-tune", default=True, show_default=True,
                  help="choose the model's hyper-parameters on a validation part of the receipts")
    def train_command(tune):
        """Learn pairings from the imported sales lines, store each product's top 50 (filled up
        from its category and best-sellers when short), and generate scripts for products
        without (LLM when ZHIDA_LLM_* is set, templates otherwise)."""
        session = db.new_session()
        steps = ["load", "train", "store", "scripts"]
        with tqdm(total=len(steps), desc="pairings", unit="step") as bar:
            def progress(step):
                bar.set_postfix_str(step)
                bar.update(1)
            try:
                result = pairing_service.train_pairings(session=session, progress=progress, tune=tune,
                                                generator=script_generation.script_generator(current_app.config))
            finally:
                session.close()
        click.echo(json.dumps(result))

    @group.command("evaluate")
    @click.option("--holdout", default=0.2, show_default=True, type=click.FloatRange(0.01, 0.9))
    @click.option("--k", default=5, show_default=True, type=click.IntRange(1, 50))
    @click.option("--seed", default=7, show_default=True, type=int)
    @click.option("--depth", default=pairing_service.EVALUATED_DEPTH, show_default=True,
                  type=click.IntRange(1, pairing_service.STORED_K), help="partners served per basket item")
    def evaluate_command(holdout, k, seed, depth):
        """Leave-one-out hit-rate@k and precision@k of what the API serves (each basket item's
        top DEPTH, summed) next to popularity, confidence, cosine, EASE (full signed rows, and
        its top DEPTH) and association rules."""
        session = db.new_session()
        try:
            result = pairing_service.evaluate(session=session, holdout=holdout, k=k, seed=seed, depth=depth)
        finally:
            session.close()
        click.echo(f"held-out baskets: {result['model']['baskets']}  (k={k}, depth={depth}, "
                   f"seed={seed}, settings={json.dumps(result['settings'])}, ease l2={result['ease_l2']})")
        labels = {"model": "model (served)", "popularity": "popularity", "confidence": "confidence",
                  "cosine": "cosine", "ease": "EASE, full rows", "ease_served": f"EASE, top {depth}",
                  "association_rules": "association rules"}
        for name, label in labels.items():
            row = result.get(name)
            if row is None:
                click.echo(f"  {label:<18} (install mlxtend from requirements-dev.txt)")
                continue
            click.echo(f"  {label:<18} hit-rate@{k} {row['hit_rate']:.4f}   precision@{k} {row['precision']:.4f}")

    app.cli.add_command(group)
