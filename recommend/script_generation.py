"""Machine-written script candidates: the templates, or an LLM when configured, for every
product without scripts (the library, moderation and ranking: recommend/library.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import db
from backend.campaigns.models import Campaign
from backend.catalog.models import Product
from backend.db import utcnow
from recommend import scripts
from recommend.announce import announce_products
from recommend.library import MACHINE_SOURCES, _active_campaigns, banned_words
from recommend.llm import LlmSettings, ScriptGenerator
from recommend.models import Script
from recommend.partners import top_pairings


def script_generator(config) -> ScriptGenerator:
    """The generator `recommend train` uses: the LLM when configured, the templates always."""
    return ScriptGenerator(llm=LlmSettings.from_config(config), banned=banned_words(config))


def generate_scripts(*, session: Session, generator: ScriptGenerator | None = None) -> dict:
    """Store machine-written candidates for every product (and, for a product a running campaign
    features, for that campaign) that has none yet in a locale. The LLM is asked only for featured
    products: those are the ones clerks push, and a call per catalog product would cost a fortune."""
    generator = generator or ScriptGenerator(llm=None, banned=scripts.DEFAULT_BANNED_WORDS)
    now = utcnow()
    products = session.scalars(select(Product).order_by(Product.id)).all()
    campaign_of: dict[str, Campaign] = {}
    for campaign in session.scalars(_active_campaigns(now).order_by(Campaign.starts_at.desc(),
                                                                     Campaign.id.desc())):
        for sku in [*(campaign.featured_skus or []), *(campaign.promo_prices or {})]:
            campaign_of.setdefault(sku, campaign)  # the newest running campaign wins
    have = set(session.execute(select(Script.product_id, Script.locale, Script.campaign_id)
                               .where(Script.source.in_(MACHINE_SOURCES)).distinct()).all())
    partners = top_pairings(session, None, k=2)
    rows = []
    try:
        for product in products:
            featured_by = campaign_of.get(product.sku)
            pairs = [partner["name"] for partner in partners.get(product.id, [])]
            # Every product gets general scripts (any campaign may feature it later); a product a
            # running campaign features also gets that campaign's, quoting its promo price.
            for campaign in [None] + ([featured_by] if featured_by else []):
                promo = (campaign.promo_prices or {}).get(product.sku) if campaign else None
                facts = scripts.ProductFacts(
                    name=product.name, category=product.category, price=float(product.price),
                    promo_price=float(promo) if promo is not None else None, pairs=pairs,
                    brand=product.brand or "", campaign_title=campaign.title if campaign else None)
                campaign_id = campaign.id if campaign else None
                for locale in scripts.LOCALES:
                    if (product.id, locale, campaign_id) in have:
                        continue
                    texts, source = generator.candidates(facts, locale, use_llm=campaign is not None)
                    rows.extend({"product_id": product.id, "campaign_id": campaign_id, "locale": locale,
                                 "text": text, "source": source, "status": "approved", "uses": 0,
                                 "conversions": 0, "dismissals": 0, "created_at": now} for text in texts)
    finally:
        generator.close()
    if rows:
        session.execute(Script.__table__.insert(), rows)
        announce_products(session, None)
    db.commit(session)
    outcomes = generator.outcomes
    fell_back = {key.removeprefix("fallback_"): n for key, n in sorted(outcomes.items())
                 if key.startswith("fallback_")}
    return {"scripts": len(rows), "outcomes": dict(sorted(outcomes.items())),
            "llm": {"configured": generator.llm is not None,
                    # asked: calls made; a circuit left open after repeated failures asks no more
                    "asked": outcomes["llm"] + sum(n for reason, n in fell_back.items()
                                                   if reason != "circuit_open"),
                    "answered": outcomes["llm"],
                    "scripts": sum(1 for row in rows if row["source"] == "llm"),
                    "fell_back": fell_back}}
