"""Endpoints of product pairings and sales scripts."""

import random

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import ANY_ROLE, CLERK, HQ, SUPERVISOR, allow, current_user
from recommend import library, pairing_service
from recommend.schemas import (FeedbackResultSchema, FeedbackSchema, ModerationSchema,
                               NewScriptSchema, PairingRuleSchema, PairingsQuerySchema,
                               PairingsSchema, ScriptSchema, ScriptsQuerySchema)

blp = Blueprint("recommend", __name__, url_prefix="/api/v1", description="Pairings and scripts")


@blp.route("/products/<string:sku>/pairings")
class PairingsViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(PairingsQuerySchema, location="query")
    @blp.response(200, PairingsSchema)
    def get(self, query, sku):
        """Products to pair with this one, best first"""
        return pairing_service.pairings_for(session=db.session(), actor=current_user(), sku=sku, **query)


def _rule_views(kind: str):
    """POST pins/bans a partner, DELETE lifts it (HQ)."""

    class PairingRuleViews(MethodView):
        @allow(HQ)
        @blp.arguments(PairingRuleSchema)
        @blp.response(200, PairingsSchema)
        def post(self, body, sku):
            return pairing_service.set_pairing_rule(session=db.session(), actor=current_user(), sku=sku,
                                            other_sku=body["sku"], kind=kind)

        @allow(HQ)
        @blp.arguments(PairingRuleSchema)
        @blp.response(200, PairingsSchema)
        def delete(self, body, sku):
            return pairing_service.remove_pairing_rule(session=db.session(), actor=current_user(), sku=sku,
                                               other_sku=body["sku"], kind=kind)

    PairingRuleViews.post.__doc__ = f"{kind.title()} a partner of this product"
    PairingRuleViews.delete.__doc__ = f"Lift a {kind} on this product"
    PairingRuleViews.__name__ = f"Pairing{kind.title()}Views"
    return PairingRuleViews


blp.route("/products/<string:sku>/pairings/pins")(_rule_views("pin"))
blp.route("/products/<string:sku>/pairings/bans")(_rule_views("ban"))


@blp.route("/scripts")
class ScriptViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(ScriptsQuerySchema, location="query")
    @blp.response(200, ScriptSchema(many=True))
    def get(self, query):
        """Scripts of a product ranked by what converts (Thompson sampling), or with ?status= the moderation queue"""
        if query.get("status"):
            return library.list_scripts(session=db.session(), actor=current_user(), **query)
        return library.ranked_scripts(session=db.session(), actor=current_user(), sku=query["sku"],
                                      locale=query.get("locale"), campaign=query.get("campaign"),
                                      limit=query["limit"], rng=random.Random())

    @allow(HQ, CLERK)
    @blp.arguments(NewScriptSchema)
    @blp.response(201, ScriptSchema)
    def post(self, body):
        """Write a script: HQ's is approved at once, a clerk's waits for moderation"""
        return library.create_script(session=db.session(), actor=current_user(),
                                     banned=library.banned_words(current_app.config), **body)


@blp.route("/scripts/<int:script_id>/moderate")
class ScriptModerationViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(ModerationSchema)
    @blp.response(200, ScriptSchema)
    def post(self, body, script_id):
        """Approve or reject a clerk's script (HQ, or the supervisor of the clerk's region)"""
        return library.moderate_script(session=db.session(), actor=current_user(), script_id=script_id,
                                       banned=library.banned_words(current_app.config), **body)


@blp.route("/scripts/<int:script_id>/feedback")
class ScriptFeedbackViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(FeedbackSchema)
    @blp.response(200, FeedbackResultSchema)
    def post(self, body, script_id):
        """Report a script's outcome: used, converted or dismissed"""
        return library.record_feedback(session=db.session(), actor=current_user(),
                                       script_id=script_id, **body)
