"""The console's webhooks page (HQ): register an endpoint (its secret shown once, on the answer
page), disable or enable it, its delivery log with every attempt, redeliver. The integrations
services, as the API calls them."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from backend import db
from backend.auth.policy import HQ, allow_signed_in, current_user
from backend.console import messages
from backend.console.web import console_blueprint, error_sentence, page_number, render
from backend.errors import Conflict, ValidationFailed
from integrations import service
from integrations.models import DELIVERY_STATES, EVENT_TYPES
from integrations.schemas import EndpointInSchema

bp = console_blueprint("console_webhooks", __name__)
PAGE_SIZE = 50


def _webhooks_page(form, errors: dict, status: int = 200, created: dict | None = None):
    return render("webhooks.html", status, form=form, errors=messages.translate_errors(errors), created=created,
                  event_types=EVENT_TYPES,
                  endpoints=service.list_endpoints(session=db.session()))


def _load_endpoint(form) -> tuple[dict | None, dict]:
    body = {"url": form.get("url", "").strip()[:2100], "events": form.getlist("events"),
            "description": form.get("description", "").strip()[:600]}
    try:
        return EndpointInSchema().load(body), {}
    except ma.ValidationError as exc:
        return None, {field: " ".join(map(str, messages if isinstance(messages, list) else [messages]))
                      for field, messages in exc.messages.items()}


@bp.get("/webhooks")
@allow_signed_in(HQ)
def webhook_list():
    """The registered endpoints, and a form to add one."""
    return _webhooks_page(MultiDict(), {})


@bp.post("/webhooks")
@allow_signed_in(HQ)
def webhook_create():
    """Register an endpoint; this answer is the only place its signing secret is shown."""
    body, errors = _load_endpoint(request.form)
    if errors:
        return _webhooks_page(request.form, errors, 422)
    try:
        created = service.create_endpoint(session=db.session(), actor=current_user(),
                                          allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE"], **body)
    except ValidationFailed as exc:
        errors = {field: " ".join(messages) for field, messages in (exc.errors or {}).items()}
        errors["form"] = error_sentence(exc.error, gettext("This URL may not receive webhooks."))
        return _webhooks_page(request.form, errors, exc.status_code)
    # Rendered, not redirected: the secret is never stored in the session or shown again.
    return _webhooks_page(MultiDict(), {}, 201, created=created)


@bp.post("/webhooks/<int:endpoint_id>/active")
@allow_signed_in(HQ)
def webhook_active(endpoint_id):
    """Disable an endpoint, or enable it again."""
    active = request.form.get("active") == "1"
    endpoint = service.set_endpoint_active(session=db.session(), endpoint_id=endpoint_id, active=active)
    flash(gettext("Endpoint %(url)s enabled.", url=endpoint["url"]) if active
          else gettext("Endpoint %(url)s disabled.", url=endpoint["url"]), "success")
    if request.form.get("next") == "deliveries":
        return redirect(url_for("console_webhooks.webhook_deliveries", endpoint_id=endpoint_id))
    return redirect(url_for("console_webhooks.webhook_list"))


@bp.get("/webhooks/<int:endpoint_id>")
@allow_signed_in(HQ)
def webhook_deliveries(endpoint_id):
    """An endpoint's deliveries, newest first, with every attempt."""
    state = request.args.get("state")
    state = state if state in DELIVERY_STATES else None
    page = page_number()
    session = db.session()
    return render("webhook.html", endpoint=service.get_endpoint(session=session, endpoint_id=endpoint_id),
                  listed=service.list_deliveries(session=session, endpoint_id=endpoint_id, page=page,
                                                 page_size=PAGE_SIZE, state=state),
                  state=state, states=DELIVERY_STATES)


@bp.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@allow_signed_in(HQ)
def webhook_redeliver(endpoint_id, delivery_id):
    """Send a delivery again now (the same event id, a fresh 24 h of retries)."""
    try:
        service.redeliver(session=db.session(), endpoint_id=endpoint_id, delivery_id=delivery_id)
    except Conflict as exc:
        flash(error_sentence(exc.error, {
            "endpoint_disabled": gettext("This endpoint is disabled; enable it first."),
            "delivery_in_flight": gettext("This delivery is being sent right now."),
        }.get(exc.error, exc.message)), "error")
    else:
        flash(gettext("Delivery %(id)d will be sent again.", id=delivery_id), "success")
    return redirect(url_for("console_webhooks.webhook_deliveries", endpoint_id=endpoint_id))
