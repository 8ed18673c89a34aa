"""Webhook endpoints (SPEC §13), HQ only."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import HQ, allow, current_user
from integrations import service
from integrations.schemas import (DeliveryPageSchema, DeliveryQuerySchema, DeliverySchema,
                                  EndpointCreatedSchema, EndpointInSchema, EndpointSchema,
                                  EndpointUpdateSchema)

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="Webhooks")


@blp.route("/webhooks")
class WebhookViews(MethodView):
    @allow(HQ)
    @blp.response(200, EndpointSchema(many=True))
    def get(self):
        """Registered webhook endpoints"""
        return service.list_endpoints(session=db.session())

    @allow(HQ)
    @blp.arguments(EndpointInSchema)
    @blp.response(201, EndpointCreatedSchema)
    def post(self, body):
        """Register an endpoint (the signing secret is shown only in this answer)"""
        return service.create_endpoint(session=db.session(), actor=current_user(),
                                       allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE"], **body)


@blp.route("/webhooks/<int:endpoint_id>")
class WebhookByIdViews(MethodView):
    @allow(HQ)
    @blp.arguments(EndpointUpdateSchema)
    @blp.response(200, EndpointSchema)
    def patch(self, body, endpoint_id):
        """Disable an endpoint, or enable it again"""
        return service.set_endpoint_active(session=db.session(), endpoint_id=endpoint_id, **body)

    @allow(HQ)
    @blp.response(204)
    def delete(self, endpoint_id):
        """Remove an endpoint and its delivery log"""
        service.delete_endpoint(session=db.session(), endpoint_id=endpoint_id)


@blp.route("/webhooks/<int:endpoint_id>/deliveries")
class WebhookDeliveryViews(MethodView):
    @allow(HQ)
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliveryPageSchema)
    def get(self, query, endpoint_id):
        """An endpoint's deliveries, newest first, with every attempt"""
        return service.list_deliveries(session=db.session(), endpoint_id=endpoint_id, **query)


@blp.route("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
class WebhookRedeliverViews(MethodView):
    @allow(HQ)
    @blp.response(200, DeliverySchema)
    def post(self, endpoint_id, delivery_id):
        """Send a delivery again now (same event id, fresh retries)"""
        return service.redeliver(session=db.session(), endpoint_id=endpoint_id, delivery_id=delivery_id)
