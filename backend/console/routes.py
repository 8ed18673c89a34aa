"""Pages of the HQ/supervisor web console (server-rendered, session cookie, CSRF-checked forms).

Plain Flask views, not flask-smorest ones: they stay out of the OpenAPI spec. Each view takes
its arguments, makes one service call with the signed-in actor, and renders or redirects.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (current_app, flash, make_response, redirect, request, send_from_directory,
                   url_for)
from flask_babel import gettext

from backend import db
from backend.auth import policy
from backend.auth import service as auth
from backend.auth.policy import HQ, SUPERVISOR, allow_signed_in, current_user
from backend.campaigns import service as campaigns
from backend.campaigns.models import CAMPAIGN_STATUSES, TASK_KINDS
from backend.console import forms, pages
from backend.console.i18n import LANGUAGE_COOKIE, LANGUAGES
from backend.console.web import console_blueprint, error_sentence, render, safe_next
from backend.db import utcnow
from backend.errors import Conflict, DomainError, ValidationFailed
from backend.tasks import blobs
from backend.tasks import service as tasks

bp = console_blueprint("console", __name__, template_folder="templates", static_folder="static",
                       static_url_path="/static")

MANAGERS = (HQ, SUPERVISOR)
# The browser libraries installed by `npm ci` (package.json), by the name pages use.
ASSET_PACKAGES = {"htmx": "htmx.org/dist", "chart": "chart.js/dist", "pico": "@picocss/pico/css"}


def _timezone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CONSOLE_TIMEZONE"])


def _form_page(form, errors: dict, status: int, campaign=None):
    return render("campaign_form.html", status, form=form, errors=errors, campaign=campaign,
                  kinds=TASK_KINDS, task_indexes=forms.task_indexes(form),
                  timezone=current_app.config["CONSOLE_TIMEZONE"],
                  **pages.campaign_form_choices(session=db.session(), actor=current_user()))


def _service_errors(exc: DomainError) -> dict:
    """A refused write as form errors: the fields it names, and its sentence on top."""
    errors = forms.flatten_errors(exc.errors) if exc.errors else {}
    errors["form"] = error_sentence(exc.error, exc.message)
    return errors


# ---- signing in ---------------------------------------------------------------------------

@bp.get("/assets/<package>/<path:filename>")
def asset(package, filename):
    """A file of an npm-installed browser library (htmx, Chart.js, Pico CSS)."""
    if package not in ASSET_PACKAGES:
        return render("error.html", 404, status=404, error="not_found",
                      message=gettext("Not found."))
    folder = Path(current_app.config["CONSOLE_ASSETS_DIR"]) / ASSET_PACKAGES[package]
    return send_from_directory(folder, filename, max_age=86400)


@bp.get("/lang/<code>")
def switch_language(code):
    """Remember the chosen language in a cookie and go back."""
    response = redirect(safe_next(request.args.get("next"), url_for("console.home")))
    if code in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 86400, samesite="Lax",
                            httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with the same username and password as the API."""
    next_page = safe_next(request.values.get("next"), url_for("console.home"))
    if request.method == "GET":
        return render("login.html", next_page=next_page, username="")
    username = request.form.get("username", "").strip()
    try:
        user = auth.authenticate(session=db.session(), username=username,
                                 password=request.form.get("password", ""),
                                 attempt=auth.Attempt(throttle=current_app.extensions["zhida.throttle"],
                                                      action="console_login", username=username,
                                                      address=request.remote_addr))
    except DomainError as exc:
        return render("login.html", exc.status_code,
                      next_page=next_page, username=username,
                      error=error_sentence(exc.error, exc.message))
    policy.start_session(user)
    return redirect(next_page)


@bp.post("/logout")
def logout():
    """Sign out."""
    auth.sign_out_of_console(session=db.session(), actor=policy.signed_in_user())
    policy.end_session()
    flash(gettext("Signed out."), "info")
    return redirect(url_for("console.login"))


@bp.get("/")
@allow_signed_in(*MANAGERS)
def home():
    """HQ starts at the campaigns, supervisors at their dashboard (clerks are turned away)."""
    return redirect(url_for("console.campaign_list" if current_user().role == HQ
                            else "console.dashboard"))


# ---- HQ: campaigns ------------------------------------------------------------------------

@bp.get("/campaigns")
@allow_signed_in(HQ)
def campaign_list():
    """Campaigns, newest first, with the progress of each published one."""
    status = request.args.get("status")
    return render("campaigns.html", statuses=CAMPAIGN_STATUSES, **pages.campaign_list(
        session=db.session(), actor=current_user(), page=request.args.get("page", 1, type=int),
        status=status if status in CAMPAIGN_STATUSES else None))


@bp.route("/campaigns/new", methods=["GET", "POST"])
@allow_signed_in(HQ)
def campaign_new():
    """Create a draft campaign with its tasks, checklist, proof and targeting."""
    if request.method == "GET":
        return _form_page(forms.blank_campaign_form(_timezone(), utcnow()), {}, 200)
    body, errors = forms.load_new_campaign(request.form, _timezone())
    if errors:
        return _form_page(request.form, errors, 422)
    try:
        campaign = campaigns.create_campaign(session=db.session(), actor=current_user(), **body)
    except (ValidationFailed, Conflict) as exc:
        return _form_page(request.form, _service_errors(exc), exc.status_code)
    flash(gettext("Draft %(code)s saved.", code=campaign.code), "success")
    return redirect(url_for("console.campaign_detail", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@allow_signed_in(HQ)
def campaign_edit(campaign_id):
    """Edit a draft campaign."""
    campaign = pages.editable_campaign(session=db.session(), actor=current_user(),
                                       campaign_id=campaign_id)
    if request.method == "GET":
        return _form_page(forms.form_from_campaign(campaign, _timezone()), {}, 200, campaign)
    changes, errors = forms.load_campaign_changes(request.form, _timezone())
    if errors:
        return _form_page(request.form, errors, 422, campaign)
    try:
        campaigns.update_campaign(session=db.session(), actor=current_user(),
                                  campaign_id=campaign_id, changes=changes)
    except (ValidationFailed, Conflict) as exc:
        return _form_page(request.form, _service_errors(exc), exc.status_code, campaign)
    flash(gettext("Draft %(code)s saved.", code=campaign.code), "success")
    return redirect(url_for("console.campaign_detail", campaign_id=campaign_id))


@bp.get("/campaigns/targeting-count")
@allow_signed_in(HQ)
def targeting_count():
    """The live count of targeted stores while the form is filled in (an htmx fragment)."""
    templates = len([key for key, value in request.args.items()
                     if forms.TASK_FIELD.match(key) and value.strip()])
    try:
        preview = pages.targeting_preview(session=db.session(), actor=current_user(),
                                          targeting=forms.targeting_body(request.args),
                                          templates=templates)
    except ValidationFailed as exc:
        return render("_targeting_count.html", preview=None,
                      errors=forms.flatten_errors(exc.errors))
    return render("_targeting_count.html", preview=preview, errors={})


@bp.get("/campaigns/task-fields")
@allow_signed_in(HQ)
def task_fields():
    """One more empty task fieldset for the campaign form (an htmx fragment)."""
    present = forms.task_indexes(request.args)
    index = min(max(present, default=-1) + 1, forms.MAX_TASKS)
    return render("_task_fields.html", index=index, form={}, errors={}, kinds=TASK_KINDS)


@bp.get("/campaigns/<int:campaign_id>")
@allow_signed_in(HQ)
def campaign_detail(campaign_id):
    """One campaign: its tasks and targeting, then its reach (draft) or progress (published)."""
    return render("campaign.html", **pages.campaign_detail(
        session=db.session(), actor=current_user(), campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/publish", methods=["GET", "POST"])
@allow_signed_in(HQ)
def campaign_publish(campaign_id):
    """Confirm, then publish: one store task per template per targeted store."""
    if request.method == "GET":
        return render("publish.html", **pages.campaign_detail(
            session=db.session(), actor=current_user(), campaign_id=campaign_id))
    try:
        result = campaigns.publish(session=db.session(), actor=current_user(),
                                   campaign_id=campaign_id)
    except (ValidationFailed, Conflict) as exc:
        flash(error_sentence(exc.error, exc.message), "error")
        return redirect(url_for("console.campaign_detail", campaign_id=campaign_id))
    flash(gettext("Published to %(stores)d stores: %(tasks)d tasks created.",
                  stores=result["stores"], tasks=result["tasks_created"]), "success")
    return redirect(url_for("console.campaign_detail", campaign_id=campaign_id))


# ---- supervisors (and HQ): execution ------------------------------------------------------

def _filters() -> dict:
    return {"campaign": request.args.get("campaign", type=int),
            "region": request.args.get("region") or None}


@bp.get("/dashboard")
@allow_signed_in(*MANAGERS)
def dashboard():
    """Rates per store and per day, charts, and the overdue list of the actor's regions."""
    return render("dashboard.html", **pages.dashboard(session=db.session(), actor=current_user(),
                                                      **_filters()))


@bp.get("/dashboard.csv")
@allow_signed_in(*MANAGERS)
def dashboard_csv():
    """The dashboard's rates as CSV (the analytics API's columns)."""
    group_by = request.args.get("group_by", "store")
    text = pages.execution_csv(session=db.session(), actor=current_user(), group_by=group_by,
                               **_filters())
    response = make_response(text)
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="execution-{group_by}.csv"'
    return response


@bp.get("/reviews")
@allow_signed_in(*MANAGERS)
def review_queue():
    """Submitted tasks waiting for a decision, oldest due first."""
    campaign = request.args.get("campaign", type=int)
    return render("reviews.html", campaign=campaign, listed=tasks.list_tasks(
        session=db.session(), actor=current_user(), page=request.args.get("page", 1, type=int),
        page_size=20, campaign=campaign, status="submitted"))


@bp.get("/tasks/<int:task_id>")
@allow_signed_in(*MANAGERS)
def task_detail(task_id):
    """One task's proof: photos, checklist, prices, notes, and the review form."""
    return render("task.html", **tasks.get_task(session=db.session(), actor=current_user(),
                                                task_id=task_id, include="history"))


@bp.post("/tasks/<int:task_id>/review")
@allow_signed_in(*MANAGERS)
def task_review(task_id):
    """Approve, or reject with a comment (the same review service as the API)."""
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        flash(gettext("Choose approve or reject."), "error")
        return redirect(url_for("console.task_detail", task_id=task_id))
    try:
        task = tasks.review(session=db.session(), actor=current_user(), task_id=task_id,
                            decision=decision,
                            comment=request.form.get("comment", "").strip()[:2000])
    except (ValidationFailed, Conflict) as exc:
        flash(error_sentence(exc.error, exc.message), "error")
        return redirect(url_for("console.task_detail", task_id=task_id))
    flash(gettext("Task %(id)d approved.", id=task.id) if decision == "approve"
          else gettext("Task %(id)d sent back to the store.", id=task.id), "success")
    return redirect(url_for("console.review_queue"))


@bp.get("/photos/<sha256>")
@allow_signed_in(*MANAGERS)
def photo(sha256):
    """A proof photo, for managers of a task it is attached to."""
    blob = blobs.get_blob(session=db.session(), actor=current_user(), sha256=sha256)
    return current_app.response_class(blob.data, mimetype=blob.content_type,
                                      headers={"Cache-Control": "private, max-age=86400"})
