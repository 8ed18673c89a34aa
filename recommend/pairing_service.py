"""Product pairings: training from the sales lines, storing, serving with HQ's rules, and evaluating
(scripts: recommend/library.py and recommend/script_generation.py)."""

from __future__ import annotations

import datetime as dt
from typing import Callable

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend import db
from backend.catalog.models import Product, ProductPairing
from backend.catalog.service import product_by_sku
from backend.db import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.org.models import User
from recommend import evaluation, pairings, script_generation
from recommend.baskets import load_baskets
from recommend.announce import announce_products
from recommend.llm import ScriptGenerator
from recommend.models import PairingRule
from recommend.partners import pairings_filled

STORED_K = 50        # partners stored per product: the most a client may ask for
EVALUATED_DEPTH = 20  # what a client asks for: the depth `evaluate` scores, summed per basket


def _public(settings: pairings.Settings) -> dict:
    """The hyper-parameters a run chose, for its report."""
    return {name: getattr(settings, name) for name in ("l2", "dropout", "asymmetry", "neighbourhood",
                                                  "popularity", "head")}


def _catalogue(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """Product ids in id order, and their categories."""
    rows = session.execute(select(Product.id, Product.category).order_by(Product.id)).all()
    return (np.array([row[0] for row in rows], dtype=np.int64),
            np.array([row[1] for row in rows], dtype=object))


def _store(session: Session, product_ids: np.ndarray, served: pairings.Served, now) -> None:
    """Replace every stored pairing with the served lists, in one bulk write."""
    scores, counts, sources = served.scores, served.pair_counts, served.sources
    owner = np.repeat(np.arange(scores.shape[0]), np.diff(scores.indptr))
    rank = np.arange(scores.nnz) - scores.indptr[owner] + 1
    names = np.array(pairings.SOURCES, dtype=object)[sources.data.astype(int)]
    rows = zip(product_ids[owner].tolist(), rank.tolist(), product_ids[scores.indices].tolist(),
               np.round(scores.data, 6).tolist(), counts.data.astype(int).tolist(), names.tolist())
    session.execute(delete(ProductPairing))
    if scores.nnz == 0:
        return
    columns = "product_id, rank, paired_product_id, score, support, source, trained_at"
    if session.bind.dialect.name == "postgresql":
        # COPY of one prebuilt text block: no per-row work in the driver.
        stamp = now.isoformat()
        text = "".join(f"{a}\t{b}\t{c}\t{d!r}\t{e}\t{f}\t{stamp}\n" for a, b, c, d, e, f in rows)
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY product_pairings ({columns}) FROM STDIN") as copy:
            copy.write(text)
    else:  # the text SQLAlchemy's SQLite DateTime writes and reads back (UTC, no offset)
        stamp = now.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        session.connection().exec_driver_sql(
            f"INSERT INTO product_pairings ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row, stamp) for row in rows])


def train_pairings(*, session: Session, progress: Callable[[str], None] | None = None,
                   generator: ScriptGenerator | None = None, tune: bool = True,
                   seed: int = 7) -> dict:
    """Learn pairings from all sales lines (hyper-parameters chosen on a validation part of them
    unless ``tune`` is off), replace every product's stored top 50 — learned, filled up from its
    category and best-sellers when short — then generate scripts for products without."""
    say = progress or (lambda _step: None)
    product_ids, categories = _catalogue(session)
    say("load")
    baskets = load_baskets(session, product_ids)
    say("train")
    settings = pairings.Settings()
    if tune and baskets.shape[0] >= 200:
        settings, _ = pairings.tune(baskets, seed=seed, depth=EVALUATED_DEPTH)
    model = pairings.train(baskets, settings)
    served = pairings.served_lists(model, categories, STORED_K)
    say("store")
    _store(session, product_ids, served, utcnow())
    announce_products(session, None)
    db.commit(session)
    first_source = np.array([served.sources.data[start] if end > start else -1
                             for start, end in zip(served.sources.indptr[:-1], served.sources.indptr[1:])])
    say("scripts")
    generated = script_generation.generate_scripts(session=session, generator=generator)
    return {"transactions": baskets.shape[0], "products": len(product_ids),
            "with_learned_pairings": int((first_source == 0).sum()),
            "with_category_fallback": int((first_source == 1).sum()),
            "with_popular_fallback": int((first_source == 2).sum()),
            "settings": _public(settings),
            "scripts_generated": generated["scripts"], "script_generation": generated["outcomes"],
            "llm": generated["llm"]}


def pairings_for(*, session: Session, actor: User, sku: str, k: int) -> dict:
    """The product's pairings, best first: HQ's pins, then the stored ranking without bans,
    filled up from its category and the best-sellers when short."""
    product = product_by_sku(session, sku)
    return {"sku": product.sku, "pairings": pairings_filled(session, product, k)}


def set_pairing_rule(*, session: Session, actor: User, sku: str, other_sku: str, kind: str) -> dict:
    """Pin or ban a partner for a product (HQ); a pin replaces a ban and the other way round."""
    product, other = product_by_sku(session, sku), product_by_sku(session, other_sku)
    if product.id == other.id:
        raise ValidationFailed("A product cannot pair with itself.", errors={"sku": ["Same product."]})
    rule = session.get(PairingRule, (product.id, other.id))
    if rule is None:
        session.add(PairingRule(product_id=product.id, other_id=other.id, kind=kind,
                                created_by_id=actor.id))
    else:
        rule.kind = kind
    announce_products(session, {product.sku})
    db.commit(session)
    return pairings_for(session=session, actor=actor, sku=sku, k=10)


def remove_pairing_rule(*, session: Session, actor: User, sku: str, other_sku: str, kind: str) -> dict:
    """Lift a pin or a ban (HQ)."""
    product, other = product_by_sku(session, sku), product_by_sku(session, other_sku)
    rule = session.get(PairingRule, (product.id, other.id))
    if rule is None or rule.kind != kind:
        raise NotFound(f"No {kind} of {other_sku} on {sku}.")
    session.delete(rule)
    announce_products(session, {product.sku})
    db.commit(session)
    return pairings_for(session=session, actor=actor, sku=sku, k=10)


def evaluate(*, session: Session, holdout: float = 0.2, k: int = 5, seed: int = 7,
             depth: int = EVALUATED_DEPTH) -> dict:
    """Hold out a seeded share of the receipts, train on the rest (hyper-parameters chosen on a
    validation part of the training receipts only), hide one item of each held-out basket and
    score hit-rate@k and precision@k of what the API would serve — each basket item's top
    ``depth`` stored partners, summed — next to popularity, confidence, cosine, EASE (full signed
    rows, and its top ``depth`` as served) and association rules (mlxtend, a development
    dependency) on the same split."""
    product_ids, categories = _catalogue(session)
    baskets = load_baskets(session, product_ids)
    order = np.random.default_rng(seed).permutation(baskets.shape[0])
    n_test = int(round(baskets.shape[0] * holdout))
    train_baskets, test_baskets = baskets[order[n_test:]], baskets[order[:n_test]]
    settings = pairings.Settings()
    if train_baskets.shape[0] >= 200:
        settings, _ = pairings.tune(train_baskets, seed=seed, depth=depth, k=k)
    model = pairings.train(train_baskets, settings)
    served = pairings.served_lists(model, categories, STORED_K)
    trial = evaluation.LeaveOneOut(test_baskets, seed=seed)
    support = model.support
    counts = evaluation.cooccurrence(train_baskets)
    ease_l2 = (evaluation.tune_ease_l2(train_baskets, head=settings.head, seed=seed, k=k)
               if train_baskets.shape[0] >= 200 else settings.l2)
    ease = evaluation.ease_rows(train_baskets, l2=ease_l2, head=settings.head)
    methods = {
        "model": evaluation.summed_rows(pairings.leading(served.scores, depth), support),
        "popularity": evaluation.popularity(support),
        "confidence": evaluation.summed_rows(evaluation.confidence_rows(counts), support),
        "cosine": evaluation.summed_rows(evaluation.cosine_rows(counts), support),
        "ease": evaluation.summed_rows(ease, support),
        # EASE scored as SPEC §10 scores every method: each basket item's top ``depth``, summed.
        "ease_served": evaluation.summed_rows(pairings.truncate(ease, depth), support),
    }
    try:
        methods["association_rules"] = evaluation.max_rows(evaluation.association_rules(train_baskets),
                                                           support)
    except ImportError:
        pass  # mlxtend is a development dependency (requirements-dev.txt)
    result = {"k": k, "depth": depth, "holdout": holdout, "seed": seed,
              "train_transactions": train_baskets.shape[0],
              "settings": _public(settings),
              "ease_l2": ease_l2}
    result.update({name: trial.report(scorer, k=k) for name, scorer in methods.items()})
    return result
