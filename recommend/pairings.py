"""Product pairings learned from baskets: pure NumPy/SciPy, no app, no database.

The model is a linear item–item autoencoder in closed form (EASE, Steck 2019) with two
additions, both chosen on a validation split of the training baskets (``tune``):

* dropout emphasis (EDLAE, Steck 2020): the ridge penalty of item j grows with its own count,
  ``Λ = λ·I + p/(1−p)·diag(XᵀX)``, so that frequent items are not predicted from themselves
  through the back door of near-duplicates;
* a popularity prior: ``γ · share_j`` (share of baskets holding j) is added to every row, the
  intercept a linear model of baskets lacks. Leave-one-out hides popular items most often; a
  row that knows it serves them where the evidence is weak.

Weights: ``P = (XᵀX + Λ)⁻¹``, ``B[i, j] = −P[i, j] / P[j, j]`` (zero diagonal), the weight of
having i in the basket for predicting j. The inverse is cubic in items, so it is taken over the
``head`` best-selling items only (a few thousand cover nearly every line of a real catalogue);
the long tail of rarer products gets a neighbourhood row restricted to its co-occurring
partners — its shrunk conditional probability ``C[i, j] / (C[i, i] + shrinkage)`` — rescaled to
the head's units, plus the same popularity prior; head rows get their tail partners the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse
from scipy.linalg import lapack


@dataclass(frozen=True)
class Settings:
    """Hyper-parameters; ``tune`` picks l2, dropout and popularity on validation baskets."""

    l2: float = 30.0          # λ, the ridge penalty common to every item
    dropout: float = 0.0      # p of EDLAE's emphasis (0: plain EASE)
    popularity: float = 0.0   # γ, weight of the popularity prior
    neighbourhood: float = 0.2  # α, weight of the co-occurrence (neighbourhood) term in head rows
    asymmetry: float = 0.5    # β of the neighbourhood term: 0 conditional probability, 0.5 cosine
    head: int = 2500          # items in the closed-form part (cost: head³)
    shrinkage: float = 5.0    # tail rows: pseudo-count in the conditional probability
    min_support: int = 2      # tail rows: pairs seen fewer times are dropped
    keep: int = 100           # partners kept per product (serving stores up to 50)


@dataclass(frozen=True)
class Model:
    """Per product, its best partners (sparse rows, best first) with scores and the number of
    baskets holding both; each product's own basket count."""

    scores: sparse.csr_matrix
    pair_counts: sparse.csr_matrix
    support: np.ndarray
    transactions: int
    settings: Settings


def basket_matrix(transaction_index: np.ndarray, item_index: np.ndarray, n_items: int,
                  n_transactions: int | None = None) -> sparse.csr_matrix:
    """Binary transactions × items matrix from parallel (transaction, item) index arrays."""
    if n_transactions is None:
        n_transactions = int(transaction_index.max()) + 1 if transaction_index.size else 0
    data = np.ones(transaction_index.size, dtype=np.float32)
    matrix = sparse.csr_matrix((data, (transaction_index, item_index)), shape=(n_transactions, n_items))
    matrix.data[:] = 1.0  # the same item twice in a basket counts once
    return matrix


def head_items(support: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` best-selling items that sold at all, best first (ties: lower index)."""
    ranked = np.argsort(-support, kind="stable")
    return ranked[:min(size, int((support > 0).sum()))]


def ease_weights(gram: np.ndarray, *, l2: float, dropout: float) -> np.ndarray:
    """B of EASE/EDLAE from a (dense, head × head) Gram matrix XᵀX, in single precision."""
    regularised = gram.astype(np.float32)  # a copy: the caller's gram stays as it was
    diagonal = np.diag_indices_from(regularised)
    regularised[diagonal] += l2 + (dropout / (1.0 - dropout)) * np.diag(gram)
    precision = _spd_inverse(regularised)
    weights = precision
    weights /= -np.diag(precision).copy()[np.newaxis, :]
    weights[diagonal] = 0.0
    return weights


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix through its Cholesky factor, in float32:
    about a third of the work of a general (LU) inverse and twice the arithmetic rate — 0.04 s
    instead of 0.23 s at 2,000 items on 2 cores. Relative error ~1e-7, far below what changes a
    ranking; a matrix that is not positive definite (it cannot be with λ > 0) falls back to LU."""
    factor, info = lapack.spotrf(matrix, lower=True, clean=False, overwrite_a=True)
    if info == 0:
        lower, info = lapack.spotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        return np.linalg.inv(matrix.astype(np.float64)).astype(np.float32)
    return _mirror_lower(lower)


def _mirror_lower(matrix: np.ndarray, block: int = 256) -> np.ndarray:
    """Copy the lower triangle onto the upper one, in place, a block at a time (no full-size
    temporaries: their first touch cost more than the copy)."""
    n = matrix.shape[0]
    for start in range(0, n, block):
        end = min(start + block, n)
        square = matrix[start:end, start:end]
        upper = np.triu_indices(end - start, k=1)
        square[upper] = square.T[upper]
        matrix[start:end, end:] = matrix[end:, start:end].T
    return matrix


def _top_per_row(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n_rows: int, n_cols: int,
                 keep: int, payload: np.ndarray | None = None):
    """A CSR of at most ``keep`` largest positive values per row (and, given a payload array
    parallel to values, a CSR of the same pattern holding the payload)."""
    positive = values > 0
    rows, cols, values = rows[positive], cols[positive], values[positive]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    starts = np.searchsorted(rows, np.arange(n_rows))
    rank = np.arange(rows.size) - starts[rows] if rows.size else rows
    chosen = rank < keep
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[chosen], minlength=n_rows))])
    top = sparse.csr_matrix((values[chosen], cols[chosen], indptr), shape=(n_rows, n_cols))
    if payload is None:
        return top
    extra = payload[positive][order][chosen]
    return top, sparse.csr_matrix((extra, cols[chosen], indptr), shape=(n_rows, n_cols))


def _dense_top(matrix: np.ndarray, keep: int, chunk: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, value) of the ``keep`` largest values of each row of a dense matrix, row by
    row, best first within a row (ties: lower column first, as ``_top_per_row`` orders them).
    Rows go ``chunk`` at a time, so the temporaries stay small (and in cache)."""
    n_rows, n_cols = matrix.shape
    keep = min(keep, n_cols)
    top = np.empty((n_rows, keep), dtype=np.int64)
    values = np.empty((n_rows, keep), dtype=matrix.dtype)
    for start in range(0, n_rows, chunk):
        block = matrix[start:start + chunk]
        if keep < n_cols:
            best = np.argpartition(block, n_cols - keep, axis=1)[:, n_cols - keep:]
        else:
            best = np.broadcast_to(np.arange(n_cols), block.shape)
        best_values = np.take_along_axis(block, best, axis=1)
        order = np.lexsort((best, -best_values), axis=-1)
        top[start:start + chunk] = np.take_along_axis(best, order, axis=1)
        values[start:start + chunk] = np.take_along_axis(best_values, order, axis=1)
    rows = np.repeat(np.arange(n_rows), keep)
    return rows, top.ravel(), values.ravel()


def train(baskets: sparse.csr_matrix, settings: Settings = Settings(),
          weights: np.ndarray | None = None) -> Model:
    """Fit the model on a transactions × items basket matrix (``weights``: the head's EASE
    weights of these baskets and settings, already computed — tuning reuses them)."""
    baskets = baskets.tocsc()
    n_transactions, n_items = baskets.shape
    support = np.asarray(baskets.sum(axis=0)).ravel().astype(np.float64)
    share = (support / max(n_transactions, 1)).astype(np.float32)
    head = head_items(support, settings.head)
    in_head = np.zeros(n_items, dtype=bool)
    in_head[head] = True
    head_baskets = baskets[:, head]
    # Single precision throughout the dense part (counts are exact below 2²⁴ baskets).
    gram = (head_baskets.T @ head_baskets).toarray().astype(np.float32, copy=False)
    if weights is None:
        weights = ease_weights(gram, l2=settings.l2, dropout=settings.dropout) if head.size else gram
    own = np.diag(gram) + settings.shrinkage
    neighbour = _neighbourhood(gram, own[:, np.newaxis], own[np.newaxis, :], settings.asymmetry)
    np.fill_diagonal(neighbour, 0.0)
    scale = _tail_scale(weights, neighbour)
    head_scores = neighbour  # in place: four dense head × head arrays would be 100 MB at 2,500
    head_scores *= settings.neighbourhood * scale
    head_scores += weights
    if settings.popularity:
        head_scores += settings.popularity * share[head][np.newaxis, :]
    np.fill_diagonal(head_scores, 0.0)
    local_rows, local_cols, values = _dense_top(head_scores, settings.keep)
    rows, cols = [head[local_rows]], [head[local_cols]]
    score_values, count_values = [values], [gram[local_rows, local_cols]]

    # Neighbourhood scores: tail rows against every partner, head rows against tail partners.
    tail = np.flatnonzero((support > 0) & ~in_head)
    if tail.size == 0:  # every item in the closed form: its rows are the model, already in order
        return _model_of_head(head[local_rows], head[local_cols], values, count_values[0],
                              support, n_transactions, settings)
    tail_baskets = baskets[:, tail]
    blocks = [(tail[start:start + 2000], baskets) for start in range(0, tail.size, 2000)]
    blocks += [(head[start:start + 2000], tail_baskets) for start in range(0, head.size, 2000)]
    for chunk, against in blocks:
        counts = (baskets[:, chunk].T @ against).tocoo()
        source = chunk[counts.row]
        partner = counts.col if against is baskets else tail[counts.col]
        keep = (counts.data >= settings.min_support) & (source != partner)
        source, partner, together = source[keep], partner[keep], counts.data[keep]
        neighbour = _neighbourhood(together, support[source] + settings.shrinkage,
                                   support[partner] + settings.shrinkage, settings.asymmetry)
        values = ((1.0 + settings.neighbourhood) * scale * neighbour
                  + settings.popularity * share[partner])
        top, top_counts = _top_per_row(source, partner, values, n_items, n_items, settings.keep,
                                       payload=together)
        coo, coo_counts = top.tocoo(), top_counts.tocoo()
        rows.append(coo.row)
        cols.append(coo.col)
        score_values.append(coo.data)
        count_values.append(coo_counts.data)

    rows, cols = np.concatenate(rows), np.concatenate(cols)
    score_values, count_values = np.concatenate(score_values), np.concatenate(count_values)
    # Rows stay sorted best first: serving and evaluation read them in order.
    scores, pair_counts = _top_per_row(rows, cols, score_values, n_items, n_items, settings.keep,
                                       payload=count_values)
    return Model(scores=scores, pair_counts=pair_counts, support=support,
                 transactions=n_transactions, settings=settings)


def _model_of_head(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, counts: np.ndarray,
                   support: np.ndarray, n_transactions: int, settings: Settings) -> Model:
    """The model from head rows alone, given grouped by row and best first within each row."""
    positive = values > 0
    rows, cols, values, counts = rows[positive], cols[positive], values[positive], counts[positive]
    n_items = support.size
    order = np.argsort(rows, kind="stable")  # head rows come best-seller first, not by index
    rows, cols, values, counts = rows[order], cols[order], values[order], counts[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_items))])
    shape = (n_items, n_items)
    return Model(scores=sparse.csr_matrix((values, cols, indptr), shape=shape),
                 pair_counts=sparse.csr_matrix((counts, cols, indptr), shape=shape),
                 support=support, transactions=n_transactions, settings=settings)


def _neighbourhood(together, own, partner, asymmetry: float):
    """Co-occurrence normalised by both counts: together / (own^(1−β) · partner^β) — β = 0 is
    the (shrunk) conditional probability P(partner | own), β = 0.5 the cosine (asymmetric cosine,
    Aiolli 2013, in between)."""
    return together / (np.power(own, 1.0 - asymmetry) * np.power(partner, asymmetry))


def _tail_scale(weights: np.ndarray, neighbour: np.ndarray) -> float:
    """How many head-weight units one unit of the neighbourhood term is worth: the median ratio of
    the best weight to the best neighbourhood score over the head's rows."""
    if weights.size == 0:
        return 1.0
    best_weight, best_neighbour = weights.max(axis=1), neighbour.max(axis=1)
    usable = (best_weight > 0) & (best_neighbour > 0)
    return float(np.median(best_weight[usable] / best_neighbour[usable])) if usable.any() else 1.0


def top_k(model: Model, item: int, k: int) -> list[tuple[int, float, int]]:
    """The k best partners of an item: (item, score, baskets holding both)."""
    start, end = model.scores.indptr[item], model.scores.indptr[item + 1]
    if start == end:
        return []
    scores, partners = model.scores.data[start:end], model.scores.indices[start:end]
    counts = model.pair_counts.data[start:end]
    return [(int(partners[i]), float(scores[i]), int(counts[i])) for i in range(min(k, end - start))]


def truncate(scores: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """The k best entries of each row (by value) of any item × item score matrix."""
    coo = scores.tocoo()
    return _top_per_row(coo.row, coo.col, coo.data, scores.shape[0], scores.shape[1], k)


def leading(rows: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """The first k entries of each row of a best-first matrix (the model's rows, the served
    lists): exactly what a client asking for k partners sees, in the stored order."""
    lengths = np.minimum(np.diff(rows.indptr), k)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    take = np.repeat(rows.indptr[:-1], lengths) + np.arange(indptr[-1]) - np.repeat(indptr[:-1], lengths)
    return sparse.csr_matrix((rows.data[take], rows.indices[take], indptr), shape=rows.shape)


def tune(baskets: sparse.csr_matrix, *, seed: int, base: Settings = Settings(), depth: int = 20,
         k: int = 5, validation: float = 0.15, max_validation: int = 4000,
         l2_grid: tuple[float, ...] = (10.0, 30.0, 100.0, 300.0),
         dropout_grid: tuple[float, ...] = (0.0, 0.25),
         asymmetry_grid: tuple[float, ...] = (0.0, 0.25, 0.5),
         neighbourhood_grid: tuple[float, ...] = (0.0, 0.2, 0.5, 1.0, 2.0),
         popularity_grid: tuple[float, ...] = (0.0, 0.5)) -> tuple[Settings, list[dict]]:
    """Choose the hyper-parameters by leave-one-out hit-rate@k of the depth-``depth`` lists,
    fitting on part of ``baskets`` and validating on the rest, one after the other (coordinate
    search): l2, then dropout (one inverse each), then on the chosen weights the neighbourhood's
    asymmetry, its weight and the popularity prior. Only training baskets come in here: the
    test split never influences the choice."""
    from recommend import evaluation

    rng = np.random.default_rng(seed)
    order = rng.permutation(baskets.shape[0])
    n_validation = min(max_validation, int(baskets.shape[0] * validation))
    fit_part, check_part = baskets[order[n_validation:]], baskets[order[:n_validation]]
    trial = evaluation.LeaveOneOut(check_part, seed=seed, every_item=True)
    support = np.asarray(fit_part.sum(axis=0)).ravel()
    head = head_items(support, base.head)
    head_part = fit_part.tocsc()[:, head]
    gram = (head_part.T @ head_part).toarray()
    log: list[dict] = []

    def score(settings: Settings, weights: np.ndarray) -> float:
        model = train(fit_part, settings, weights=weights)
        rate = trial.hit_rate(evaluation.summed_rows(leading(model.scores, depth), model.support), k=k)
        log.append({"l2": settings.l2, "dropout": settings.dropout, "asymmetry": settings.asymmetry,
                    "neighbourhood": settings.neighbourhood, "popularity": settings.popularity,
                    "hit_rate": rate})
        return rate

    def best_of(candidates: list[Settings], weights_of) -> tuple[Settings, np.ndarray]:
        results = []
        for position, settings in enumerate(candidates):
            weights = weights_of(settings)
            results.append((score(settings, weights), -position, settings, weights))
        _, _, settings, weights = max(results, key=lambda result: result[:2])
        return settings, weights

    kept: dict[tuple[float, float], np.ndarray] = {}  # the best weights so far, not every fit

    def fresh(settings: Settings) -> np.ndarray:
        key = (settings.l2, settings.dropout)
        return kept[key] if key in kept else ease_weights(gram, l2=settings.l2, dropout=settings.dropout)

    best, weights = best_of([replace(base, l2=value, dropout=0.0) for value in l2_grid], fresh)
    kept[(best.l2, best.dropout)] = weights
    best, weights = best_of([replace(best, dropout=value) for value in dropout_grid], fresh)
    for field, grid in (("asymmetry", asymmetry_grid), ("neighbourhood", neighbourhood_grid),
                        ("popularity", popularity_grid)):
        if len(grid) > 1:
            best, weights = best_of([replace(best, **{field: value}) for value in grid],
                                    lambda _settings, chosen=weights: chosen)
    return best, log


SOURCES = ("learned", "category", "popular")


@dataclass(frozen=True)
class Served:
    """What serving stores: per product up to ``depth`` partners, best first, each with its
    score, the baskets holding both, and its source (an index into SOURCES)."""

    scores: sparse.csr_matrix
    pair_counts: sparse.csr_matrix
    sources: sparse.csr_matrix


def served_lists(model: Model, categories: np.ndarray, depth: int) -> Served:
    """Each product's learned partners, filled up to ``depth`` — when it has too few of its own —
    first with what its category's products are bought with, then with best-sellers.

    Fill-up scores stay in the model's units and never rise above the entry before them: a
    category partner scores the mean of the category's learned rows, a best-seller the
    popularity prior alone (γ · share, with γ at least 0.001 so the order is kept).

    Array work for every short product at once (no per-product loop: 35,000 short products of a
    68,509-product catalogue took 18 s that way): each one's candidates in the order they are
    considered — its learned partners, its category's best, the best-sellers — each partner kept
    at its first place, the product itself never, the first ``depth`` taken."""
    n_items = model.support.size
    learned = leading(model.scores, depth)
    counts = _same_pattern(learned, model)
    have = np.diff(learned.indptr)
    short = np.flatnonzero(have < depth)
    if short.size == 0 or n_items < 2:
        return Served(learned, counts, _filled(learned, 0))
    prior = max(model.settings.popularity, 1e-3) * (model.support / max(model.transactions, 1))
    best_sellers = np.argsort(-model.support, kind="stable")[:depth + 1]
    best_sellers = best_sellers[model.support[best_sellers] > 0]
    codes, category = np.unique(categories, return_inverse=True)
    members = sparse.csr_matrix((np.ones(n_items), (category, np.arange(n_items))),
                                shape=(codes.size, n_items))
    sizes = np.maximum(np.asarray(members.sum(axis=1)).ravel(), 1.0)
    category_rows = (sparse.diags(1.0 / sizes) @ members @ model.scores).tocoo()
    # A category's best depth + 1 positive partners are enough for any member: it skips at most
    # its own listed partners and itself.
    category_top = _top_per_row(category_rows.row, category_rows.col, category_rows.data,
                                codes.size, n_items, depth + 1)
    learned_at, learned_place = _segments(learned.indptr[short], have[short])
    category_at, category_place = _segments(category_top.indptr[category[short]],
                                            np.diff(category_top.indptr)[category[short]])
    n_best = best_sellers.size
    item = np.concatenate([np.repeat(short, have[short]),
                           np.repeat(short, np.diff(category_top.indptr)[category[short]]),
                           np.repeat(short, n_best)])
    partner = np.concatenate([learned.indices[learned_at], category_top.indices[category_at],
                              np.tile(best_sellers, short.size)])
    value = np.concatenate([learned.data[learned_at], category_top.data[category_at],
                            np.tile(prior[best_sellers], short.size)]).astype(np.float64)
    source = np.repeat(np.arange(3), [learned_at.size, category_at.size, n_best * short.size])
    place = np.concatenate([learned_place, category_place, np.tile(np.arange(n_best), short.size)])
    considered = np.lexsort((place, source, item))
    item, partner, value, source = item[considered], partner[considered], value[considered], source[considered]
    by_pair = np.lexsort((np.arange(item.size), partner, item))
    repeated = np.zeros(item.size, dtype=bool)
    repeated[by_pair[1:]] = (item[by_pair[1:]] == item[by_pair[:-1]]) & (partner[by_pair[1:]] == partner[by_pair[:-1]])
    kept = ~repeated & (partner != item)
    item, partner, value, source = item[kept], partner[kept], value[kept], source[kept]
    within = np.arange(item.size) - np.searchsorted(item, item) < depth
    item, partner, value, source = item[within], partner[within], value[within], source[within]
    value = _running_min(value, item)  # learned scores are non-increasing, so they stay as they are
    fill = source > 0
    item, partner, value, source = item[fill], partner[fill], value[fill], source[fill]

    base = learned.tocoo()
    all_rows = np.concatenate([base.row, item])
    all_cols = np.concatenate([base.col, partner])
    # Rank: learned entries first (in their order), fill-ups after in the order considered.
    position = np.concatenate([np.arange(base.nnz), base.nnz + np.arange(item.size)])
    order = np.lexsort((position, all_rows))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(all_rows, minlength=n_items))])

    def assemble(data):
        return sparse.csr_matrix((np.asarray(data)[order], all_cols[order], indptr),
                                 shape=(n_items, n_items))

    learned_counts = counts.tocoo()
    return Served(scores=assemble(np.concatenate([base.data, value])),
                  pair_counts=assemble(np.concatenate([learned_counts.data, np.zeros(item.size)])),
                  sources=assemble(np.concatenate([np.zeros(base.nnz), source])))


def _segments(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of consecutive segments (start, length) laid end to end, and each position's
    place within its segment."""
    place = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + place, place


def _running_min(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """The running minimum of ``values`` within each run of equal ``segment`` ids (a log-step
    scan: ⌈log₂ n⌉ passes)."""
    values = values.copy()
    shift = 1
    while shift < values.size:
        same = segment[shift:] == segment[:-shift]
        values[shift:] = np.where(same, np.minimum(values[shift:], values[:-shift]), values[shift:])
        shift *= 2
    return values


def _same_pattern(rows: sparse.csr_matrix, model: Model) -> sparse.csr_matrix:
    """The pair counts of the entries of ``rows`` (a best-first prefix of the model's rows)."""
    row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    rank = np.arange(rows.nnz) - rows.indptr[row_of]
    data = model.pair_counts.data[model.pair_counts.indptr[row_of] + rank]
    return sparse.csr_matrix((data, rows.indices.copy(), rows.indptr.copy()), shape=rows.shape)


def _filled(rows: sparse.csr_matrix, code: int) -> sparse.csr_matrix:
    return sparse.csr_matrix((np.full(rows.nnz, float(code)), rows.indices.copy(), rows.indptr.copy()),
                             shape=rows.shape)
