"""Pages of the HQ/supervisor web console (server-rendered, session cookie, CSRF-checked forms).

Plain Flask views, not flask-smorest ones: they stay out of the OpenAPI spec. Each view takes
its arguments, makes one service call with the signed-in actor, and renders or redirects.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (Blueprint, current_app, flash, make_response, redirect, request,
                   send_from_directory, url_for)
from flask_babel import gettext

from backend import db
from backend.analytics import impact
from backend.auth import policy
from backend.auth import service as auth
from backend.auth.policy import HQ, SUPERVISOR, allow_signed_in, current_user
from backend.campaigns import service as campaigns
from backend.campaigns.models import CAMPAIGN_STATUSES, TASK_KINDS
from backend.console import forms, messages, pages
from backend.console.i18n import LANGUAGE_COOKIE, LANGUAGES
from backend.console.web import (console_blueprint, csv_headers, error_sentence, page_number,
                                 query_id, render, safe_next)
from backend.db import utcnow
from backend.errors import Conflict, DomainError, ValidationFailed
from backend.tasks import blobs
from backend.tasks import service as tasks
from backend.tasks.models import TASK_STATUSES

bp = console_blueprint("console", __name__, template_folder="templates", static_folder="static",
                       static_url_path="/static")
# The site's root: people who type the bare address land in the console (clerks in their app).
root_bp = Blueprint("console_root", __name__)
CLERK_APP = "/app/"

MANAGERS = (HQ, SUPERVISOR)
# The browser libraries installed by `npm ci` (package.json), by the name pages use.
ASSET_PACKAGES = {"htmx": "htmx.org/dist", "chart": "chart.js/dist", "pico": "@picocss/pico/css"}


def _timezone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CONSOLE_TIMEZONE"])


def _form_page(form, errors: dict, status: int, campaign=None):
    return render("campaign_form.html", status, form=form, errors=messages.translate_errors(errors),
                  campaign=campaign,
                  kinds=TASK_KINDS, task_indexes=forms.task_indexes(form),
                  timezone=current_app.config["CONSOLE_TIMEZONE"],
                  **pages.campaign_form_choices(session=db.session(), actor=current_user()))


def _service_errors(exc: DomainError) -> dict:
    """A refused write as form errors: the fields it names, and its sentence on top."""
    errors = forms.flatten_errors(messages.translate_nested(exc.errors)) if exc.errors else {}
    errors["form"] = error_sentence(exc.error, exc.message)
    return errors


def _back(default: str):
    """Where a small action form sends the person back to: its `next` field, on this site."""
    return redirect(safe_next(request.form.get("next"), default))


def _flash_refusal(exc: DomainError) -> None:
    """A refused action as one flash: its sentence, then each field's message, translated."""
    details = forms.flatten_errors(messages.translate_nested(exc.errors)) if exc.errors else {}
    flash(" ".join([error_sentence(exc.error, exc.message)] + list(details.values())), "error")


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


@root_bp.get("/")
def site_root():
    """The bare address: clerks go to their app, everyone else to the console (or its sign-in)."""
    user = policy.signed_in_user()
    return redirect(CLERK_APP if user is not None and user.role == policy.CLERK
                    else url_for("console.home"))


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
        session=db.session(), actor=current_user(), page=page_number(),
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


# ---- HQ: a campaign's life after publish ---------------------------------------------------

def _template_page(template_edit: dict, form, errors: dict, status: int):
    return render("template_form.html", status, form=form, errors=messages.translate_errors(errors),
                  kinds=TASK_KINDS, timezone=current_app.config["CONSOLE_TIMEZONE"],
                  **template_edit)


@bp.route("/campaigns/<int:campaign_id>/templates/<int:template_id>/edit", methods=["GET", "POST"])
@allow_signed_in(HQ)
def template_edit(campaign_id, template_id):
    """Edit one task template, published or not, seeing first how many tasks it will flag."""
    edit = pages.template_edit(session=db.session(), actor=current_user(),
                               campaign_id=campaign_id, template_id=template_id)
    if request.method == "GET":
        return _template_page(edit, forms.form_from_template(edit["template"], _timezone()), {},
                              200)
    changes, errors = forms.load_template_changes(request.form, _timezone())
    if errors:
        return _template_page(edit, request.form, errors, 422)
    try:
        template = campaigns.update_template(session=db.session(), actor=current_user(),
                                             campaign_id=campaign_id, template_id=template_id,
                                             changes=changes)
    except (ValidationFailed, Conflict) as exc:
        return _template_page(edit, request.form, _service_errors(exc), exc.status_code)
    flash(gettext("Task “%(title)s” saved (version %(version)d); %(flagged)d claimed tasks "
                  "are flagged as changed.", title=template.title, version=template.version,
                  flagged=edit["flagged"]), "success")
    return redirect(url_for("console.campaign_detail", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/targeting", methods=["GET", "POST"])
@allow_signed_in(HQ)
def campaign_targeting(campaign_id):
    """Widen (or narrow) a published campaign's targeting; publishing again reaches new stores."""
    page = pages.campaign_targeting(session=db.session(), actor=current_user(),
                                    campaign_id=campaign_id)
    if request.method == "GET":
        return render("targeting_form.html", errors={},
                      form=forms.form_from_campaign(page["campaign"], _timezone()), **page)
    changes, errors = forms.load_targeting_changes(request.form)
    if errors:
        return render("targeting_form.html", 422, form=request.form,
                      errors=messages.translate_errors(errors), **page)
    try:
        campaigns.update_campaign(session=db.session(), actor=current_user(),
                                  campaign_id=campaign_id, changes=changes)
    except (ValidationFailed, Conflict) as exc:
        return render("targeting_form.html", exc.status_code, form=request.form,
                      errors=messages.translate_errors(_service_errors(exc)), **page)
    flash(gettext("Targeting saved. Publish again to reach the stores it adds."), "success")
    return redirect(url_for("console.campaign_publish", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/cancel")
@allow_signed_in(HQ)
def campaign_cancel(campaign_id):
    """Cancel the campaign and every task of it not yet approved."""
    try:
        result = campaigns.cancel(session=db.session(), actor=current_user(),
                                  campaign_id=campaign_id,
                                  reason=request.form.get("reason", "").strip()[:500])
    except (ValidationFailed, Conflict) as exc:
        _flash_refusal(exc)
    else:
        flash(gettext("Campaign cancelled: %(n)d tasks cancelled.", n=result["tasks_cancelled"]),
              "success")
    return redirect(url_for("console.campaign_detail", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/close")
@allow_signed_in(HQ)
def campaign_close(campaign_id):
    """Close a published campaign; its tasks stay as they are for the record."""
    try:
        campaigns.close(session=db.session(), actor=current_user(), campaign_id=campaign_id)
    except (ValidationFailed, Conflict) as exc:
        _flash_refusal(exc)
    else:
        flash(gettext("Campaign closed."), "success")
    return redirect(url_for("console.campaign_detail", campaign_id=campaign_id))


@bp.get("/stores/<code>/tasks")
@allow_signed_in(*MANAGERS)
def store_tasks(code):
    """One store's tasks (of one campaign when chosen), with cancel, assign and QR actions."""
    status = request.args.get("status")
    return render("store_tasks.html", statuses=TASK_STATUSES, **pages.store_tasks(
        session=db.session(), actor=current_user(), code=code,
        campaign=query_id("campaign"),
        status=status if status in TASK_STATUSES else None,
        page=page_number()))


@bp.post("/tasks/<int:task_id>/cancel")
@allow_signed_in(HQ)
def task_cancel(task_id):
    """Cancel one task that is not final (HQ)."""
    try:
        tasks.cancel(session=db.session(), actor=current_user(), task_id=task_id,
                     reason=request.form.get("reason", "").strip()[:500])
    except (ValidationFailed, Conflict) as exc:
        _flash_refusal(exc)
    else:
        flash(gettext("Task %(id)d cancelled.", id=task_id), "success")
    return _back(url_for("console.task_detail", task_id=task_id))


@bp.post("/tasks/<int:task_id>/assign")
@allow_signed_in(*MANAGERS)
def task_assign(task_id):
    """Hand the task to a clerk of its store."""
    try:
        tasks.assign(session=db.session(), actor=current_user(), task_id=task_id,
                     username=request.form.get("username", "").strip()[:80])
    except (ValidationFailed, Conflict) as exc:
        _flash_refusal(exc)
    else:
        flash(gettext("Task %(id)d assigned.", id=task_id), "success")
    return _back(url_for("console.task_detail", task_id=task_id))


# ---- supervisors (and HQ): execution ------------------------------------------------------

def _filters() -> dict:
    return {"campaign": query_id("campaign"),
            "region": request.args.get("region") or None}


@bp.get("/dashboard")
@allow_signed_in(*MANAGERS)
def dashboard():
    """Rates per store and per day, charts, and the overdue list of the actor's regions (stores
    searched by name or code with ?q=)."""
    return render("dashboard.html", **pages.dashboard(
        session=db.session(), actor=current_user(),
        q=request.args.get("q", "").strip()[:100] or None, **_filters()))


@bp.get("/dashboard.csv")
@allow_signed_in(*MANAGERS)
def dashboard_csv():
    """The dashboard's rates as CSV (the analytics API's columns)."""
    group_by = request.args.get("group_by", "store")
    lang = request.args.get("lang")
    text = pages.execution_csv(session=db.session(), actor=current_user(), group_by=group_by,
                               headers=csv_headers(lang) if lang in LANGUAGES else None,
                               **_filters())
    response = make_response(text)
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="execution-{group_by}.csv"'
    return response


@bp.get("/reviews")
@allow_signed_in(*MANAGERS)
def review_queue():
    """Submitted tasks waiting for a decision, oldest due first."""
    campaign = query_id("campaign")
    return render("reviews.html", campaign=campaign, listed=tasks.list_tasks(
        session=db.session(), actor=current_user(), page=page_number(),
        page_size=20, campaign=campaign, status="submitted"))


@bp.get("/tasks/<int:task_id>")
@allow_signed_in(*MANAGERS)
def task_detail(task_id):
    """One task's proof: photos, checklist, prices, notes, and the review form."""
    return render("task.html", **pages.task_detail(session=db.session(), actor=current_user(),
                                                   task_id=task_id))


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
        _flash_refusal(exc)
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


# ---- campaign impact (SPEC §14) -------------------------------------------------------------

@bp.get("/campaigns/<int:campaign_id>/impact")
@allow_signed_in(*MANAGERS)
def campaign_impact(campaign_id):
    """A campaign's impact against control stores, with charts (format=csv: the per-store table)."""
    report = impact.campaign_impact(session=db.session(), actor=current_user(), campaign_id=campaign_id)
    if request.args.get("format") == "csv":
        response = make_response(impact.stores_csv(report))
        response.mimetype = "text/csv"
        response.headers["Content-Disposition"] = f'attachment; filename="impact-{campaign_id}-stores.csv"'
        return response
    return render("impact.html", report=report)
