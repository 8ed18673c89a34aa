"""What every console blueprint shares: CSRF on form posts, HTML error pages, template context."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale, gettext, refresh
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from wtforms.validators import ValidationError

from backend.auth import policy
from backend.console.i18n import LANGUAGES
from backend.errors import (DomainError, Forbidden, NotFound, Unauthorized, http_error_response,
                            is_transient)

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CONSOLE_PREFIX = "/console"
# Page numbers past a million list nothing; ids are 64-bit (as in the API's paths).
MAX_PAGE = 1_000_000
MAX_ID = 2**63 - 1
DIGITS = re.compile(r"-?[0-9]{1,30}")

# Error codes whose sentence the console shows in the page's language; others show the
# service's own (English) message.
ERROR_SENTENCES = {
    "invalid_credentials": lambda: gettext("Wrong username or password."),
    "account_inactive": lambda: gettext("This account is deactivated."),
    "out_of_scope": lambda: gettext("This is outside your region."),
    "forbidden_role": lambda: gettext("Your role may not open this page."),
    "not_found": lambda: gettext("Not found."),
    "csrf_failed": lambda: gettext("The form expired or did not come from this console. "
                                   "Reload the page and try again."),
    "campaign_not_publishable": lambda: gettext("This campaign cannot be published any more."),
    "no_targeted_stores": lambda: gettext("The targeting selects no store."),
    "version_conflict": lambda: gettext("Someone else changed this meanwhile. "
                                        "Reload the page and try again."),
    "campaign_published": lambda: gettext("Only draft campaigns can be edited here."),
    "already_exists": lambda: gettext("That code is already taken."),
    "invalid_transition": lambda: gettext("That step is not possible in the task's current state."),
    "validation_error": lambda: gettext("Please correct the fields marked below."),
    "campaign_locked": lambda: gettext("A closed or cancelled campaign cannot be changed."),
    "forbidden": lambda: gettext("You may not do this."),
    "invalid_csv": lambda: gettext("Some lines of the file are invalid; nothing was imported."),
    "rate_limited": lambda: gettext("Too many attempts. Wait a moment and try again."),
    "invalid_parameter": lambda: gettext("The address carries a value this page cannot use."),
    "invalid_value": lambda: gettext("The address carries a value this page cannot use."),
    "http_error": lambda: gettext("This address cannot be answered."),
    "conflict": lambda: gettext("The change conflicts with existing data."),
    "unavailable": lambda: gettext("The database is busy. Try again in a moment."),
    "internal_error": lambda: gettext("Something went wrong on our side. It has been logged."),
    "not_overdue": lambda: gettext("The task is not overdue any more."),
    "nobody_to_notify": lambda: gettext("Nobody to notify: the store has no active clerk."),
}
log = logging.getLogger(__name__)


def _field_labels() -> dict[str, str]:
    """Form fields by the names their errors carry, in the page's language."""
    return {
        "code": gettext("Code"), "title": gettext("Title"), "description": gettext("Description"),
        "starts_at": gettext("Starts"), "ends_at": gettext("Ends"),
        "featured_skus": gettext("Featured SKUs"), "promo_prices": gettext("Promo prices"),
        "targeting": gettext("Targeting"), "regions": gettext("Regions"),
        "stores": gettext("Stores"), "tags": gettext("Tags"), "tasks": gettext("Tasks"),
        "instructions": gettext("Instructions"), "kind": gettext("Kind"),
        "checklist": gettext("Checklist"), "proof": gettext("Photos required"),
        "photos": gettext("Photos required"), "due_in_hours": gettext("Due, hours after publish"),
        "due_at": gettext("or due at"), "max_claimants": gettext("Clerks per store"),
        "username": gettext("Clerk"), "comment": gettext("Comment"), "reason": gettext("Reason"),
        "version": gettext("Version"), "file": gettext("File"), "name": gettext("Name"),
        "region": gettext("Region"), "timezone": gettext("Timezone"),
        "display_name": gettext("Display name"), "password": gettext("Password"),
        "role": gettext("Role"), "store": gettext("Store"), "locale": gettext("Language"),
        "sku": "SKU", "category": gettext("Category"), "brand": gettext("Brand"),
        "price": gettext("Price"), "attributes": gettext("Attributes"),
        "header": gettext("Header line"), "store_code": gettext("Store"),
        "transaction_id": gettext("Receipt"), "quantity": gettext("Quantity"),
        "sold_at": gettext("Sold at"),
    }


def field_label(name: str) -> str:
    """A readable name for an error's field key: 'tasks.0.title' → 'Task 1 · Title'."""
    labels = _field_labels()
    parts = name.split(".")
    if parts[0] == "tasks" and len(parts) > 2 and parts[1].isdigit():
        return f"{gettext('Task %(n)d', n=int(parts[1]) + 1)} · {labels.get(parts[2], parts[2])}"
    if parts[0] == "form":
        return ""
    if name.startswith("line "):
        return gettext("Line %(n)s", n=name[5:])
    return labels.get(parts[-1] if parts[0] == "targeting" and len(parts) > 1 else parts[0],
                      name)


def _labels() -> dict[str, str]:
    """Display names of roles, statuses and task kinds in the page's language."""
    return {
        "hq_admin": gettext("HQ admin"), "supervisor": gettext("Supervisor"),
        "clerk": gettext("Clerk"),
        "draft": gettext("draft"), "scheduled": gettext("scheduled"), "live": gettext("live"),
        "closed": gettext("closed"), "cancelled": gettext("cancelled"), "open": gettext("open"),
        "claimed": gettext("claimed"), "in_progress": gettext("in progress"),
        "submitted": gettext("submitted"), "approved": gettext("approved"),
        "approve": gettext("approved"), "reject": gettext("rejected"),
        "display_setup": gettext("Display setup"), "price_check": gettext("Price check"),
        "product_push": gettext("Product push"), "photo_audit": gettext("Photo audit"),
        "training": gettext("Training"), "other": gettext("Other"),
        # what a task's history says happened
        "created": gettext("created"), "assigned": gettext("assigned"),
        "started": gettext("started"), "unclaimed": gettext("released"),
        "rejected": gettext("rejected"), "template_changed": gettext("instructions changed"),
        "template_edited": gettext("task edited"), "qr_rotated": gettext("new QR code"),
        "checklist_set": gettext("checklist ticked"),
        "checklist_edit_lost": gettext("checklist tick lost to a newer edit"),
        "note_added": gettext("note added"), "photo_attached": gettext("photo added"),
        "sale_recorded": gettext("sale recorded"), "published": gettext("published"),
        "edited": gettext("edited"),
        "reminded": gettext("reminder sent"), "escalated": gettext("escalated"),
        "field:recipients": gettext("Sent to"),
        "import:queued": gettext("queued"), "import:running": gettext("importing"),
        "import:done": gettext("imported"), "import:failed": gettext("failed"),
        "field:status": gettext("Status"), "field:claimants": gettext("Clerks"),
        "field:assignee": gettext("Assigned to"),
        "field:template_version": gettext("Task version"),
        "field:instructions_changed": gettext("Instructions changed"),
        "field:decision": gettext("Decision"), "field:comment": gettext("Comment"),
        "field:reason": gettext("Reason"),
        "source:learned": gettext("learned from sales"), "source:category": gettext("same category"),
        "source:popular": gettext("popular"), "source:pinned": gettext("pinned by HQ"),
        "source:hq": gettext("HQ"), "source:clerk": gettext("clerk"),
        "source:llm": gettext("generated (LLM)"), "source:generated": gettext("generated"),
        "script:pending": gettext("waiting"), "script:approved": gettext("approved"),
        "script:rejected": gettext("rejected"),
    }


def csv_headers(language: str) -> dict[str, str]:
    """The execution CSV's column titles in one language (the export's ?lang=)."""
    with force_locale(language):
        return {"group": gettext("Group"), "tasks": gettext("Tasks"), "claimed": gettext("Claimed"),
                "submitted": gettext("Submitted"), "approved": gettext("Approved"),
                "overdue": gettext("Overdue"), "completion_rate": gettext("Completion"),
                "on_time_rate": gettext("On time"),
                "median_claim_minutes": gettext("Median claim (min)"),
                "deviation_rate": gettext("Deviation"), "attach_rate": gettext("Attach rate"),
                "attach_rate_before": gettext("Attach rate before"),
                "attach_uplift": gettext("Uplift")}


def history_value(field: str, value) -> str:
    """One before/after value of a task's history as a person reads it."""
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if field in ("status", "decision"):
        return _labels().get(value, value)
    return str(value)


def percent(rate: float | None) -> str:
    """A rate as a percentage with one decimal, or a dash when there is nothing to divide."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def local_time(moment, timezone: str | None = None) -> str:
    """A moment in a named timezone (a store's, else the console's), the zone's name after it."""
    if moment is None:
        return "—"
    zone = timezone or current_app.config["CONSOLE_TIMEZONE"]
    try:
        tzinfo = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tzinfo, zone = ZoneInfo("UTC"), "UTC"
    return f"{format_datetime(moment, 'short', tzinfo=tzinfo, locale=get_locale())} {zone}"


def store_label(code: str, names: dict[str, str]) -> str:
    """A store as people name it, its code after: '徐汇店 (S001)'."""
    return f"{names[code]} ({code})" if code in names else code


def error_sentence(error: str, fallback: str) -> str:
    """The user-facing sentence for a stable error code."""
    sentence = ERROR_SENTENCES.get(error)
    return sentence() if sentence else fallback


def _parsed_integer(name: str) -> int | None:
    """The query parameter `name` as an integer, None when absent or blank; a 400 otherwise."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not DIGITS.fullmatch(raw):
        raise DomainError(f"{name} must be a whole number.", error="invalid_parameter")
    return int(raw)


def page_number() -> int:
    """The `page` query parameter: 1 when absent, 1..MAX_PAGE, else a 400 page."""
    page = _parsed_integer("page")
    if page is None:
        return 1
    if not 1 <= page <= MAX_PAGE:
        raise DomainError(f"page must be between 1 and {MAX_PAGE}.", error="invalid_parameter")
    return page


def query_id(name: str) -> int | None:
    """An id query parameter (`?campaign=`): None when absent; an id that cannot exist is a 404."""
    value = _parsed_integer(name)
    if value is not None and not 1 <= value <= MAX_ID:
        raise NotFound(f"No {name} {value}.")
    return value


def safe_next(target: str | None, default: str) -> str:
    """A redirect target on this site only (a path), never another host."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


def render(template: str, http_status: int = 200, /, **context):
    """Render a console page with an HTTP status."""
    return render_template(f"console/{template}", **context), http_status


def _error_page(status: int, error: str, message: str):
    return render("error.html", status, status=status, error=error,
                  message=error_sentence(error, message))


def _forget_cached_request_state():
    """flask-wtf and flask-babel cache the token and the language in g; an app context that
    outlives one request (a test or a job holding one open) must not reuse another request's."""
    g.pop("csrf_token", None)
    refresh()


def _check_csrf():
    """Every state-changing console request carries the session's CSRF token."""
    if request.method not in UNSAFE_METHODS:
        return None
    token = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    try:
        validate_csrf(token)
    except ValidationError as exc:
        return _error_page(400, "csrf_failed", str(exc))
    return None


def _handle_domain_error(exc: DomainError):
    if isinstance(exc, Unauthorized) and exc.error == "not_signed_in":
        flash(gettext("Please sign in."), "info")
        path = request.full_path if request.method == "GET" else None
        return redirect(url_for("console.login", next=path.rstrip("?") if path else None))
    if isinstance(exc, Forbidden) and exc.error == "forbidden_role":
        user = policy.signed_in_user()
        if user is not None and user.role == policy.CLERK:
            return render("clerk.html", 403, user=user)
    return _error_page(exc.status_code, exc.error, exc.message)


def _handle_http_error(exc: HTTPException):
    error = "not_found" if exc.code == 404 else "http_error"
    return _error_page(exc.code or 500, error, exc.description or exc.name)


def _handle_data_error(exc: DataError):
    """A value the database refused (a number out of its range): the request's fault, a 400."""
    log.info("console value refused by the database: %s", exc.orig)
    return _error_page(400, "invalid_value", "A value is out of the accepted range.")


def _handle_unexpected(exc: Exception):
    """What the app would answer in JSON, as a console page (a bug is logged as one)."""
    if isinstance(exc, IntegrityError):
        return _error_page(409, "conflict", "The change conflicts with existing data.")
    if isinstance(exc, OperationalError) and is_transient(exc):
        log.warning("transient database error: %s", exc.orig)
        page, status = _error_page(503, "unavailable", "The database is busy; retry shortly.")
        return page, status, {"Retry-After": "1"}
    log.exception("unhandled console error")
    return _error_page(500, "internal_error", "An unexpected error occurred.")


def _routing_error(exc: HTTPException):
    """Addresses that match no route: an HTML page under /console, the JSON error elsewhere."""
    if request.path != CONSOLE_PREFIX and not request.path.startswith(CONSOLE_PREFIX + "/"):
        return http_error_response(exc)
    error = "not_found" if exc.code == 404 else "http_error"
    return render_template("console/error.html", status=exc.code, error=error,
                           message=error_sentence(error, exc.description or exc.name),
                           **_template_context()), exc.code


def install_routing_errors(app) -> None:
    """Console addresses matching no route (a path id past 64 bits, a typo) answer in HTML."""
    app.register_error_handler(RouteNotFound, _routing_error)
    app.register_error_handler(MethodNotAllowed, _routing_error)


def _template_context() -> dict:
    labels = _labels()
    locale = get_locale()
    return {"csrf_token": generate_csrf, "languages": LANGUAGES,
            "language": "en" if locale is not None and locale.language == "en" else "zh_CN",
            "me": g.get("current_user"),
            "label": lambda value: labels.get(value, value), "percent": percent,
            "field_label": field_label, "history_value": history_value}


def console_blueprint(name: str, import_name: str, **kwargs) -> Blueprint:
    """A blueprint under /console with CSRF checks, HTML error pages and the console context."""
    blueprint = Blueprint(name, import_name, url_prefix="/console", **kwargs)
    blueprint.before_request(_forget_cached_request_state)
    blueprint.before_request(_check_csrf)
    blueprint.register_error_handler(DomainError, _handle_domain_error)
    blueprint.register_error_handler(HTTPException, _handle_http_error)
    blueprint.register_error_handler(DataError, _handle_data_error)
    blueprint.register_error_handler(Exception, _handle_unexpected)
    blueprint.context_processor(_template_context)
    blueprint.add_app_template_filter(local_time, "local_time")
    blueprint.add_app_template_filter(store_label, "store_label")
    return blueprint
