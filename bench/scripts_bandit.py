"""Script ranking as a bandit: cumulative regret of our Thompson sampling vs uniform choice and the
best fixed script, on simulated clerks whose customers convert at hidden rates per script.

    python -m bench.scripts_bandit [--rounds 50000] [--seeds 20] [--base-rates 0.06,0.25]
                                   [--end-to-end sqlite|postgresql] [--e2e-rounds 2000]

Per seed: 8 products with 5–10 scripts each; each script has a hidden close rate (a product base
rate of 6–25 % times a script effect, so the best script of a product converts ~1.5–2.5× the
worst). Each round a customer asks about one product (popular products more often); the clerk asks
the ranking for that product's scripts, uses the top one, and the app reports `used`, then
`converted` when the customer buys (the protocol docs/api.md describes). Outcomes come from one
pre-drawn table per seed (common random numbers), so every policy faces the same customers.

Policies: `thompson` (recommend.scripts.thompson_scores over recommend.scripts.posterior of the
counts record_feedback keeps: our ranking), `uniform` (a random script), `best_fixed` (each
product's best script, known in advance: 0 pseudo-regret by definition), and two diagnostics:
`greedy_mean` (the highest posterior mean, no exploration) and `thompson_outcome_per_use` (our
ranking fed by a client that sends ONE outcome per use: `converted` for a sale, `used` otherwise).

Regret: pseudo-regret Σ (best rate − rate of the script used), and realised regret against the best
fixed script in hindsight (per product, the script that would have converted most of the same
customers). Medians over seeds; one JSON line per policy.

`--end-to-end` replays seed 0 for --e2e-rounds through the real services on a database
(recommend.library.ranked_scripts, then record_feedback per outcome) and checks that it makes the
same choices as the in-memory run.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from dataclasses import dataclass

from bench.common import emit, median
from recommend import scripts

PRODUCTS = 8
CHECKPOINTS = (100, 1000, 5000, 20000, 50000)


@dataclass
class World:
    """Hidden close rates per product's scripts, and the customers of every round."""

    rates: list[list[float]]
    product_of_round: list[int]
    converts: list[list[bool]]  # converts[t][k]: would round t's customer buy after script k

    def best(self, product: int) -> float:
        return max(self.rates[product])


def make_world(seed: int, rounds: int, base_rates: tuple[float, float] = (0.06, 0.25)) -> World:
    """Products, their scripts' hidden close rates, and every round's customer, from one seed."""
    rng = random.Random(seed)
    rates = []
    for _ in range(PRODUCTS):
        base = rng.uniform(*base_rates)
        count = rng.randint(5, 10)
        rates.append([min(0.6, base * math.exp(rng.gauss(0.0, 0.3))) for _ in range(count)])
    popularity = [1.0 / (1 + index) for index in range(PRODUCTS)]
    product_of_round = rng.choices(range(PRODUCTS), popularity, k=rounds)
    converts = [[rng.random() < rate for rate in rates[product]] for product in product_of_round]
    return World(rates, product_of_round, converts)


class Counts:
    """What record_feedback stores per script: uses, conversions, dismissals."""

    def __init__(self, world: World):
        self.stats = [[[0, 0, 0] for _ in product] for product in world.rates]
        self.tries = [[0] * len(product) for product in world.rates]  # what really happened

    def of(self, product: int) -> list[tuple[int, int, int]]:
        return [tuple(row) for row in self.stats[product]]

    def documented(self, product: int, script: int, converted: bool) -> None:
        """`used` for every use, then `converted` for a sale (docs/api.md)."""
        self.tries[product][script] += 1
        self.stats[product][script][0] += 1
        self.stats[product][script][1] += converted

    def outcome_per_use(self, product: int, script: int, converted: bool) -> None:
        """One outcome per use: `converted` for a sale, `used` otherwise."""
        self.tries[product][script] += 1
        self.stats[product][script][1 if converted else 0] += 1


def thompson(rng: random.Random, counts: Counts, product: int) -> int:
    """The top of our ranking: service.ranked_scripts sorts by these draws, highest first."""
    draws = scripts.thompson_scores(counts.of(product), rng)
    return max(range(len(draws)), key=draws.__getitem__)


def greedy_mean(rng: random.Random, counts: Counts, product: int) -> int:
    """The script with the highest posterior mean: exploits, never explores."""
    means = [alpha / (alpha + beta) for alpha, beta in
             (scripts.posterior(*row) for row in counts.of(product))]
    return max(range(len(means)), key=means.__getitem__)


def uniform(rng: random.Random, counts: Counts, product: int) -> int:
    """Any script, at random."""
    return rng.randrange(len(counts.stats[product]))


POLICIES = {"thompson": (thompson, "documented"), "uniform": (uniform, "documented"),
            "greedy_mean": (greedy_mean, "documented"),
            "thompson_outcome_per_use": (thompson, "outcome_per_use")}


def simulate(world: World, choose, feedback: str, seed: int) -> dict:
    """Play every round; the policy's choices and its regret curve."""
    rng = random.Random(seed * 7919 + 1)  # the ranking's own randomness
    counts = Counts(world)
    record = getattr(counts, feedback)
    pseudo, conversions, curve, choices = 0.0, 0, {}, []
    for t, product in enumerate(world.product_of_round, start=1):
        script = choose(rng, counts, product)
        converted = world.converts[t - 1][script]
        record(product, script, converted)
        choices.append(script)
        pseudo += world.best(product) - world.rates[product][script]
        conversions += converted
        if t in CHECKPOINTS:
            curve[t] = pseudo
    return {"pseudo_regret": pseudo, "curve": curve, "conversions": conversions,
            "choices": choices, "best_share_last_10pct": _best_share(world, choices),
            "mean_error": _mean_error(world, counts)}


def _mean_error(world: World, counts: Counts) -> float:
    """How far the `mean` GET /scripts shows is from the truth, for each product's most-used
    script (median over products): it should shrink toward 0 as uses pile up."""
    errors = []
    for product, rates in enumerate(world.rates):
        tries = counts.tries[product]
        script = max(range(len(tries)), key=tries.__getitem__)
        alpha, beta = scripts.posterior(*counts.of(product)[script])
        errors.append(abs(alpha / (alpha + beta) - rates[script]))
    return statistics.median(errors)


def _best_share(world: World, choices: list[int]) -> float:
    tail = range(len(choices) * 9 // 10, len(choices))
    hits = sum(world.rates[world.product_of_round[t]][choices[t]] == world.best(world.product_of_round[t])
               for t in tail)
    return hits / len(tail)


def best_fixed_in_hindsight(world: World) -> int:
    """Conversions of the best single script per product, knowing every customer's answer."""
    totals = [[0] * len(rates) for rates in world.rates]
    for t, product in enumerate(world.product_of_round):
        for script, converted in enumerate(world.converts[t]):
            totals[product][script] += converted
    return sum(max(per_script) for per_script in totals if per_script)


def best_fixed_conversions(world: World) -> int:
    """Conversions of each product's truly best script (by hidden rate) on the same customers."""
    best = [rates.index(max(rates)) for rates in world.rates]
    return sum(world.converts[t][best[product]] for t, product in enumerate(world.product_of_round))


def run(rounds: int, seeds: int, base_rates: tuple[float, float]) -> None:
    results: dict[str, list[dict]] = {name: [] for name in ["best_fixed", *POLICIES]}
    hindsight = []
    for seed in range(seeds):
        world = make_world(seed, rounds, base_rates)
        hindsight.append(best_fixed_in_hindsight(world))
        fixed = best_fixed_conversions(world)
        results["best_fixed"].append({"pseudo_regret": 0.0, "curve": {c: 0.0 for c in CHECKPOINTS if c <= rounds},
                                      "conversions": fixed, "best_share_last_10pct": 1.0,
                                      "mean_error": None})
        for name, (choose, feedback) in POLICIES.items():
            results[name].append(simulate(world, choose, feedback, seed))
    for name, runs in results.items():
        emit(bench="scripts_bandit", policy=name, rounds=rounds, seeds=seeds, products=PRODUCTS,
             base_rates=list(base_rates),
             pseudo_regret_median=round(median([r["pseudo_regret"] for r in runs]), 1),
             pseudo_regret_at={t: round(median([r["curve"][t] for r in runs]), 1)
                               for t in CHECKPOINTS if t <= rounds},
             conversions_median=median([r["conversions"] for r in runs]),
             regret_vs_best_fixed_in_hindsight_median=median(
                 [h - r["conversions"] for h, r in zip(hindsight, runs)]),
             best_fixed_in_hindsight_conversions_median=median(hindsight),
             best_script_share_last_10pct_median=round(
                 median([r["best_share_last_10pct"] for r in runs]), 3),
             pseudo_regret_range=[round(min(r["pseudo_regret"] for r in runs), 1),
                                  round(max(r["pseudo_regret"] for r in runs), 1)],
             shown_mean_abs_error_median=(round(median([r["mean_error"] for r in runs]), 4)
                                          if runs[0]["mean_error"] is not None else None))


def end_to_end(backend: str, rounds: int) -> None:
    """Seed 0 through recommend.library on a real database: same choices as in memory?"""
    from decimal import Decimal

    from sqlalchemy.orm import sessionmaker

    from backend.catalog.models import Product
    from backend.db import build_engine
    from backend.org.models import User
    from bench.common import database_factory
    from recommend import library as service
    from recommend.models import Script
    from tests.factories import PASSWORD_HASH

    world = make_world(0, rounds)
    expected = simulate(world, thompson, "documented", 0)["choices"]
    with database_factory(backend) as fresh:
        engine = build_engine(fresh("bench_scripts_bandit"))
        session = sessionmaker(bind=engine, expire_on_commit=False)()
        clerk = User(username="clerk", display_name="Clerk", role="clerk", password_hash=PASSWORD_HASH,
                     locale="en")
        products = [Product(sku=f"P{index}", name=f"Product {index}", category="lipstick",
                            brand="Acme", price=Decimal("99.00"), attributes={})
                    for index in range(PRODUCTS)]
        session.add_all([clerk, *products])
        session.flush()
        script_ids = []
        for product, rates in zip(products, world.rates):
            rows = [Script(product_id=product.id, locale="en", text=f"Script {k} of {product.sku}",
                           source="hq", status="approved") for k in range(len(rates))]
            session.add_all(rows)
            session.flush()
            script_ids.append([row.id for row in rows])
        session.commit()
        rng = random.Random(0 * 7919 + 1)  # the same ranking randomness as simulate() for seed 0
        choices, started, pseudo = [], time.perf_counter(), 0.0
        for t, product in enumerate(world.product_of_round):
            top = service.ranked_scripts(session=session, actor=clerk, sku=f"P{product}", locale="en",
                                         rng=rng)[0]["id"]
            script = script_ids[product].index(top)
            service.record_feedback(session=session, actor=clerk, script_id=top, outcome="used")
            if world.converts[t][script]:
                service.record_feedback(session=session, actor=clerk, script_id=top,
                                        outcome="converted")
            choices.append(script)
            pseudo += world.best(product) - world.rates[product][script]
        seconds = time.perf_counter() - started
        emit(bench="scripts_bandit_end_to_end", backend=backend, rounds=rounds, policy="thompson",
             pseudo_regret=round(pseudo, 1), same_choices_as_in_memory=choices == expected,
             rounds_per_s=round(rounds / seconds), ms_per_round=round(1000 * seconds / rounds, 2))
        session.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--base-rates", default="0.06,0.25",
                        help="range of a product's base close rate (scripts vary around it)")
    parser.add_argument("--end-to-end", choices=["sqlite", "postgresql"])
    parser.add_argument("--e2e-rounds", type=int, default=2000)
    args = parser.parse_args()
    low, high = (float(value) for value in args.base_rates.split(","))
    run(args.rounds, args.seeds, (low, high))
    if args.end_to_end:
        end_to_end(args.end_to_end, args.e2e_rounds)


if __name__ == "__main__":
    main()
