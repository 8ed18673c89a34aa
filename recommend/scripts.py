"""Script generation from product facts, the banned-words filter, and Thompson-sampling
ranking: pure functions."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field

# {price} is a whole clause with its punctuation, or nothing: only a campaign's scripts quote a
# price (the campaign's), so a script never quotes a list price while the shop sells lower.
TEMPLATES = {
    "zh-CN": [
        "这款{name}是我们的人气{category_zh}{price}。很多顾客会搭配{pairs}一起入手，效果更完整。",
        "您可以先试一下{name}。{price_first}今天加购{pairs}更划算，我帮您一起拿？",
    ],
    "en": [
        "This {name} is one of our most-loved {category_plural}.{price} Many customers pair it with "
        "{pairs} for the complete look.",
        "Would you like to try the {name}?{price} Adding {pairs} today makes it an even better deal.",
    ],
}
# Categories English does not count: "one of our most-loved skincare products".
UNCOUNTABLE = {"skincare", "makeup", "haircare", "bodycare", "suncare", "care", "equipment",
               "jewellery", "jewelry", "clothing", "luggage", "furniture", "hardware", "software"}
LOCALES = tuple(TEMPLATES)
CATEGORY_ZH = {"lipstick": "口红", "foundation": "底妆", "mascara": "睫毛膏", "eyeshadow": "眼影",
               "serum": "精华", "cleanser": "洁面", "moisturizer": "面霜", "sunscreen": "防晒",
               "fragrance": "香水", "tools": "工具"}
MAX_LENGTH = 300

# Claims a cosmetics sales script must not make: China's advertising law bans absolute terms
# (最佳, 第一, 国家级 …) and medical promises; the English list mirrors it. HQ adds its own words
# with ZHIDA_SCRIPT_BANNED_WORDS.
DEFAULT_BANNED_WORDS = (
    "最好", "最佳", "最强", "最低价", "第一", "国家级", "顶级", "极品", "万能", "根治", "治疗", "特效",
    "无副作用", "永久", "绝对", "100%", "百分百", "保证", "秒杀全网",
    "guaranteed", "guarantee", "cure", "cures", "miracle", "no side effects", "best in the world",
    "number one", "permanent", "risk-free", "100 percent",
)


@dataclass(frozen=True)
class ProductFacts:
    name: str
    category: str
    price: float
    promo_price: float | None
    pairs: list[str]
    brand: str = ""
    campaign_title: str | None = None
    attributes: dict = field(default_factory=dict)


def shop_price(value: float, locale: str) -> str:
    """A price as a shop tag shows it: 159, 129.50, and in English 1,299."""
    whole = abs(value - round(value)) < 0.005
    if locale == "zh-CN":
        return f"{value:.0f}" if whole else f"{value:.2f}"
    return f"{value:,.0f}" if whole else f"{value:,.2f}"


def plural(category: str) -> str:
    """The English plural of a category name: lipsticks, brushes, accessories, skincare products."""
    words = category.strip().split()
    if not words:
        return "products"
    last = words[-1]
    lowered = last.lower()
    if lowered in UNCOUNTABLE:
        return f"{category.strip()} products"
    if lowered.endswith(("s", "x", "z", "ch", "sh")):
        # Already plural ("tools", "accessories"), or a sibilant ending that takes -es ("brush").
        last = last if lowered.endswith("s") and not lowered.endswith("ss") else last + "es"
    elif lowered.endswith("y") and lowered[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join(words[:-1] + [last])


def _price_clauses(facts: ProductFacts, locale: str) -> tuple[str, str]:
    """(clause after the product, clause opening a sentence) — empty outside a campaign."""
    if facts.campaign_title is None and facts.promo_price is None:
        return "", ""
    price = shop_price(facts.price, locale)
    if locale == "zh-CN":
        if facts.promo_price is not None and facts.promo_price < facts.price:
            text = f"活动价 {shop_price(facts.promo_price, locale)} 元（原价 {price} 元）"
        else:
            text = f"售价 {shop_price(facts.promo_price or facts.price, locale)} 元"
        return f"，{text}", f"{text}，"
    if facts.promo_price is not None and facts.promo_price < facts.price:
        text = f" It is {shop_price(facts.promo_price, locale)} yuan today instead of {price}."
    else:
        text = f" It is {shop_price(facts.promo_price or facts.price, locale)} yuan."
    return text, text


def generate(facts: ProductFacts, locale: str) -> list[str]:
    """Deterministic candidate scripts from the product, its pairings and, for a campaign's
    scripts, the campaign's price."""
    price, price_first = _price_clauses(facts, locale)
    if locale == "zh-CN":
        pairs = "、".join(facts.pairs[:2]) or "同系列产品"
    else:
        pairs = " and ".join(facts.pairs[:2]) or "the matching range"
    values = {"name": facts.name, "category_plural": plural(facts.category),
              "category_zh": CATEGORY_ZH.get(facts.category, facts.category),
              "price": price, "price_first": price_first, "pairs": pairs}
    return [template.format(**values)[:MAX_LENGTH] for template in TEMPLATES[locale]]


def posterior(uses: int, conversions: int, dismissals: int) -> tuple[float, float]:
    """Beta(α, β) of a script's conversion rate: conversions succeed; unconverted uses and
    dismissals fail; a uniform prior."""
    return 1.0 + conversions, 1.0 + max(uses - conversions, 0) + dismissals


def thompson_scores(stats: list[tuple[int, int, int]], rng: random.Random) -> list[float]:
    """One draw from each script's posterior: ranking by it explores new scripts and lets the
    best-converting one rise."""
    return [rng.betavariate(*posterior(*row)) for row in stats]


def _normalized(text: str) -> str:
    """NFKC folds full-width forms (１００％ → 100%) and casefold ignores case, so look-alikes match."""
    return unicodedata.normalize("NFKC", text).casefold()


def _word_pattern(word: str) -> re.Pattern:
    """Latin words match whole words only ("cure" is not in "manicure"); CJK terms anywhere."""
    folded = re.escape(_normalized(word))
    if word.isascii() and word[:1].isalnum():
        return re.compile(rf"(?<![a-z0-9]){folded}(?![a-z0-9])")
    return re.compile(folded)


def banned_words_in(text: str, words: tuple[str, ...]) -> list[str]:
    """The banned words the text contains (an empty list when it is clean)."""
    folded = _normalized(text)
    return [word for word in dict.fromkeys(words) if word.strip() and _word_pattern(word).search(folded)]


def problems_with(text: str, banned: tuple[str, ...]) -> list[str]:
    """Why a script text cannot be stored: empty, too long, control characters, banned words."""
    problems = []
    if not text.strip():
        problems.append("The script is empty.")
    if len(text) > MAX_LENGTH:
        problems.append(f"At most {MAX_LENGTH} characters (this one has {len(text)}).")
    if any(unicodedata.category(char) == "Cc" and char not in "\n" for char in text):
        problems.append("Control characters are not allowed.")
    found = banned_words_in(text, banned)
    if found:
        problems.append("Contains banned words: " + ", ".join(found) + ".")
    return problems
