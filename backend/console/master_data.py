"""Master data pages of the console: regions, stores, users, products and the POS sales upload.

The same org, catalog and sales services as the API, with the signed-in actor; each form is
loaded by the API's schema (master_forms), every error shown at once beside its field.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from backend import db
from backend.auth.policy import HQ, SUPERVISOR, allow_signed_in, current_user
from backend.catalog import service as catalog
from backend.common.uploads import read_text_body, read_upload
from backend.console import forms, master_forms, messages
from backend.console.web import console_blueprint, error_sentence, page_number, render
from backend.errors import Conflict, DomainError, NotFound, ValidationFailed
from backend.org import service as org
from backend.org import user_import
from backend.org.models import LOCALES, ROLES
from backend.sales import jobs as sales_jobs

bp = console_blueprint("console_admin", __name__)

COMMON_TIMEZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Urumqi", "Asia/Macau")


def _errors(exc: DomainError) -> dict:
    """A refused write as translated form errors, its sentence on top."""
    errors = forms.flatten_errors(messages.translate_nested(exc.errors)) if exc.errors else {}
    errors["form"] = error_sentence(exc.error, exc.message)
    return errors


# ---- regions ------------------------------------------------------------------------------

def _regions_page(form, errors: dict, status: int = 200):
    return render("regions.html", status, form=form, errors=errors,
                  regions=org.list_regions(session=db.session(), actor=current_user()))


@bp.get("/regions")
@allow_signed_in(HQ)
def regions():
    """The regions, and a form to add one."""
    return _regions_page(MultiDict(), {})


@bp.post("/regions")
@allow_signed_in(HQ)
def region_create():
    """Add a region."""
    body, errors = master_forms.load_region(request.form)
    if errors:
        return _regions_page(request.form, messages.translate_errors(errors), 422)
    try:
        region = org.create_region(session=db.session(), actor=current_user(), **body)
    except (ValidationFailed, Conflict) as exc:
        return _regions_page(request.form, _errors(exc), exc.status_code)
    flash(gettext("Region %(name)s (%(code)s) added.", name=region.name, code=region.code),
          "success")
    return redirect(url_for("console_admin.regions"))


# ---- stores -------------------------------------------------------------------------------

def _stores_page(form, errors: dict, status: int = 200):
    q = request.args.get("q", "").strip()[:100] or None
    region = request.args.get("region") or None
    listed = org.list_stores(session=db.session(), actor=current_user(), page=page_number(),
                             page_size=50, region=region, q=q)
    return render("stores.html", status, form=form, errors=errors, listed=listed, q=q,
                  region=region, timezones=COMMON_TIMEZONES,
                  regions=org.list_regions(session=db.session(), actor=current_user()))


@bp.get("/stores")
@allow_signed_in(HQ, SUPERVISOR)
def stores():
    """Stores in scope, searched by name or code; HQ adds stores here."""
    return _stores_page(MultiDict(), {})


@bp.post("/stores")
@allow_signed_in(HQ)
def store_create():
    """Open a store."""
    body, errors = master_forms.load_new_store(request.form)
    if errors:
        return _stores_page(request.form, messages.translate_errors(errors), 422)
    try:
        store = org.create_store(session=db.session(), actor=current_user(), **body)
    except (ValidationFailed, Conflict) as exc:
        return _stores_page(request.form, _errors(exc), exc.status_code)
    flash(gettext("Store %(name)s (%(code)s) added.", name=store.name, code=store.code), "success")
    return redirect(url_for("console_admin.stores", q=store.code))


def _store_edit_page(store, form, errors: dict, status: int = 200):
    return render("store_edit.html", status, store=store, form=form, errors=errors,
                  timezones=COMMON_TIMEZONES,
                  regions=org.list_regions(session=db.session(), actor=current_user()))


@bp.route("/stores/<code>/edit", methods=["GET", "POST"])
@allow_signed_in(HQ)
def store_edit(code):
    """Rename a store, move it to another region, retag it, change its timezone."""
    store = org.get_store(session=db.session(), actor=current_user(), code=code)
    if request.method == "GET":
        return _store_edit_page(store, master_forms.store_form(store), {})
    changes, errors = master_forms.load_store_changes(request.form)
    if errors:
        return _store_edit_page(store, request.form, messages.translate_errors(errors), 422)
    try:
        org.update_store(session=db.session(), actor=current_user(), code=code, changes=changes)
    except (ValidationFailed, Conflict) as exc:
        return _store_edit_page(store, request.form, _errors(exc), exc.status_code)
    flash(gettext("Store %(code)s saved.", code=code), "success")
    return redirect(url_for("console_admin.stores", q=code))


# ---- users --------------------------------------------------------------------------------

def _users_page(form, errors: dict, status: int = 200, import_errors: dict | None = None):
    role = request.args.get("role")
    role = role if role in ROLES else None
    listed = org.list_users(session=db.session(), actor=current_user(), page=page_number(),
                            page_size=50, role=role, store=request.args.get("store") or None)
    return render("users.html", status, form=form, errors=errors, listed=listed, role=role,
                  roles=ROLES, locales=LOCALES, import_errors=import_errors or {},
                  regions=org.list_regions(session=db.session(), actor=current_user()))


@bp.get("/users")
@allow_signed_in(HQ)
def users():
    """People with their role and store or regions; a form to add one."""
    return _users_page(MultiDict(), {})


@bp.post("/users")
@allow_signed_in(HQ)
def user_create():
    """Add an HQ admin, a supervisor (regions) or a clerk (store)."""
    body, errors = master_forms.load_new_user(request.form)
    if errors:
        return _users_page(request.form, messages.translate_errors(errors), 422)
    try:
        user = org.create_user(session=db.session(), actor=current_user(), **body)
    except (ValidationFailed, Conflict, NotFound) as exc:
        return _users_page(request.form, _errors(exc), exc.status_code)
    flash(gettext("%(name)s (%(username)s) can sign in now.", name=user.display_name,
                  username=user.username), "success")
    return redirect(url_for("console_admin.users"))


@bp.post("/users/import")
@allow_signed_in(HQ)
def users_import():
    """Add or update people from CSV: every bad line is named, and then nothing is imported."""
    try:
        report = user_import.import_users(session=db.session(), actor=current_user(),
                                          text=read_text_body("text/csv"))
    except (ValidationFailed, Conflict) as exc:
        return _users_page(MultiDict(), {}, exc.status_code, import_errors=_errors(exc))
    flash(gettext("%(n)d people imported: %(created)d new, %(updated)d updated, %(unchanged)d "
                  "unchanged.", n=report["imported"], created=report["created"],
                  updated=report["updated"], unchanged=report["unchanged"]), "success")
    return redirect(url_for("console_admin.users"))


def _user_edit_page(user, form, errors: dict, status: int = 200):
    return render("user_edit.html", status, user=user, form=form, errors=errors, locales=LOCALES,
                  roles=ROLES, regions=org.list_regions(session=db.session(), actor=current_user()))


@bp.route("/users/<username>/edit", methods=["GET", "POST"])
@allow_signed_in(HQ)
def user_edit(username):
    """Rename, rebind, deactivate a person or reset their password."""
    user = org.get_user(session=db.session(), actor=current_user(), username=username)
    if request.method == "GET":
        return _user_edit_page(user, master_forms.user_form(user), {})
    changes, errors = master_forms.load_user_changes(request.form, user.role)
    if errors:
        return _user_edit_page(user, request.form, messages.translate_errors(errors), 422)
    try:
        org.update_user(session=db.session(), actor=current_user(), username=username,
                        changes=changes)
    except (ValidationFailed, Conflict, NotFound) as exc:
        return _user_edit_page(user, request.form, _errors(exc), exc.status_code)
    flash(gettext("%(username)s saved.", username=username), "success")
    return redirect(url_for("console_admin.users"))


# ---- products and sales -------------------------------------------------------------------

def _products_page(report=None, errors: dict | None = None, status: int = 200):
    q = request.args.get("q", "").strip()[:100] or None
    listed = catalog.list_products(session=db.session(), actor=current_user(),
                                   page=page_number(), page_size=50, q=q)
    return render("products.html", status, listed=listed, q=q, report=report,
                  errors=errors or {})


@bp.get("/products")
@allow_signed_in(HQ)
def products():
    """The catalog, searched by name or SKU, and its CSV import."""
    return _products_page()


@bp.post("/products/import")
@allow_signed_in(HQ)
def products_import():
    """Import products from CSV: every bad line is named, and then nothing is imported."""
    try:
        report = catalog.import_products(session=db.session(), actor=current_user(),
                                         text=read_text_body("text/csv"))
    except (ValidationFailed, Conflict) as exc:
        return _products_page(errors=_errors(exc), status=exc.status_code)
    flash(gettext("%(n)d products imported: %(created)d new, %(updated)d updated.",
                  n=report["imported"], created=report["created"], updated=report["updated"]),
          "success")
    return redirect(url_for("console_admin.products"))


def _sales_page(errors: dict, status: int = 200):
    return render("sales.html", status, errors=errors,
                  imports=sales_jobs.recent_imports(session=db.session(), actor=current_user()))


@bp.get("/sales")
@allow_signed_in(HQ)
def sales():
    """Upload a POS export; the latest imports below."""
    return _sales_page({})


@bp.post("/sales")
@allow_signed_in(HQ)
def sales_upload():
    """Queue an uploaded POS export for the worker, then follow its progress."""
    try:
        data, filename = read_upload("text/csv")
        job = sales_jobs.queue_import(session=db.session(), actor=current_user(), data=data,
                                      filename=filename)
    except (ValidationFailed, Conflict) as exc:
        return _sales_page(_errors(exc), exc.status_code)
    return redirect(url_for("console_admin.sales_import", import_id=job.id))


@bp.get("/sales/imports/<int:import_id>")
@allow_signed_in(HQ)
def sales_import(import_id):
    """One import: lines processed of the file's lines while it runs, then its report."""
    return render("sales_import.html", **_import_view(import_id))


@bp.get("/sales/imports/<int:import_id>/progress")
@allow_signed_in(HQ)
def sales_import_progress(import_id):
    """The progress fragment the import page polls (htmx), the report once finished."""
    return render("_sales_progress.html", **_import_view(import_id))


def _import_view(import_id: int) -> dict:
    view = sales_jobs.get_import(session=db.session(), actor=current_user(), import_id=import_id)
    job = view["job"]
    error = job.error or {}
    errors = {}
    if error:
        errors = forms.flatten_errors(messages.translate_nested(error.get("errors") or {}))
        errors["form"] = error_sentence(error.get("error", ""), error.get("message", ""))
    report = job.report
    if report and report.get("errors"):
        report = {**report, "errors": messages.translate_nested(report["errors"])}
    return {**view, "report": report, "errors": errors}
