"""Pairing model and its evaluation: pure NumPy/SciPy rules, no app, no database."""

import numpy as np
import pytest
from scipy import sparse

from recommend import evaluation, pairings


def structured_baskets(seed=1, n=3000, items=30):
    """Items 0-1 go together, 2-3 go together, 4 is a staple bought with anything."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for t in range(n):
        basket = {4} if rng.random() < 0.6 else set()
        pair = rng.integers(0, 3)
        if pair == 0:
            basket |= {0, 1} if rng.random() < 0.9 else {0}
        elif pair == 1:
            basket |= {2, 3} if rng.random() < 0.9 else {3}
        else:
            basket |= {int(rng.integers(5, items))}
        for item in basket:
            rows.append(t)
            cols.append(item)
    return pairings.basket_matrix(np.array(rows), np.array(cols), items)


@pytest.mark.parametrize("head", [30, 3])  # all items in the closed form / most in the tail
def test_learns_the_planted_pairs(head):
    model = pairings.train(structured_baskets(), pairings.Settings(head=head))
    assert pairings.top_k(model, 0, 1)[0][0] == 1
    assert pairings.top_k(model, 2, 1)[0][0] == 3
    partner, score, support = pairings.top_k(model, 1, 1)[0]
    assert partner == 0 and score > 0 and support > 500
    ranked = pairings.top_k(model, 0, 10)
    assert [s for _, s, _ in ranked] == sorted((s for _, s, _ in ranked), reverse=True)


def test_ease_weights_match_the_closed_form():
    baskets = structured_baskets(n=500, items=8).toarray()
    gram = baskets.T @ baskets
    weights = pairings.ease_weights(gram, l2=10.0, dropout=0.0)
    # EASE solves min ||X − XB||² + λ||B||² with diag(B) = 0: check one column by least squares.
    j = 1
    others = [i for i in range(8) if i != j]
    A = baskets[:, others]
    direct = np.linalg.solve(A.T @ A + 10.0 * np.eye(7), A.T @ baskets[:, j])
    assert np.allclose(weights[others, j], direct, rtol=1e-5, atol=1e-7)  # single precision
    assert np.all(np.diag(weights) == 0)


def test_single_precision_weights_match_the_double_precision_inverse_past_one_block():
    # 600 items: the Cholesky inverse mirrors its triangle in blocks of 256, so three blocks.
    rng = np.random.default_rng(3)
    baskets = (rng.random((4000, 600)) < 0.03).astype(np.float32)
    gram = baskets.T @ baskets
    weights = pairings.ease_weights(gram, l2=20.0, dropout=0.25)
    precision = np.linalg.inv(gram.astype(np.float64) + np.diag(20.0 + np.diag(gram) / 3.0))
    expected = -precision / np.diag(precision)[np.newaxis, :]
    np.fill_diagonal(expected, 0.0)
    assert weights.dtype == np.float32
    assert np.abs(weights - expected).max() < 1e-5 * np.abs(expected).max()
    assert np.array_equal(np.argsort(-expected[7])[:20], np.argsort(-weights[7])[:20])


def test_tail_rows_keep_min_support():
    baskets = pairings.basket_matrix(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 0, 1, 2, 3]), 4)
    model = pairings.train(baskets, pairings.Settings(head=0, popularity=0.0, min_support=2))
    assert [partner for partner, _, _ in pairings.top_k(model, 0, 3)] == [1]
    assert pairings.top_k(model, 2, 3) == []  # 2-3 seen once


def test_served_lists_fill_up_from_category_then_best_sellers():
    sold = structured_baskets()
    baskets = sparse.hstack([sold, sparse.csr_matrix((sold.shape[0], 1))]).tocsr()  # 30: never sold
    categories = np.array(["a", "a", "b", "b", "c"] + ["d"] * 25 + ["b"])
    model = pairings.train(baskets, pairings.Settings(head=31))
    served = pairings.served_lists(model, categories, depth=25)
    counts = np.diff(served.scores.indptr)
    assert np.all(counts == 25)  # every list full, even the never-sold item's
    row = slice(served.scores.indptr[30], served.scores.indptr[31])
    sources = served.sources.data[row]
    assert sources[0] == pairings.SOURCES.index("category")
    assert 30 not in served.scores.indices[row]
    assert set(sources) <= {1.0, 2.0}
    scores = served.scores.data[row]
    assert np.all(np.diff(scores) <= 0)  # fill-ups never outrank what comes before
    # Item 30's category (b) sells with 2 and 3, each the other's partner.
    assert {2, 3} <= set(served.scores.indices[row][:3].tolist())


def test_beats_popularity_in_leave_one_out_and_is_seeded():
    train, test = structured_baskets(seed=1), structured_baskets(seed=2, n=1000)
    model = pairings.train(train)
    trial = evaluation.LeaveOneOut(test, seed=3)
    ours = trial.report(evaluation.summed_rows(pairings.leading(model.scores, 20), model.support), k=2)
    baseline = trial.report(evaluation.popularity(model.support), k=2)
    assert ours["baskets"] == baseline["baskets"] > 500
    assert ours["hit_rate"] > baseline["hit_rate"] + 0.2
    again = evaluation.LeaveOneOut(test, seed=3)
    assert np.array_equal(again.hidden, trial.hidden)


def test_leave_one_out_hides_exactly_one_item():
    baskets = pairings.basket_matrix(np.array([0, 0, 0, 1, 2, 2]), np.array([0, 1, 2, 3, 1, 4]), 5)
    trial = evaluation.LeaveOneOut(baskets, seed=0)
    assert trial.baskets == 2  # the one-item basket cannot be scored
    full = baskets.toarray()[[0, 2]]
    rest = trial.rest.toarray()
    for row, hidden in enumerate(trial.hidden):
        assert full[row, hidden] == 1 and rest[row, hidden] == 0
        assert (full[row] - rest[row]).sum() == 1


def test_tune_uses_only_the_baskets_it_is_given():
    settings, log = pairings.tune(structured_baskets(), seed=4, l2_grid=(1.0, 100.0),
                                  dropout_grid=(0.0, 0.5), asymmetry_grid=(0.0,), neighbourhood_grid=(0.0,),
                                  popularity_grid=(0.0, 1.0))
    assert len(log) == 2 + 2 + 2 and settings.l2 in (1.0, 100.0) and settings.popularity in (0.0, 1.0)
    best = max(entry["hit_rate"] for entry in log)
    assert any(entry["hit_rate"] == best for entry in log)


def test_every_item_trials_hide_each_item_once():
    baskets = pairings.basket_matrix(np.array([0, 0, 0, 1, 2, 2]), np.array([0, 1, 2, 3, 1, 4]), 5)
    trial = evaluation.LeaveOneOut(baskets, seed=0, every_item=True)
    assert trial.baskets == 5 and sorted(trial.hidden.tolist()) == [0, 1, 1, 2, 4]
    rest = trial.rest.toarray()
    assert rest.sum(axis=1).tolist() == [2, 2, 2, 1, 1]
    for row, hidden in enumerate(trial.hidden):
        assert rest[row, hidden] == 0


def _listed(scores, basket, k, popularity_rank):
    """The k recommendations spelled out one by one, the protocol's plain reading: positively
    scored items outside the basket, best first, ties to the better seller; then best-sellers."""
    scored = [(-scores[item], popularity_rank[item], item) for item in range(scores.size)
              if scores[item] > 0 and item not in basket]
    chosen = [item for _, _, item in sorted(scored)[:k]]
    for item in np.argsort(popularity_rank):
        if len(chosen) == k:
            break
        if item not in basket and item not in chosen:
            chosen.append(int(item))
    return chosen


@pytest.mark.parametrize("seed", range(6))
def test_hit_ranks_agree_with_the_lists_spelled_out(seed):
    # Coarse scores make ties; negative sums (EASE's full rows) and empty rows are included.
    rng = np.random.default_rng(seed)
    trials, items = 300, 25
    rest = sparse.csr_matrix((rng.random((trials, items)) < 0.15).astype(np.float32))
    dense = np.round(rng.normal(0.0, 1.0, (trials, items)), 1) * (rng.random((trials, items)) < 0.4)
    dense[rng.random(trials) < 0.2] = 0.0
    hidden = np.array([rng.choice(np.flatnonzero(row == 0)) for row in rest.toarray()])
    popularity_rank = rng.permutation(items)
    for k in (1, 3, 5, 10):
        hits = evaluation._hits(sparse.csr_matrix(dense), rest, hidden, k, popularity_rank)
        expected = [hidden[t] in _listed(dense[t], set(rest[t].indices.tolist()), k, popularity_rank)
                    for t in range(trials)]
        assert hits.tolist() == expected
        assert 0 < sum(expected) < trials  # both outcomes occur: the check can fail


def test_leading_keeps_the_stored_order_and_truncate_the_values():
    # Row 0 is best-first with a tie at the cut: `leading` keeps the stored (served) order.
    rows = sparse.csr_matrix((np.array([5.0, 2.0, 2.0, 1.0, 3.0]), np.array([3, 4, 1, 2, 0]),
                              np.array([0, 4, 4, 5])), shape=(3, 5))
    first = pairings.leading(rows, 2)
    assert first.indices[first.indptr[0]:first.indptr[1]].tolist() == [3, 4]
    assert np.diff(first.indptr).tolist() == [2, 0, 1]
    best = pairings.truncate(rows, 2)  # by value, ties to the lower column
    assert best.indices[best.indptr[0]:best.indptr[1]].tolist() == [3, 1]


def _served_spelled_out(model, categories, depth):
    """Each product's list built one partner at a time, the plain reading of the fill-up rule:
    {item: [(partner, score, source)]}."""
    learned = pairings.leading(model.scores, depth)
    prior = max(model.settings.popularity, 1e-3) * (model.support / max(model.transactions, 1))
    best_sellers = [int(i) for i in np.argsort(-model.support, kind="stable") if model.support[i] > 0]
    category_score = {}
    for code in set(categories):
        rows = model.scores[np.flatnonzero(categories == code)]
        mean = np.asarray(rows.sum(axis=0)).ravel() / max(rows.shape[0], 1)
        category_score[code] = sorted(((-mean[j], j) for j in np.flatnonzero(mean > 0)))
    lists = {}
    for item in range(model.support.size):
        row = learned[item]
        entries = [(int(j), float(v), 0) for j, v in zip(row.indices, row.data)]
        floor = entries[-1][1] if entries else np.inf
        taken = {item} | {j for j, _, _ in entries}
        if len(entries) < depth:
            for source, candidates in ((1, [(j, -v) for v, j in category_score[categories[item]]]),
                                       (2, [(j, prior[j]) for j in best_sellers])):
                for partner, value in candidates:
                    if len(entries) == depth:
                        break
                    if partner not in taken:
                        floor = min(floor, float(value))
                        taken.add(partner)
                        entries.append((int(partner), floor, source))
        lists[item] = entries
    return lists


def test_served_lists_equal_the_fill_up_spelled_out():
    sources_seen = set()
    for seed in range(8):
        rng = np.random.default_rng(seed)
        sold = int(rng.integers(3, 30))
        n_items = sold + 2  # two products that never sold, alone in their categories: best-sellers fill them
        baskets = pairings.basket_matrix(rng.integers(0, 400, 1500), rng.integers(0, sold, 1500), n_items)
        model = pairings.train(baskets, pairings.Settings(head=int(rng.integers(0, n_items)),
                                                          min_support=int(rng.integers(1, 4))))
        categories = np.concatenate([rng.integers(0, int(rng.integers(1, 6)), sold).astype(str),
                                     ["new-a", "new-b"]])
        for depth in (1, 5, 20):
            served = pairings.served_lists(model, categories, depth)
            for item, entries in _served_spelled_out(model, categories, depth).items():
                start, end = served.scores.indptr[item], served.scores.indptr[item + 1]
                assert served.scores.indices[start:end].tolist() == [j for j, _, _ in entries], (seed, item)
                assert np.allclose(served.scores.data[start:end], [v for _, v, _ in entries], rtol=1e-6)
                assert served.sources.data[start:end].tolist() == [s for _, _, s in entries]
                sources_seen |= {s for _, _, s in entries}
    assert sources_seen == {0, 1, 2}  # learned, category and best-seller entries all occurred
