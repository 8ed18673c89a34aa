"""Endpoints of execution analytics (HQ and supervisors)."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.analytics import impact, replica, service
from backend.analytics.schemas import (ExecutionQuerySchema, ExecutionRowSchema, ExecutionSchema,
                                       ImpactQuerySchema, ImpactSchema, LeaderboardQuerySchema,
                                       OverdueQuerySchema)
from backend.auth.policy import HQ, SUPERVISOR, allow, current_user
from backend.tasks.schemas import StoreTaskSchema

blp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics",
                description="Execution analytics")
LAG = {replica.LAG_HEADER: {"description": "how fresh the figures are: 'primary', the replica's lag "
                                           "in seconds, or 'unknown'", "schema": {"type": "string"}}}


@blp.route("/execution")
class ExecutionViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(ExecutionQuerySchema, location="query")
    @blp.response(200, ExecutionSchema, headers=LAG)
    @blp.doc(responses={200: {"content": {"text/csv": {"schema": {
        "type": "string", "description": "format=csv: one row per group"}}}}})
    def get(self, query):
        """Execution rates per region, store, clerk or day (JSON or CSV)"""
        output = query.pop("format")
        report = service.execution_report(session=replica.session(), actor=current_user(), **query)
        if output == "csv":
            return current_app.response_class(
                service.as_csv(report["rows"]), mimetype="text/csv",
                headers={"Content-Disposition": f'attachment; filename="execution-{query["group_by"]}.csv"',
                         **replica.lag_header()})
        return report, replica.lag_header()


@blp.route("/leaderboard")
class LeaderboardViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(LeaderboardQuerySchema, location="query")
    @blp.response(200, ExecutionRowSchema(many=True), headers=LAG)
    def get(self, query):
        """Stores or clerks ranked by completion and on-time rate"""
        return (service.leaderboard(session=replica.session(), actor=current_user(), **query),
                replica.lag_header())


@blp.route("/overdue")
class OverdueViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(OverdueQuerySchema, location="query")
    @blp.response(200, StoreTaskSchema(many=True), headers=LAG)
    def get(self, query):
        """Tasks past due and not submitted, oldest first"""
        return (service.overdue_tasks(session=replica.session(), actor=current_user(), **query),
                replica.lag_header())


@blp.route("/impact")
class ImpactViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(ImpactQuerySchema, location="query")
    @blp.response(200, ImpactSchema, headers=LAG)
    @blp.doc(responses={200: {"content": {"text/csv": {"schema": {
        "type": "string", "description": "format=csv: the per-store table, one row per compared store"}}}}})
    def get(self, query):
        """A campaign's impact: execution rates and attach/sales uplift against control stores"""
        report = impact.campaign_impact(session=replica.session(), actor=current_user(),
                                        campaign_id=query["campaign"])
        if query["format"] == "csv":
            return current_app.response_class(
                impact.stores_csv(report), mimetype="text/csv",
                headers={"Content-Disposition":
                         f'attachment; filename="impact-{query["campaign"]}-stores.csv"',
                         **replica.lag_header()})
        return report, replica.lag_header()
