"""Endpoint of product pairings."""

from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import ANY_ROLE, allow, current_user
from recommend import service
from recommend.schemas import PairingsQuerySchema, PairingsSchema

blp = Blueprint("recommend", __name__, url_prefix="/api/v1", description="Pairings and scripts")


@blp.route("/products/<string:sku>/pairings")
class PairingsViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(PairingsQuerySchema, location="query")
    @blp.response(200, PairingsSchema)
    def get(self, query, sku):
        """Products to pair with this one, best first"""
        return service.pairings_for(session=db.session(), actor=current_user(), sku=sku, **query)
