"""Pairing training at 100,000 and 1,000,000 sales lines: our model vs an association-rules library.

    python -m bench.pairings [--lines 100000,1000000] [--seed 11]

Seeded synthetic baskets with retail structure: 2,000 products in 20 categories with Zipf-like
popularity; each basket starts from one product and adds, with some probability, its usual
partners from related categories. For each size: train time and peak traced memory
(tracemalloc) of our model (recommend.pairings.train) and of mlxtend fpgrowth + association_rules
(pairwise), and leave-one-out hit-rate@5 of each plus popularity on 5,000 held-out baskets.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from bench.common import emit
from recommend import pairings

ITEMS, CATEGORIES = 2000, 20


def synthetic_baskets(lines: int, seed: int):
    """(train CSR, held-out CSR) with about `lines` lines in all."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, ITEMS + 1) ** 0.8
    popularity /= popularity.sum()
    category = np.arange(ITEMS) % CATEGORIES
    related = {c: [(c + 1) % CATEGORIES, (c + 7) % CATEGORIES] for c in range(CATEGORIES)}
    members = {c: np.flatnonzero(category == c) for c in range(CATEGORIES)}
    rows, cols, count, transaction = [], [], 0, 0
    firsts = rng.choice(ITEMS, size=lines, p=popularity)
    while count < lines:
        first = int(firsts[transaction % lines])
        basket = {first}
        for other in related[int(category[first])]:
            if rng.random() < 0.45:
                pool = members[other]
                usual = int(pool[first % pool.size])
                basket.add(usual if rng.random() < 0.7 else int(rng.choice(pool)))
        if rng.random() < 0.3:
            basket.add(int(rng.choice(ITEMS, p=popularity)))
        rows.extend([transaction] * len(basket))
        cols.extend(basket)
        count += len(basket)
        transaction += 1
    matrix = pairings.basket_matrix(np.array(rows), np.array(cols), ITEMS)
    order = rng.permutation(matrix.shape[0])
    held_out = order[:5000]
    return matrix[order[5000:]], matrix[held_out], count


def measure(function):
    """(seconds, peak traced MiB, result)."""
    tracemalloc.start()
    began = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, result


def run(lines: int, seed: int) -> None:
    train, test, count = synthetic_baskets(lines, seed)
    ours_s, ours_mib, model = measure(lambda: pairings.train(train))
    rules_s, rules_mib, rules = measure(lambda: pairings.association_rules_recommender(train))

    def hit_rate(recommend_fn):
        return pairings.leave_one_out(test, recommend_fn, k=5, seed=seed)["hit_rate"]

    emit(bench="pairings", lines=count, transactions=train.shape[0] + test.shape[0], items=ITEMS,
         ours_train_s=round(ours_s, 2), ours_peak_mib=round(ours_mib, 1),
         rules_train_s=round(rules_s, 2), rules_peak_mib=round(rules_mib, 1),
         speedup=round(rules_s / ours_s, 1),
         hit_rate_at_5={"ours": hit_rate(lambda b, k: pairings.recommend(model, b, k)),
                        "association_rules": hit_rate(rules),
                        "popularity": hit_rate(lambda b, k: pairings.popular(model.support, b, k))})


def end_to_end(lines: int, seed: int, backend: str) -> None:
    """The whole path on a real database: POS CSV import (streamed), then `recommend train`
    (load the lines, train, store the top 10 of 2,000 products, generate their scripts)."""
    from decimal import Decimal

    from sqlalchemy.orm import sessionmaker

    from backend import changefeed
    from backend.catalog.models import Product
    from backend.db import build_engine
    from backend.org.models import Region, Store
    from backend.sales.service import import_sales
    from bench.common import database_factory
    from recommend.service import train_pairings

    train, test, count = synthetic_baskets(lines, seed)
    matrix = pairings.sparse.vstack([train, test]).tocsr()
    changefeed.install()
    with database_factory(backend) as fresh:
        engine = build_engine(fresh(f"bench_pairings_{lines}"))
        session = sessionmaker(bind=engine, expire_on_commit=False)()
        region = Region(code="EAST", name="East")
        session.add_all([region, Store(code="S001", name="Store", region=region)])
        session.execute(Product.__table__.insert(), [
            {"sku": f"P{i:05d}", "name": f"Product {i}", "category": f"c{i % CATEGORIES}",
             "brand": "Acme", "price": Decimal("99.00"), "attributes": {}} for i in range(ITEMS)])
        session.commit()
        csv_path = f"/tmp/bench-pairings-{lines}.csv"
        with open(csv_path, "w") as out:
            out.write("transaction_id,store_code,sku,quantity,sold_at\n")
            for row in range(matrix.shape[0]):
                for item in matrix.indices[matrix.indptr[row]:matrix.indptr[row + 1]]:
                    out.write(f"T{row},S001,P{item:05d},1,2026-11-11T10:00:00+08:00\n")
        with open(csv_path, encoding="utf-8", newline="") as stream:
            import_s, _, imported = measure(lambda: import_sales(session=session, actor=None, stream=stream))
        train_s, peak, trained = measure(lambda: train_pairings(session=session))
        emit(bench="pairings_end_to_end", backend=backend, lines=imported["imported"],
             import_s=round(import_s, 1), recommend_train_s=round(train_s, 1),
             train_peak_mib=round(peak, 1), products_with_pairings=trained["with_learned_pairings"])
        session.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="100000,1000000")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--end-to-end", choices=["sqlite", "postgresql"],
                        help="also import the lines into this database and run recommend train")
    args = parser.parse_args()
    for lines in (int(size) for size in args.lines.split(",")):
        run(lines, args.seed)
        if args.end_to_end:
            end_to_end(lines, args.seed, args.end_to_end)


if __name__ == "__main__":
    main()
