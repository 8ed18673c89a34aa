"""Difference in differences of pooled ratios, with a store-level bootstrap interval (pure numpy).

A figure of one group (treated or control) in one window (before or during) is a pooled ratio
over that group's stores: the sum of a numerator over the stores divided by the sum of a
denominator (attach rate: attached / featured transactions; sales per store: units / stores).
The bootstrap resamples *stores* with replacement, separately within each group, so it keeps
each store's before and during together and reflects how much the answer depends on which
stores happened to be in each group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
MIN_STORES_FOR_INTERVAL = 5
# Resamples are drawn in blocks so the weight matrix stays small at 10,000 stores.
_CELLS_PER_BLOCK = 2_000_000

BEFORE_NUM, BEFORE_DEN, DURING_NUM, DURING_DEN = range(4)


@dataclass(frozen=True)
class Estimate:
    """Point estimates and their 95 % percentile intervals (None when not computable)."""

    treated_before: float | None
    treated_during: float | None
    control_before: float | None
    control_during: float | None
    did: float | None
    relative: float | None
    ci95: tuple[float, float] | None
    ci95_relative: tuple[float, float] | None
    resamples_used: int
    reason: str | None


def _rates(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(before, during) pooled ratios of summed columns; NaN where a denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        before = np.where(sums[..., BEFORE_DEN] > 0, sums[..., BEFORE_NUM] / sums[..., BEFORE_DEN], np.nan)
        during = np.where(sums[..., DURING_DEN] > 0, sums[..., DURING_NUM] / sums[..., DURING_DEN], np.nan)
    return before, during


def _did_and_relative(treated_sums: np.ndarray, control_sums: np.ndarray):
    """DiD = (T_during − T_before) − (C_during − C_before); relative = DiD over the treated
    stores' counterfactual during figure, T_before + (C_during − C_before)."""
    t_before, t_during = _rates(treated_sums)
    c_before, c_during = _rates(control_sums)
    did = (t_during - t_before) - (c_during - c_before)
    counterfactual = t_before + (c_during - c_before)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(counterfactual > 0, did / counterfactual, np.nan)
    return t_before, t_during, c_before, c_during, did, relative


def _resampled_sums(rows: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Column sums of `count` bootstrap resamples of the rows (stores drawn with replacement)."""
    stores = rows.shape[0]
    block = max(1, _CELLS_PER_BLOCK // stores)
    sums = []
    for start in range(0, count, block):
        # How often each store is drawn in a resample of as many stores as there are.
        weights = rng.multinomial(stores, np.full(stores, 1.0 / stores), size=min(block, count - start))
        sums.append(weights @ rows)
    return np.concatenate(sums)


def _number(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _interval(values: np.ndarray) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if finite.size < 0.95 * values.size:  # too many resamples without a defined figure
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def estimate(treated: np.ndarray, control: np.ndarray, *, seed: int | list[int],
             resamples: int = RESAMPLES) -> Estimate:
    """The DiD of pooled ratios and its store-level bootstrap interval.

    `treated` and `control` hold one row per store: before numerator, before denominator,
    during numerator, during denominator. The same seed gives the same interval.
    """
    treated, control = np.asarray(treated, float).reshape(-1, 4), np.asarray(control, float).reshape(-1, 4)
    point = _did_and_relative(treated.sum(axis=0), control.sum(axis=0))
    t_before, t_during, c_before, c_during, did, relative = (_number(value) for value in point)
    reason = None
    if not len(treated) or not len(control):
        reason = "no_treated_stores" if not len(treated) else "no_control_stores"
    elif did is None:
        reason = "no_transactions_in_a_window"
    if reason:
        return Estimate(t_before, t_during, c_before, c_during, None, None, None, None, 0, reason)
    if min(len(treated), len(control)) < MIN_STORES_FOR_INTERVAL:
        return Estimate(t_before, t_during, c_before, c_during, did, relative, None, None, 0,
                        "too_few_stores_for_interval")
    rng = np.random.default_rng(seed)
    resampled = _did_and_relative(_resampled_sums(treated, resamples, rng),
                                  _resampled_sums(control, resamples, rng))
    dids, relatives = resampled[4], resampled[5]
    ci95 = _interval(dids)
    return Estimate(t_before, t_during, c_before, c_during, did, relative, ci95,
                    _interval(relatives) if relative is not None else None,
                    int(np.isfinite(dids).sum()),
                    None if ci95 is not None else "interval_undefined_in_too_many_resamples")
