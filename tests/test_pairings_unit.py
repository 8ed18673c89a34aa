"""Pairing model: pure NumPy/SciPy rules, no app, no database."""

import numpy as np

from recommend import pairings


def structured_baskets(seed=1, n=3000):
    """Items 0-1 go together, 2-3 go together, 4 is a best-seller bought with anything."""
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
            basket |= {int(rng.integers(5, 30))}
        for item in basket:
            rows.append(t)
            cols.append(item)
    return pairings.basket_matrix(np.array(rows), np.array(cols), 30)


def test_learns_the_planted_pairs():
    model = pairings.train(structured_baskets())
    assert pairings.top_k(model, 0, 1)[0][0] == 1
    assert pairings.top_k(model, 2, 1)[0][0] == 3
    partner, score, support = pairings.top_k(model, 1, 1)[0]
    assert partner == 0 and score > 0 and support > 500


def test_min_support_drops_rare_pairs():
    baskets = pairings.basket_matrix(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 0, 1, 2, 3]), 4)
    model = pairings.train(baskets, min_support=2)
    assert pairings.top_k(model, 0, 3) == [(1, model.scores[0, 1], 2)]
    assert pairings.top_k(model, 2, 3) == []  # 2-3 seen once


def test_beats_popularity_in_leave_one_out():
    train, test = structured_baskets(seed=1), structured_baskets(seed=2, n=1000)
    model = pairings.train(train)
    ours = pairings.leave_one_out(test, lambda basket, k: pairings.recommend(model, basket, k), k=2, seed=3)
    baseline = pairings.leave_one_out(test, lambda basket, k: pairings.popular(model.support, basket, k),
                                      k=2, seed=3)
    assert ours["baskets"] == baseline["baskets"] > 500
    assert ours["hit_rate"] > baseline["hit_rate"] + 0.2
