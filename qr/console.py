"""The console's QR sheet download: the QR service's printable sheets, for signed-in managers."""

from flask import request

from backend import db
from backend.auth.policy import HQ, SUPERVISOR, allow_signed_in, current_user
from backend.console.web import console_blueprint
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
