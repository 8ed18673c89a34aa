"""Script generation from product facts, and Thompson-sampling ranking: pure functions."""

from __future__ import annotations

import random
from dataclasses import dataclass

TEMPLATES = {
    "zh-CN": [
        "这款{name}是我们的人气{category_zh}，{price_line}。很多顾客会搭配{pairs}一起入手，效果更完整。",
        "您可以先试一下{name}。{price_line}，今天加购{pairs}更划算，我帮您一起拿？",
    ],
    "en": [
        "This {name} is one of our most-loved {category}. {price_line} Many customers pair it with "
        "{pairs} for the complete look.",
        "Would you like to try the {name}? {price_line} Adding {pairs} today makes it an even better deal.",
    ],
}
CATEGORY_ZH = {"lipstick": "口红", "foundation": "底妆", "mascara": "睫毛膏", "eyeshadow": "眼影",
               "serum": "精华", "cleanser": "洁面", "moisturizer": "面霜", "sunscreen": "防晒",
               "fragrance": "香水", "tools": "工具"}
MAX_LENGTH = 300


@dataclass(frozen=True)
class ProductFacts:
    name: str
    category: str
    price: float
    promo_price: float | None
    pairs: list[str]


def generate(facts: ProductFacts, locale: str) -> list[str]:
    """Deterministic candidate scripts from the product, its pairings and the campaign price."""
    if locale == "zh-CN":
        price_line = (f"活动价 {facts.promo_price:g} 元（原价 {facts.price:g} 元）" if facts.promo_price
                      else f"售价 {facts.price:g} 元")
        pairs = "、".join(facts.pairs[:2]) or "同系列产品"
    else:
        price_line = (f"It is {facts.promo_price:g} yuan today instead of {facts.price:g}."
                      if facts.promo_price else f"It is {facts.price:g} yuan.")
        pairs = " and ".join(facts.pairs[:2]) or "the matching range"
    values = {"name": facts.name, "category": facts.category,
              "category_zh": CATEGORY_ZH.get(facts.category, facts.category),
              "price_line": price_line, "pairs": pairs}
    return [template.format(**values)[:MAX_LENGTH] for template in TEMPLATES[locale]]


def posterior(uses: int, conversions: int, dismissals: int) -> tuple[float, float]:
    """Beta(α, β) of a script's conversion rate: conversions succeed; unconverted uses and
    dismissals fail; a uniform prior."""
    return 1.0 + conversions, 1.0 + max(uses - conversions, 0) + dismissals


def thompson_scores(stats: list[tuple[int, int, int]], rng: random.Random) -> list[float]:
    """One draw from each script's posterior: ranking by it explores new scripts and lets the
    best-converting one rise."""
    return [rng.betavariate(*posterior(*row)) for row in stats]
