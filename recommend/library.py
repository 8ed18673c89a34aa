"""The script library: HQ scripts, clerk contributions and their moderation, Thompson-sampling
ranking and feedback (machine-written candidates: recommend/script_generation.py)."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import Select, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from backend import db
from backend.auth import policy
from backend.campaigns.models import Campaign
from backend.catalog.models import Product
from backend.db import utcnow
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.org.models import User
from backend.tasks.models import StoreTask
from recommend import scripts
from recommend.announce import announce_products
from recommend.models import Script
from recommend.partners import top_pairings

ACTIVE_CAMPAIGN = ("scheduled", "live")
MACHINE_SOURCES = ("generated", "llm")


def banned_words(config) -> tuple[str, ...]:
    """The defaults plus HQ's own words (ZHIDA_SCRIPT_BANNED_WORDS)."""
    return scripts.DEFAULT_BANNED_WORDS + tuple(config.get("SCRIPT_BANNED_WORDS", ()))


def _active_campaigns(now: dt.datetime) -> Select:
    return select(Campaign).where(Campaign.status.in_(ACTIVE_CAMPAIGN), Campaign.ends_at > now)


def _features(campaign: Campaign, sku: str) -> bool:
    return sku in (campaign.featured_skus or []) or sku in (campaign.promo_prices or {})


def _served_with(campaign_id: int | None, now: dt.datetime):
    """General scripts, plus those of the given campaign (or of any running one): a campaign's
    script quotes its promo price, which is wrong once the campaign is over."""
    if campaign_id is not None:
        return or_(Script.campaign_id.is_(None), Script.campaign_id == campaign_id)
    running = _active_campaigns(now).with_only_columns(Campaign.id)
    return or_(Script.campaign_id.is_(None), Script.campaign_id.in_(running))


# ---- the library ------------------------------------------------------------------------------

def _view(script: Script, sku: str, author: str | None, moderator: str | None,
          author_name: str | None = None) -> dict:
    return {"id": script.id, "sku": sku, "campaign_id": script.campaign_id, "locale": script.locale,
            "text": script.text, "source": script.source, "status": script.status,
            "author": author, "author_name": author_name or author,
            "created_at": script.created_at, "moderated_by": moderator,
            "moderated_at": script.moderated_at, "comment": script.moderation_comment}


def _single_view(session: Session, script: Script) -> dict:
    sku = session.scalar(select(Product.sku).where(Product.id == script.product_id))
    names = dict(session.execute(select(User.id, User.username).where(
        User.id.in_([script.created_by_id, script.moderated_by_id]))).all())
    return _view(script, sku, names.get(script.created_by_id), names.get(script.moderated_by_id))


def _product_for_script(session: Session, sku: str) -> Product:
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise ValidationFailed(f"No product '{sku}'.", errors={"sku": ["Unknown product."]})
    return product


def _campaign_for_script(session: Session, actor: User, product: Product,
                         campaign_id: int | None) -> Campaign | None:
    """The campaign a new script belongs to, checked: it features the product; a clerk's must be
    running with tasks in their store (found for them when not given)."""
    campaign = None
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise ValidationFailed(f"No campaign {campaign_id}.", errors={"campaign": ["Unknown campaign."]})
        if not _features(campaign, product.sku):
            raise ValidationFailed(f"Campaign {campaign.code} does not feature {product.sku}.",
                                   errors={"campaign": [f"Does not feature {product.sku}."]})
    if actor.role == policy.HQ:
        return campaign
    statement = _active_campaigns(utcnow()).where(exists().where(
        StoreTask.campaign_id == Campaign.id, policy.store_scope(actor, StoreTask.store_id)))
    if campaign is not None:
        statement = statement.where(Campaign.id == campaign.id)
    featuring = any(_features(c, product.sku) for c in session.scalars(statement))
    policy.ensure_can_contribute_script(actor, featured_in_scope=featuring)
    return campaign


def create_script(*, session: Session, actor: User, sku: str, locale: str, text: str,
                  banned: tuple[str, ...], campaign: int | None = None) -> dict:
    """HQ's script (approved at once) or a clerk's contribution (pending moderation)."""
    text = text.replace("\r\n", "\n").strip()
    product = _product_for_script(session, sku)
    problems = scripts.problems_with(text, banned)
    if problems:
        raise ValidationFailed("This script cannot be stored.", errors={"text": problems})
    the_campaign = _campaign_for_script(session, actor, product, campaign)
    status = policy.new_script_status(actor)
    duplicate = session.scalar(select(Script.id).where(
        Script.product_id == product.id, Script.locale == locale, Script.text == text,
        Script.status != "rejected"))
    if duplicate is not None:
        raise Conflict("The same script already exists.", error="duplicate_script", script_id=duplicate)
    script = Script(product_id=product.id, campaign_id=the_campaign.id if the_campaign else None,
                    locale=locale, text=text, source="hq" if status == "approved" else "clerk",
                    status=status, created_by_id=actor.id, uses=0, conversions=0, dismissals=0,
                    created_at=utcnow())
    session.add(script)
    if status == "approved":
        announce_products(session, {product.sku})
    db.commit(session)
    return _single_view(session, script)


def moderate_script(*, session: Session, actor: User, script_id: int, decision: str,
                    comment: str, banned: tuple[str, ...]) -> dict:
    """Approve or reject a pending contribution (HQ: any; a supervisor: their regions' clerks').
    HQ may also take an approved script down by rejecting it."""
    script = session.scalar(select(Script).where(Script.id == script_id).with_for_update())
    if script is None:
        raise NotFound(f"No script {script_id}.")
    author = session.get(User, script.created_by_id) if script.created_by_id else None
    policy.ensure_can_moderate_script(actor, author=author)
    take_down = (script.status, decision) == ("approved", "reject") and policy.may_take_down_script(actor)
    if script.status != "pending" and not take_down:
        raise Conflict(f"Script {script_id} is already {script.status}.", error="script_not_pending",
                       script_status=script.status)
    comment = comment.strip()
    if decision == "reject" and not comment:
        raise ValidationFailed("Say why it is rejected.", errors={"comment": ["Required to reject."]})
    if decision == "approve" and scripts.banned_words_in(script.text, banned):
        raise ValidationFailed("This script contains words banned since it was written.",
                               errors={"text": scripts.problems_with(script.text, banned)})
    script.status = "approved" if decision == "approve" else "rejected"
    script.moderated_by_id, script.moderated_at = actor.id, utcnow()
    script.moderation_comment = comment or None
    product = session.get(Product, script.product_id)
    announce_products(session, {product.sku})
    db.commit(session)
    return _single_view(session, script)


def list_scripts(*, session: Session, actor: User, status: str, sku: str | None = None,
                 locale: str | None = None, campaign: int | None = None, limit: int = 50) -> list[dict]:
    """The moderation queue (or the rejected ones), oldest first, as far as the actor may see:
    HQ all, a supervisor their regions' clerks', a clerk their own."""
    author, moderator = aliased(User), aliased(User)
    statement = (select(Script, Product.sku, author.username, moderator.username, author.display_name)
                 .join(Product, Script.product_id == Product.id)
                 .outerjoin(author, Script.created_by_id == author.id)
                 .outerjoin(moderator, Script.moderated_by_id == moderator.id)
                 .where(Script.status == status, policy.script_author_scope(actor, Script.created_by_id))
                 .order_by(Script.id).limit(limit))
    if sku:
        statement = statement.where(Product.sku == sku)
    if locale:
        statement = statement.where(Script.locale == locale)
    if campaign is not None:
        statement = statement.where(Script.campaign_id == campaign)
    return [_view(*row) for row in session.execute(statement)]


def _posterior_mean(script: Script) -> float:
    alpha, beta = scripts.posterior(script.uses, script.conversions, script.dismissals)
    return alpha / (alpha + beta)


def ranked_scripts(*, session: Session, actor: User, sku: str, locale: str | None,
                   rng: random.Random, campaign: int | None = None, limit: int = 50) -> list[dict]:
    """Approved scripts of a product ranked by a Thompson draw (score), with the posterior mean."""
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise NotFound(f"No product '{sku}'.")
    rows = session.scalars(select(Script).where(
        Script.product_id == product.id, Script.status == "approved",
        Script.locale == (locale or actor.locale), _served_with(campaign, utcnow()))
        .order_by(Script.id)).all()
    draws = scripts.thompson_scores([(s.uses, s.conversions, s.dismissals) for s in rows], rng)
    ranked = sorted(zip(rows, draws), key=lambda pair: -pair[1])[:limit]
    return [{"id": script.id, "sku": product.sku, "campaign_id": script.campaign_id,
             "locale": script.locale, "text": script.text, "source": script.source,
             "status": script.status, "score": round(draw, 4),
             "mean": round(_posterior_mean(script), 4), "uses": script.uses,
             "conversions": script.conversions}
            for script, draw in ranked]


def record_feedback(*, session: Session, actor: User, script_id: int, outcome: str) -> dict:
    """Count an outcome with one atomic UPDATE (concurrent feedback all counts)."""
    column = {"used": Script.uses, "converted": Script.conversions, "dismissed": Script.dismissals}[outcome]
    updated = session.execute(update(Script).where(Script.id == script_id, Script.status == "approved")
                              .values({column: column + 1})
                              .execution_options(synchronize_session=False)).rowcount
    if not updated:
        raise NotFound(f"No approved script {script_id}.")
    db.commit(session)
    script = session.get(Script, script_id)
    session.refresh(script)
    return {"id": script.id, "uses": script.uses, "conversions": script.conversions,
            "dismissals": script.dismissals}


# ---- what a store task shows ------------------------------------------------------------------

SOURCE_PREFERENCE = {"hq": 0, "clerk": 1, "llm": 2, "generated": 3}


def best_script(candidates: list[Script], campaign_id: int | None) -> Script | None:
    """The script to show without a random draw (a task's copy must not change on every read):
    the best posterior mean; ties go to the campaign's own, then HQ > clerk > LLM > template."""
    return min(candidates, default=None, key=lambda s: (
        -_posterior_mean(s), s.campaign_id != campaign_id, SOURCE_PREFERENCE.get(s.source, 9), s.id))


def recommendations_for_task(session: Session, task: StoreTask, locale: str, *,
                             max_products: int = 5, k: int = 3) -> list[dict]:
    """For each featured product of the task's campaign (at most ``max_products``): its name, top
    ``k`` pairings ({sku, name}) and the best approved script in ``locale`` ({id, text, source} or
    None). Four queries whatever the number of products; reads only, never commits."""
    skus = list(dict.fromkeys(task.campaign.featured_skus or []))[:max_products]
    if not skus:
        return []
    products = {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(skus)))}
    ids = [products[sku].id for sku in skus if sku in products]
    partners = top_pairings(session, ids, k)
    candidates: dict[int, list[Script]] = {}
    for script in session.scalars(select(Script).where(
            Script.product_id.in_(ids), Script.status == "approved", Script.locale == locale,
            _served_with(task.campaign_id, utcnow()))):
        candidates.setdefault(script.product_id, []).append(script)
    result = []
    for sku in skus:
        product = products.get(sku)
        if product is None:
            continue
        script = best_script(candidates.get(product.id, []), task.campaign_id)
        result.append({"sku": sku, "name": product.name,
                       "pairings": [{"sku": p["sku"], "name": p["name"]}
                                    for p in partners.get(product.id, [])],
                       "script": {"id": script.id, "text": script.text, "source": script.source}
                       if script else None})
    return result
