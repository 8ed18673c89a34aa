"""Offline evaluation of pairings: leave-one-out over held-out baskets, and the baselines.

Protocol: hide one item (seeded) of every held-out basket of two or more items; every remaining
item contributes its row of partner scores, the rows are summed, items already in the basket are
skipped, and the k best candidates are the recommendation (ties, and an empty sum, fall back on
the training split's best-sellers, the same for every method). hit-rate@k is the share of
baskets whose hidden item is among them; precision@k is hit-rate / k (one hidden item).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import sparse

Scorer = Callable[[sparse.csr_matrix], sparse.csr_matrix]


class LeaveOneOut:
    """Trials over held-out baskets: one item hidden, the rest given; fixed by the seed."""

    def __init__(self, baskets: sparse.csr_matrix, *, seed: int, every_item: bool = False,
                 max_trials: int = 20_000):
        """One trial per basket (a random item hidden), or with ``every_item`` one per item of
        every basket (at most ``max_trials``, a seeded sample): more signal from few baskets,
        which is what choosing hyper-parameters on a validation split needs."""
        baskets = baskets.tocsr()
        baskets.sort_indices()
        sizes = np.diff(baskets.indptr)
        held = baskets[np.flatnonzero(sizes >= 2)]
        held_sizes = np.diff(held.indptr)
        rng = np.random.default_rng(seed)
        if every_item:
            hidden_position = np.arange(held.indices.size)
            if hidden_position.size > max_trials:
                hidden_position = np.sort(rng.choice(hidden_position, max_trials, replace=False))
            owner = np.repeat(np.arange(held.shape[0]), held_sizes)[hidden_position]
        else:
            hidden_position = held.indptr[:-1] + rng.integers(0, held_sizes)
            owner = np.arange(held.shape[0])
        self.hidden = held.indices[hidden_position].copy()
        trial_sizes = held_sizes[owner] - 1
        indptr = np.concatenate([[0], np.cumsum(trial_sizes)])
        # Each trial's items: its basket's positions except the hidden one.
        starts = np.repeat(held.indptr[owner], trial_sizes)
        offset = np.arange(indptr[-1]) - np.repeat(indptr[:-1], trial_sizes)
        position = starts + offset
        position += position >= np.repeat(hidden_position, trial_sizes)
        self.rest = sparse.csr_matrix((np.ones(position.size, dtype=np.float32), held.indices[position],
                                       indptr), shape=(owner.size, baskets.shape[1]))

    @property
    def baskets(self) -> int:
        return int(self.hidden.size)

    def hit_rate(self, scorer: Scorer, *, k: int, chunk: int = 500) -> float:
        """Share of baskets whose hidden item is in the scorer's top k."""
        hits = 0
        popularity_rank = np.empty(scorer.fallback.size, dtype=np.int64)
        popularity_rank[scorer.fallback] = np.arange(scorer.fallback.size)
        for start in range(0, self.baskets, chunk):
            rest = self.rest[start:start + chunk]
            hidden = self.hidden[start:start + chunk]
            hits += int(_hits(scorer(rest).tocsr(), rest, hidden, k, popularity_rank).sum())
        return round(hits / self.baskets, 4) if self.baskets else 0.0

    def report(self, scorer: Scorer, *, k: int) -> dict:
        rate = self.hit_rate(scorer, k=k)
        return {"baskets": self.baskets, "hit_rate": rate, "precision": round(rate / k, 4)}


def _hits(scores: sparse.csr_matrix, rest: sparse.csr_matrix, hidden: np.ndarray, k: int,
          popularity_rank: np.ndarray) -> np.ndarray:
    """Per trial, whether the hidden item is among the k recommended: the positively scored
    items outside the basket, best first (ties: the better seller first), then the best-sellers
    not yet listed nor in the basket. Computed as the hidden item's rank without building any
    list: a scored hidden item is in if fewer than k eligible items beat it; an unscored one
    only if fewer than k items are scored and its place among the remaining best-sellers is
    within what is left."""
    n_trials = rest.shape[0]
    trial_of = np.arange(n_trials)
    eligible = scores - scores.multiply(rest > 0)  # the basket's own items are never recommended
    eligible = eligible.tocsr()
    eligible.data[eligible.data < 0] = 0
    eligible.eliminate_zeros()
    owner = np.repeat(trial_of, np.diff(eligible.indptr))
    hidden_score = np.asarray(eligible[trial_of, hidden]).ravel()
    hidden_rank = popularity_rank[hidden]
    value, rank = eligible.data, popularity_rank[eligible.indices]
    beats = (value > hidden_score[owner]) | ((value == hidden_score[owner]) & (rank < hidden_rank[owner]))
    better = np.bincount(owner[beats], minlength=n_trials)
    scored = np.diff(eligible.indptr)
    # Unscored hidden item: best-sellers ahead of it that are taken already (scored or in the basket).
    basket_owner = np.repeat(trial_of, np.diff(rest.indptr))
    ahead_in_basket = np.bincount(basket_owner[popularity_rank[rest.indices] < hidden_rank[basket_owner]],
                                  minlength=n_trials)
    ahead_scored = np.bincount(owner[rank < hidden_rank[owner]], minlength=n_trials)
    fill_place = hidden_rank - ahead_in_basket - ahead_scored
    return np.where(hidden_score > 0, better < k, (scored < k) & (fill_place < k - scored))


def summed_rows(rows: sparse.csr_matrix, support: np.ndarray) -> Scorer:
    """Scorer: the sum of the basket items' rows (item × item scores)."""
    rows = rows.tocsr()

    def score(rest: sparse.csr_matrix) -> sparse.csr_matrix:
        return rest @ rows

    score.fallback = np.argsort(-support, kind="stable")
    return score


def popularity(support: np.ndarray) -> Scorer:
    """Scorer of the popularity baseline: no scores, only the best-sellers."""
    return summed_rows(sparse.csr_matrix((support.size, support.size)), support)


def cooccurrence(baskets: sparse.csr_matrix, min_support: int = 1) -> sparse.csr_matrix:
    """C[i, j]: training baskets holding both (diagonal: holding i); pairs under min_support dropped."""
    counts = (baskets.T.tocsr() @ baskets).tocsr().astype(np.float64)
    diagonal = counts.diagonal().copy()
    counts.setdiag(0)
    counts.data[counts.data < min_support] = 0
    counts.eliminate_zeros()
    counts.setdiag(diagonal)
    return counts


def confidence_rows(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """P(j | i) = C[i, j] / C[i, i] (association-rule confidence of i → j)."""
    diagonal = counts.diagonal()
    scaled = sparse.diags(1.0 / np.maximum(diagonal, 1.0)) @ counts
    scaled.setdiag(0)
    scaled.eliminate_zeros()
    return scaled.tocsr()


def cosine_rows(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """C[i, j] / sqrt(C[i, i] · C[j, j])."""
    norm = sparse.diags(1.0 / np.sqrt(np.maximum(counts.diagonal(), 1.0)))
    scaled = norm @ counts @ norm
    scaled.setdiag(0)
    scaled.eliminate_zeros()
    return scaled.tocsr()


def ease_rows(baskets: sparse.csr_matrix, *, l2: float, head: int) -> sparse.csr_matrix:
    """Plain EASE (Steck 2019) weights over the ``head`` best-sellers, full rows."""
    from recommend.pairings import ease_weights, head_items

    baskets = baskets.tocsc()
    support = np.asarray(baskets.sum(axis=0)).ravel()
    items = head_items(support, head)
    part = baskets[:, items]
    weights = ease_weights((part.T @ part).toarray().astype(np.float64), l2=l2, dropout=0.0)
    rows = np.repeat(items, items.size)
    cols = np.tile(items, items.size)
    matrix = sparse.csr_matrix((weights.ravel(), (rows, cols)), shape=(baskets.shape[1],) * 2)
    matrix.eliminate_zeros()
    return matrix


def tune_ease_l2(baskets: sparse.csr_matrix, *, head: int, seed: int, k: int = 5,
                 grid: tuple[float, ...] = (10.0, 50.0, 200.0, 800.0, 3200.0)) -> float:
    """EASE's λ chosen like ours: on a validation part of the training baskets, full rows."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(baskets.shape[0])
    n_validation = min(4000, int(baskets.shape[0] * 0.15))
    fit_part = baskets[order[n_validation:]]
    check = LeaveOneOut(baskets[order[:n_validation]], seed=seed, every_item=True)
    support = np.asarray(fit_part.sum(axis=0)).ravel()
    results = {l2: check.hit_rate(summed_rows(ease_rows(fit_part, l2=l2, head=head), support), k=k)
               for l2 in grid}
    return max(grid, key=lambda l2: (results[l2], -grid.index(l2)))


def association_rules(baskets: sparse.csr_matrix, *, min_support: float = 0.001,
                      min_confidence: float = 0.01) -> sparse.csr_matrix:
    """The association-rules baseline (mlxtend fpgrowth + association_rules, pairwise rules): row
    i holds the confidence of each rule i → j. Items under min_support cannot be in any rule, so
    they are left out of the table mlxtend receives (same rules, a far smaller frame)."""
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules as mine_rules, fpgrowth

    baskets = baskets.tocsc()
    support = np.asarray(baskets.sum(axis=0)).ravel()
    frequent = np.flatnonzero(support >= min_support * baskets.shape[0])
    frame = pd.DataFrame.sparse.from_spmatrix(baskets[:, frequent].astype(bool))
    frame.columns = [str(item) for item in frequent]  # mlxtend wants sparse columns named by text
    itemsets = fpgrowth(frame, min_support=min_support, max_len=2, use_colnames=True)
    rows, cols, values = [], [], []
    if len(itemsets) and (itemsets["itemsets"].map(len) == 2).any():
        rules = mine_rules(itemsets, metric="confidence", min_threshold=min_confidence)
        for antecedents, consequents, confidence in zip(rules["antecedents"], rules["consequents"],
                                                        rules["confidence"]):
            (antecedent,), (consequent,) = tuple(antecedents), tuple(consequents)
            rows.append(int(antecedent))
            cols.append(int(consequent))
            values.append(float(confidence))
    shape = (baskets.shape[1],) * 2
    return sparse.csr_matrix((values, (rows, cols)), shape=shape)


def max_rows(rows: sparse.csr_matrix, support: np.ndarray) -> Scorer:
    """Scorer: for each candidate, the best of the basket items' scores (how rules are applied)."""
    rows = rows.tocsr()

    def score(rest: sparse.csr_matrix) -> sparse.csr_matrix:
        stacked = [rows[rest.indices[rest.indptr[row]:rest.indptr[row + 1]]].max(axis=0)
                   for row in range(rest.shape[0])]
        return sparse.vstack(stacked).tocsr() if stacked else sparse.csr_matrix((0, rows.shape[1]))

    score.fallback = np.argsort(-support, kind="stable")
    return score
