"""A rule's effect: the share of fired-for tasks submitted within N hours, treatment against
control, with a 95 % confidence interval of the difference (Wald, normal approximation). Pure."""

from __future__ import annotations

import math
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)


def compare(treatment: tuple[int, int], control: tuple[int, int]) -> dict:
    """(completed, firings) per arm → rates, difference (treatment − control) and its 95 % CI."""
    arms = {}
    for name, (done, total) in (("treatment", treatment), ("control", control)):
        arms[name] = {"firings": total, "completed": done, "rate": done / total if total else None}
    result = {"arms": arms, "difference": None, "ci95": None,
              "method": "difference of proportions, Wald 95% interval"}
    (d1, n1), (d2, n2) = treatment, control
    if n1 and n2:
        p1, p2 = d1 / n1, d2 / n2
        difference = p1 - p2
        margin = Z95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        result.update(difference=difference, ci95=[max(-1.0, difference - margin), min(1.0, difference + margin)])
    return result
