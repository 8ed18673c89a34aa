"""Endpoints of product pairings and sales scripts."""

import random

from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import ANY_ROLE, allow, current_user
from recommend import service
from recommend.schemas import (FeedbackResultSchema, FeedbackSchema, PairingsQuerySchema,
                               PairingsSchema, RankedScriptSchema, ScriptsQuerySchema)

blp = Blueprint("recommend", __name__, url_prefix="/api/v1", description="Pairings and scripts")


@blp.route("/products/<string:sku>/pairings")
class PairingsViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(PairingsQuerySchema, location="query")
    @blp.response(200, PairingsSchema)
    def get(self, query, sku):
        """Products to pair with this one, best first"""
        return service.pairings_for(session=db.session(), actor=current_user(), sku=sku, **query)


@blp.route("/scripts")
class ScriptViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(ScriptsQuerySchema, location="query")
    @blp.response(200, RankedScriptSchema(many=True))
    def get(self, query):
        """Sales scripts of a product, ranked by what converts (Thompson sampling)"""
        return service.ranked_scripts(session=db.session(), actor=current_user(), sku=query["sku"],
                                      locale=query.get("locale"), rng=random.Random())


@blp.route("/scripts/<int:script_id>/feedback")
class ScriptFeedbackViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(FeedbackSchema)
    @blp.response(200, FeedbackResultSchema)
    def post(self, body, script_id):
        """Report a script's outcome: used, converted or dismissed"""
        return service.record_feedback(session=db.session(), actor=current_user(),
                                       script_id=script_id, **body)
