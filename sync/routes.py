"""Endpoints of the offline sync protocol v1."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import ANY_ROLE, allow, current_user
from backend.tasks import sections
from qr.service import QrSettings
from sync import service
from sync.schemas import PullResultSchema, PullSchema, PushResultSchema, PushSchema

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="Offline sync protocol v1")


@blp.route("/push")
class SyncPushViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(PushSchema)
    @blp.response(200, PushResultSchema)
    def post(self, body):
        """Push queued mutations; each gets exactly one result"""
        return service.push(session=db.session(), actor=current_user(),
                            qr_settings=QrSettings.from_config(current_app.config),
                            sections=sections.detail_sections(current_app), **body)


@blp.route("/pull")
@db.reads_only
class SyncPullViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(PullSchema)
    @blp.response(200, PullResultSchema)
    def post(self, body):
        """Pull a snapshot or the changes of your scope since a cursor"""
        return service.pull(session=db.session(), actor=current_user(),
                            sections=sections.detail_sections(current_app), **body)
