"""The console's recommendation pages: a product's pairings (pin, ban) and scripts, and the
script moderation queue. The recommend services with the signed-in actor, as the API calls them."""

from __future__ import annotations

import random

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext
from sqlalchemy.orm import Session

from backend import db
from backend.auth.policy import HQ, SUPERVISOR, allow_signed_in, current_user
from backend.catalog import service as catalog
from backend.console import forms, messages
from backend.console.web import console_blueprint, error_sentence, render, safe_next
from backend.errors import Conflict, DomainError, NotFound, ValidationFailed
from backend.org.models import User
from recommend import library, pairing_service

bp = console_blueprint("console_recommend", __name__)

QUEUES = ("pending", "approved", "rejected")
PAIRINGS_SHOWN = 10


def product_page(*, session: Session, actor: User, sku: str) -> dict:
    """A product, its pairings with their source, its approved scripts in both languages
    (ranked as clerks get them) and the contributions waiting for moderation."""
    product = catalog.get_product(session=session, actor=actor, sku=sku)
    pairings = pairing_service.pairings_for(session=session, actor=actor, sku=sku,
                                            k=PAIRINGS_SHOWN)
    rng = random.Random(0)  # a fixed draw: the page lists, it does not serve
    scripts = {locale: library.ranked_scripts(session=session, actor=actor, sku=sku,
                                              locale=locale, rng=rng)
               for locale in ("zh-CN", "en")}
    pending = library.list_scripts(session=session, actor=actor, status="pending", sku=sku)
    return {"product": product, "pairings": pairings["pairings"], "scripts": scripts,
            "pending": pending}


def _refusal(exc: DomainError) -> None:
    details = forms.flatten_errors(messages.translate_nested(exc.errors)) if exc.errors else {}
    flash(" ".join([error_sentence(exc.error, exc.message)] + list(details.values())), "error")


@bp.get("/products/<sku>")
@allow_signed_in(HQ)
def product_detail(sku):
    """A product's pairings (pin, ban) and scripts."""
    return render("product.html", **product_page(session=db.session(), actor=current_user(),
                                                 sku=sku))


@bp.post("/products/<sku>/pairings/<any(pin, ban, unpin, unban):action>")
@allow_signed_in(HQ)
def pairing_rule(sku, action):
    """Pin or ban a partner of this product, or lift a pin or a ban."""
    other = request.form.get("other", "").strip()[:64]
    try:
        if action in ("pin", "ban"):
            pairing_service.set_pairing_rule(session=db.session(), actor=current_user(),
                                             sku=sku, other_sku=other, kind=action)
        else:
            pairing_service.remove_pairing_rule(session=db.session(), actor=current_user(),
                                                sku=sku, other_sku=other, kind=action[2:])
    except (ValidationFailed, Conflict, NotFound) as exc:
        _refusal(exc)
    else:
        flash({"pin": gettext("%(other)s is pinned to %(sku)s.", other=other, sku=sku),
               "ban": gettext("%(other)s will not be suggested with %(sku)s.", other=other, sku=sku),
               "unpin": gettext("The pin of %(other)s is lifted.", other=other),
               "unban": gettext("The ban of %(other)s is lifted.", other=other)}[action], "success")
    return redirect(url_for("console_recommend.product_detail", sku=sku))


@bp.get("/scripts")
@allow_signed_in(HQ, SUPERVISOR)
def script_queue():
    """Clerks' scripts waiting for a decision (supervisors: their regions' clerks'), or the
    approved and rejected ones."""
    status = request.args.get("status", "pending")
    status = status if status in QUEUES else "pending"
    return render("scripts.html", status=status, queues=QUEUES, scripts=library.list_scripts(
        session=db.session(), actor=current_user(), status=status, limit=200))


@bp.post("/scripts/<int:script_id>/moderate")
@allow_signed_in(HQ, SUPERVISOR)
def script_moderate(script_id):
    """Approve, reject with a comment, or (HQ) take an approved script down."""
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        flash(gettext("Choose approve or reject."), "error")
    else:
        try:
            library.moderate_script(session=db.session(), actor=current_user(),
                                    script_id=script_id, decision=decision,
                                    comment=request.form.get("comment", "")[:1000],
                                    banned=library.banned_words(current_app.config))
        except (ValidationFailed, Conflict, NotFound) as exc:
            _refusal(exc)
        else:
            flash(gettext("Script %(id)d approved.", id=script_id) if decision == "approve"
                  else gettext("Script %(id)d rejected.", id=script_id), "success")
    return redirect(safe_next(request.form.get("next"), url_for("console_recommend.script_queue")))
