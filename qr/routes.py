"""Endpoints of QR codes, printable sheets and claiming by scan."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import CLERK, HQ, SUPERVISOR, allow, current_user
from qr import service
from qr.schemas import ClaimRequestSchema, ClaimResultSchema, QrTokenSchema, SheetQuerySchema

blp = Blueprint("qr", __name__, url_prefix="/api/v1", description="QR codes and claims")

MIMETYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


def _settings() -> service.QrSettings:
    return service.QrSettings.from_config(current_app.config)


def _file(data: bytes, kind: str, filename: str | None = None):
    headers = {"Cache-Control": "private, no-store"}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return current_app.response_class(data, mimetype=MIMETYPES[kind], headers=headers)


@blp.route("/claims")
class ClaimViews(MethodView):
    @allow(CLERK)
    @blp.arguments(ClaimRequestSchema)
    @blp.response(201, ClaimResultSchema)
    @blp.alt_response(200, schema=ClaimResultSchema, description="Already yours (re-scan)")
    def post(self, body):
        """Claim a task by scanning its QR code"""
        result = service.claim_by_qr(session=db.session(), actor=current_user(),
                                     settings=_settings(), **body)
        return result, 201 if result.created else 200


@blp.route("/tasks/<int:task_id>/qr")
class TaskQrViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.response(200, QrTokenSchema)
    def get(self, task_id):
        """The task's QR token and its expiry"""
        return service.get_qr(session=db.session(), actor=current_user(), task_id=task_id,
                              settings=_settings())


@blp.route("/tasks/<int:task_id>/qr.png")
class TaskQrPngViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.response(200, description="PNG image")
    def get(self, task_id):
        """The task's QR code as PNG"""
        return _file(service.qr_image(session=db.session(), actor=current_user(), task_id=task_id,
                                      settings=_settings(), image_format="png"), "png")


@blp.route("/tasks/<int:task_id>/qr.svg")
class TaskQrSvgViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.response(200, description="SVG image")
    def get(self, task_id):
        """The task's QR code as SVG"""
        return _file(service.qr_image(session=db.session(), actor=current_user(), task_id=task_id,
                                      settings=_settings(), image_format="svg"), "svg")


@blp.route("/tasks/<int:task_id>/qr/rotate")
class TaskQrRotateViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.response(200, QrTokenSchema)
    def post(self, task_id):
        """Replace the task's QR code; printed copies stop working (410 qr_revoked)"""
        return service.rotate_qr(session=db.session(), actor=current_user(), task_id=task_id,
                                 settings=_settings())


@blp.route("/campaigns/<int:campaign_id>/qr-sheet")
class QrSheetViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(SheetQuerySchema, location="query")
    @blp.response(200, description="PDF (one A4 page per store) or PNG (one store)")
    def get(self, query, campaign_id):
        """Printable QR sheet of a campaign, per store"""
        data = service.qr_sheet(session=db.session(), actor=current_user(), campaign_id=campaign_id,
                                settings=_settings(), store=query.get("store"),
                                sheet_format=query["format"])
        name = f"qr-{campaign_id}-{query.get('store') or 'all'}.{query['format']}"
        return _file(data, query["format"], name)
