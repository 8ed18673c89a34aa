"""Rules as a service (SPEC §13): HQ, and supervisors for their regions."""

from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import HQ, SUPERVISOR, allow, current_user
from rules import service
from rules.schemas import (DryRunQuerySchema, DryRunSchema, EffectQuerySchema, EffectSchema, RuleInSchema,
                           RuleSchema, RuleUpdateSchema)

blp = Blueprint("rules", __name__, url_prefix="/api/v1/rules", description="Rules, dry-runs and A/B effects")


@blp.route("")
class RuleViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.response(200, RuleSchema(many=True))
    def get(self):
        """Rules in your scope, newest first"""
        return service.list_rules(session=db.session(), actor=current_user())

    @allow(HQ, SUPERVISOR)
    @blp.arguments(RuleInSchema)
    @blp.response(201, RuleSchema)
    def post(self, body):
        """Create a rule (trigger, condition, action, variant_share)"""
        return service.create_rule(session=db.session(), actor=current_user(), **body)


@blp.route("/<int:rule_id>")
class RuleByIdViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.response(200, RuleSchema)
    def get(self, rule_id):
        """One rule"""
        return service.rule_by_id(db.session(), current_user(), rule_id)

    @allow(HQ, SUPERVISOR)
    @blp.arguments(RuleUpdateSchema)
    @blp.response(200, RuleSchema)
    def patch(self, body, rule_id):
        """Change a rule, or disable it with active: false"""
        return service.update_rule(session=db.session(), actor=current_user(), rule_id=rule_id, changes=body)


@blp.route("/<int:rule_id>/dry-run")
class RuleDryRunViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(DryRunQuerySchema, location="query")
    @blp.response(200, DryRunSchema)
    def post(self, query, rule_id):
        """What the rule would fire for now (nothing is written)"""
        return service.dry_run(session=db.session(), actor=current_user(), rule_id=rule_id, **query)


@blp.route("/<int:rule_id>/effect")
class RuleEffectViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(EffectQuerySchema, location="query")
    @blp.response(200, EffectSchema)
    def get(self, query, rule_id):
        """Treatment against control: tasks submitted within N hours of firing, with a 95% CI"""
        return service.rule_effect(session=db.session(), actor=current_user(), rule_id=rule_id, **query)
