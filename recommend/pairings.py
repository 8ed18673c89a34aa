"""Product pairings learned from baskets: pure NumPy/SciPy, no app, no database.

Item-item scores from co-occurrence counts C (C[i, j] = transactions holding both i and j,
C[i, i] = transactions holding i):

    score(i → j) = C[i, j] / ((C[i, i] + shrinkage) · C[j, j] ** damping)

The first factor is P(j | i) shrunk toward 0 when i has little data (significance-aware);
it keeps popularity built in, which is why it beats lift-only rankings in leave-one-out
hit rate. The damping term (0 ≤ damping < 1) takes a little of that popularity back so
that every product does not pair with the same best-sellers. Pairs seen in fewer than
``min_support`` transactions are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class Model:
    """Scores (items × items, sparse) and each item's support."""

    scores: sparse.csr_matrix
    counts: sparse.csr_matrix
    support: np.ndarray


def basket_matrix(transaction_index: np.ndarray, item_index: np.ndarray, n_items: int) -> sparse.csr_matrix:
    """Binary transactions × items matrix from parallel (transaction, item) index arrays."""
    n_transactions = int(transaction_index.max()) + 1 if transaction_index.size else 0
    data = np.ones(transaction_index.size, dtype=np.float32)
    matrix = sparse.csr_matrix((data, (transaction_index, item_index)),
                               shape=(n_transactions, n_items))
    matrix.data[:] = 1.0  # the same item twice in a basket counts once
    return matrix


def train(baskets: sparse.csr_matrix, *, min_support: int = 2, shrinkage: float = 5.0,
          damping: float = 0.2) -> Model:
    """Co-occurrence counts and pair scores."""
    counts = (baskets.T @ baskets).tocsr().astype(np.float64)
    support = counts.diagonal().copy()
    counts.setdiag(0)
    counts.data[counts.data < min_support] = 0
    counts.eliminate_zeros()
    counts.sort_indices()
    row_scale = 1.0 / (support + shrinkage)
    column_scale = np.power(np.maximum(support, 1.0), -damping)
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    # Same sparsity pattern and order as counts: a pair's score and support share a position.
    scores = sparse.csr_matrix((counts.data * row_scale[rows] * column_scale[counts.indices],
                                counts.indices.copy(), counts.indptr.copy()), shape=counts.shape)
    return Model(scores=scores, counts=counts, support=support)


def top_k(model: Model, item: int, k: int) -> list[tuple[int, float, int]]:
    """The k best partners of an item: (item, score, support of the pair)."""
    start, end = model.scores.indptr[item], model.scores.indptr[item + 1]
    if start == end:
        return []
    scores, partners = model.scores.data[start:end], model.scores.indices[start:end]
    support = model.counts.data[start:end]
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(partners[i]), float(scores[i]), int(support[i])) for i in order]


def recommend(model: Model, basket: list[int], k: int) -> list[int]:
    """The k items that best complete a basket (sum of its items' scores), popularity breaking ties."""
    combined = np.asarray(model.scores[basket].sum(axis=0)).ravel()
    combined += 1e-9 * model.support / max(model.support.max(), 1.0)
    combined[basket] = -np.inf
    best = np.argpartition(-combined, min(k, combined.size - 1))[:k]
    return [int(i) for i in best[np.argsort(-combined[best], kind="stable")]]


def popular(support: np.ndarray, basket: list[int], k: int) -> list[int]:
    """The popularity baseline: the k best-sellers not already in the basket."""
    ranked = np.argsort(-support, kind="stable")
    return [int(i) for i in ranked if i not in set(basket)][:k]


def leave_one_out(baskets: sparse.csr_matrix, recommend_fn, *, k: int, seed: int) -> dict:
    """Hide one random item of each basket of ≥ 2 items; hit-rate@k and precision@k."""
    rng = np.random.default_rng(seed)
    hits = trials = 0
    for row in range(baskets.shape[0]):
        items = baskets.indices[baskets.indptr[row]:baskets.indptr[row + 1]]
        if items.size < 2:
            continue
        hidden = int(items[rng.integers(items.size)])
        rest = [int(i) for i in items if i != hidden]
        trials += 1
        hits += hidden in recommend_fn(rest, k)
    rate = hits / trials if trials else 0.0
    return {"baskets": trials, "hit_rate": round(rate, 4), "precision": round(rate / k, 4)}


def association_rules_recommender(baskets: sparse.csr_matrix, *, min_support: float = 0.001,
                                  min_confidence: float = 0.01):
    """The association-rules baseline (mlxtend fpgrowth + association_rules, pairwise rules):
    candidates are the consequents of rules whose antecedent is in the basket, ranked by the
    best confidence. No popularity fill-in: what the rules alone find."""
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    frame = pd.DataFrame.sparse.from_spmatrix(baskets.astype(bool))
    frame.columns = list(range(baskets.shape[1]))
    itemsets = fpgrowth(frame, min_support=min_support, max_len=2)
    rules = (association_rules(itemsets, metric="confidence", min_threshold=min_confidence)
             if len(itemsets) else None)
    best: dict[int, dict[int, float]] = {}
    if rules is not None:
        for antecedents, consequents, confidence in zip(rules["antecedents"], rules["consequents"],
                                                        rules["confidence"]):
            (antecedent,), (consequent,) = tuple(antecedents), tuple(consequents)
            row = best.setdefault(antecedent, {})
            row[consequent] = max(row.get(consequent, 0.0), float(confidence))

    def recommend_by_rules(basket: list[int], k: int) -> list[int]:
        scores: dict[int, float] = {}
        for item in basket:
            for consequent, confidence in best.get(item, {}).items():
                if consequent not in basket:
                    scores[consequent] = max(scores.get(consequent, 0.0), confidence)
        return [item for item, _ in sorted(scores.items(), key=lambda pair: -pair[1])[:k]]

    return recommend_by_rules
