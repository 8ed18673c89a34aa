"""The console's rules page (HQ; supervisors for their regions): list, create from a form that
builds the rule's data, dry-run, enable/disable, and the A/B effect with its interval and counts.
The rules services with the signed-in actor, as the API calls them."""

from __future__ import annotations

import json

from flask import flash, redirect, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from backend import db
from backend.auth.policy import HQ, SUPERVISOR, allow_signed_in, current_user
from backend.console import messages
from backend.console.web import console_blueprint, error_sentence, render
from backend.errors import Forbidden, ValidationFailed
from backend.org import service as org
from rules import console_forms, service

bp = console_blueprint("console_rules", __name__)

DEFAULT_FORM = MultiDict({"trigger_type": "task.overdue", "after_hours": "2", "action_type": "notify",
                          "to": "supervisor", "variant_share": "50", "due_in_hours": "24", "days": "7",
                          "below": "20", "hours_before_due": "12"})


def _rules_page(form, errors: dict, status: int = 200):
    actor = current_user()
    return render("rules.html", status, form=form, errors=messages.translate_errors(errors),
                  rules=service.list_rules(session=db.session(), actor=actor),
                  regions=org.list_regions(session=db.session(), actor=actor), **console_forms.form_choices())


@bp.get("/rules")
@allow_signed_in(HQ, SUPERVISOR)
def rule_list():
    """The rules in scope, and a form to add one."""
    return _rules_page(DEFAULT_FORM, {})


@bp.post("/rules")
@allow_signed_in(HQ, SUPERVISOR)
def rule_create():
    """Add a rule from the form (checked by the same schema as the API)."""
    body, errors = console_forms.load_rule(request.form)
    if errors:
        return _rules_page(request.form, errors, 422)
    try:
        rule = service.create_rule(session=db.session(), actor=current_user(), **body)
    except (ValidationFailed, Forbidden) as exc:
        errors = console_forms.errors_by_field(exc.errors or {})
        errors["form"] = error_sentence(exc.error, exc.message)
        return _rules_page(request.form, errors, exc.status_code)
    flash(gettext("Rule “%(name)s” created.", name=rule.name), "success")
    return redirect(url_for("console_rules.rule_detail", rule_id=rule.id))


def _hours() -> float:
    hours = request.args.get("hours", 24, type=float)
    return hours if 1 <= hours <= 24 * 60 else 24


def _detail_page(rule_id: int, dry_run: dict | None = None):
    session, actor = db.session(), current_user()
    hours = _hours()
    rule = service.rule_by_id(session, actor, rule_id)
    # Shown as typed (Chinese messages stay readable): not through tojson, which escapes them.
    data = {part: json.dumps(getattr(rule, part), ensure_ascii=False, sort_keys=True)
            for part in ("trigger", "condition", "action")}
    return render("rule.html", rule=rule, data=data, dry_run=dry_run, hours=hours,
                  effect=service.rule_effect(session=session, actor=actor, rule_id=rule_id, hours=hours),
                  firings=service.recent_firings(session=session, actor=actor, rule_id=rule_id))


@bp.get("/rules/<int:rule_id>")
@allow_signed_in(HQ, SUPERVISOR)
def rule_detail(rule_id):
    """One rule: its data, its effect (treatment against control) and its latest firings."""
    return _detail_page(rule_id)


@bp.post("/rules/<int:rule_id>/dry-run")
@allow_signed_in(HQ, SUPERVISOR)
def rule_dry_run(rule_id):
    """What the rule would fire for now (nothing is written)."""
    result = service.dry_run(session=db.session(), actor=current_user(), rule_id=rule_id, lookback_hours=72)
    return _detail_page(rule_id, dry_run=result)


@bp.post("/rules/<int:rule_id>/active")
@allow_signed_in(HQ, SUPERVISOR)
def rule_active(rule_id):
    """Enable or disable the rule."""
    active = request.form.get("active") == "1"
    rule = service.update_rule(session=db.session(), actor=current_user(), rule_id=rule_id,
                               changes={"active": active})
    flash(gettext("Rule “%(name)s” enabled.", name=rule.name) if active
          else gettext("Rule “%(name)s” disabled.", name=rule.name), "success")
    return redirect(url_for("console_rules.rule_detail", rule_id=rule_id))
