"""Endpoints of campaigns: CRUD of drafts, template edits, preview, publish, cancel, close."""

from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import ANY_ROLE, HQ, allow, current_user
from backend.common.uploads import csv_upload_doc, read_text_body
from backend.campaigns import bulk, service
from backend.campaigns.schemas import (CampaignCreateSchema, CampaignPageSchema, CampaignQuerySchema,
                                       CampaignSchema, CampaignStateChangeSchema,
                                       CampaignUpdateSchema, PublishResultSchema, ReasonSchema,
                                       TargetingCountSchema, TargetingPreviewSchema, TaskImportResultSchema,
                                       TemplateSchema, TemplateUpdateSchema)

blp = Blueprint("campaigns", __name__, url_prefix="/api/v1/campaigns",
                description="Campaigns, task templates and publishing")


@blp.route("")
class CampaignViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(CampaignQuerySchema, location="query")
    @blp.response(200, CampaignPageSchema)
    def get(self, query):
        """List campaigns in your scope"""
        return service.list_campaigns(session=db.session(), actor=current_user(), **query)

    @allow(HQ)
    @blp.arguments(CampaignCreateSchema)
    @blp.response(201, CampaignSchema)
    def post(self, body):
        """Create a draft campaign with its task templates"""
        return service.create_campaign(session=db.session(), actor=current_user(), **body)


@blp.route("/targeting-preview")
class TargetingPreviewViews(MethodView):
    @allow(HQ)
    @blp.arguments(TargetingPreviewSchema)
    @blp.response(200, TargetingCountSchema)
    def post(self, body):
        """Count the stores a targeting selects, per region"""
        return service.preview(session=db.session(), actor=current_user(), **body)


@blp.route("/<int:campaign_id>")
class CampaignByIdViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.response(200, CampaignSchema)
    def get(self, campaign_id):
        """Get a campaign"""
        return service.get_campaign(session=db.session(), actor=current_user(),
                                    campaign_id=campaign_id)

    @allow(HQ)
    @blp.arguments(CampaignUpdateSchema)
    @blp.response(200, CampaignSchema)
    def patch(self, body, campaign_id):
        """Edit a campaign (structural fields only while draft)"""
        return service.update_campaign(session=db.session(), actor=current_user(),
                                       campaign_id=campaign_id, changes=body)


@blp.route("/<int:campaign_id>/templates/<int:template_id>")
class TemplateByIdViews(MethodView):
    @allow(HQ)
    @blp.arguments(TemplateUpdateSchema)
    @blp.response(200, TemplateSchema)
    def patch(self, body, campaign_id, template_id):
        """Edit a task template; published store tasks follow"""
        return service.update_template(session=db.session(), actor=current_user(),
                                       campaign_id=campaign_id, template_id=template_id,
                                       changes=body)


@blp.route("/<int:campaign_id>/preview")
class CampaignPreviewViews(MethodView):
    @allow(HQ)
    @blp.response(200, TargetingCountSchema)
    def get(self, campaign_id):
        """Count the stores and tasks a publish would reach"""
        return service.preview_campaign(session=db.session(), actor=current_user(),
                                        campaign_id=campaign_id)


@blp.route("/<int:campaign_id>/publish")
class CampaignPublishViews(MethodView):
    @allow(HQ)
    @blp.response(200, PublishResultSchema)
    def post(self, campaign_id):
        """Publish: one store task per template per targeted store (idempotent)"""
        return service.publish(session=db.session(), actor=current_user(), campaign_id=campaign_id)


@blp.route("/<int:campaign_id>/cancel")
class CampaignCancelViews(MethodView):
    @allow(HQ)
    @blp.arguments(ReasonSchema)
    @blp.response(200, CampaignStateChangeSchema)
    def post(self, body, campaign_id):
        """Cancel a campaign and its unfinished tasks"""
        return service.cancel(session=db.session(), actor=current_user(), campaign_id=campaign_id,
                              **body)


@blp.route("/<int:campaign_id>/close")
class CampaignCloseViews(MethodView):
    @allow(HQ)
    @blp.response(200, CampaignStateChangeSchema)
    def post(self, campaign_id):
        """Close a published campaign"""
        return service.close(session=db.session(), actor=current_user(), campaign_id=campaign_id)


@blp.route("/<int:campaign_id>/tasks/import")
class CampaignTaskImportViews(MethodView):
    @allow(HQ)
    @blp.doc(**csv_upload_doc("store_code,title,instructions,kind,due_at"))
    @blp.response(200, TaskImportResultSchema)
    def post(self, campaign_id):
        """Add store-specific tasks from CSV (store_code,title,instructions,kind,due_at)"""
        return bulk.import_tasks(session=db.session(), actor=current_user(), campaign_id=campaign_id,
                                 text=read_text_body("text/csv"))
