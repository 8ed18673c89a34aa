"""Endpoints of devices (push registration) and the inbox."""

from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import ANY_ROLE, allow, current_user
from notifications import service
from notifications.schemas import (DeviceOutSchema, DeviceSchema, InboxPageSchema, InboxQuerySchema,
                                   NotificationSchema)

blp = Blueprint("notifications", __name__, url_prefix="/api/v1",
                description="Push devices and the notification inbox")


@blp.route("/devices")
class DeviceViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(DeviceSchema)
    @blp.response(200, DeviceOutSchema)
    def post(self, body):
        """Register this app install's push address (again on every token refresh)"""
        return service.register_device(session=db.session(), actor=current_user(), **body)


@blp.route("/devices/<string:client_id>")
class DeviceByIdViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.response(204)
    def delete(self, client_id):
        """Unregister this install at logout: no more pushes to it"""
        service.unregister_device(session=db.session(), actor=current_user(), client_id=client_id)


@blp.route("/notifications")
class InboxViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, InboxPageSchema)
    def get(self, query):
        """Your notifications, newest first"""
        return service.list_notifications(session=db.session(), actor=current_user(), **query)


@blp.route("/notifications/<int:notification_id>/read")
class NotificationReadViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.response(200, NotificationSchema)
    def post(self, notification_id):
        """Mark one of your notifications read (idempotent)"""
        return service.read_and_render(session=db.session(), actor=current_user(),
                                       notification_id=notification_id)
