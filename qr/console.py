"""The console's QR sheet download: the QR service's printable sheets, for signed-in managers."""

from flask import flash, redirect, request, url_for
from flask_babel import gettext

from backend import db
from backend.auth.policy import HQ, SUPERVISOR, allow_signed_in, current_user
from backend.console.web import console_blueprint, safe_next
from qr import service
from qr.routes import _file, _settings

bp = console_blueprint("console_qr", __name__)


@bp.get("/campaigns/<int:campaign_id>/qr-sheet.<any(pdf, png):sheet_format>")
@allow_signed_in(HQ, SUPERVISOR)
def qr_sheet(campaign_id, sheet_format):
    """A campaign's QR sheet: every store in scope (PDF) or one store's page (?store=CODE)."""
    store = request.args.get("store") or None
    data = service.qr_sheet(session=db.session(), actor=current_user(), campaign_id=campaign_id,
                            settings=_settings(), store=store, sheet_format=sheet_format)
    return _file(data, sheet_format, f"qr-{campaign_id}-{store or 'all'}.{sheet_format}")


@bp.post("/tasks/<int:task_id>/rotate-qr")
@allow_signed_in(HQ, SUPERVISOR)
def rotate_qr(task_id):
    """Draw a new QR code for the task: every code printed before stops working."""
    result = service.rotate_qr(session=db.session(), actor=current_user(), task_id=task_id,
                               settings=_settings())
    flash(gettext("New QR code for task %(id)d (short code %(code)s): print its sheet again.",
                  id=task_id, code=result["short_code"]), "success")
    return redirect(safe_next(request.form.get("next"),
                              url_for("console.task_detail", task_id=task_id)))
