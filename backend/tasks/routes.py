"""Endpoints of store tasks and photo blobs."""

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import (ANY_ROLE, CLERK, HQ, SUPERVISOR, allow, current_device,
                                 current_user)
from backend.common.uploads import image_upload_doc
from backend.org.models import LOCALES, User
from backend.tasks import blobs, sections, service
from backend.tasks.schemas import (AssignSchema, BlobSchema, CancelSchema, ReviewSchema,
                                   StoreTaskDetailSchema, StoreTaskPageSchema, StoreTaskSchema,
                                   SubmitSchema, TaskDetailQuerySchema, TaskQuerySchema,
                                   UnclaimSchema)

blp = Blueprint("tasks", __name__, url_prefix="/api/v1", description="Store tasks and photos")


def _viewer_locale(user: User) -> str:
    """The phone's language when it names one we speak (Accept-Language), else the user's."""
    accepted = request.accept_languages
    chosen = accepted.best_match(LOCALES) if accepted and "*" not in accepted.values() else None
    return chosen or user.locale


@blp.route("/tasks")
class TaskViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, StoreTaskPageSchema)
    def get(self, query):
        """List store tasks in your scope"""
        return service.list_tasks(session=db.session(), actor=current_user(), **query)


@blp.route("/tasks/<int:task_id>")
class TaskByIdViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(TaskDetailQuerySchema, location="query")
    @blp.response(200, StoreTaskDetailSchema)
    def get(self, query, task_id):
        """Get a store task (?include=history adds its events), with its recommendations"""
        return service.get_task(session=db.session(), actor=current_user(), task_id=task_id,
                                sections=sections.detail_sections(current_app),
                                locale=_viewer_locale(current_user()), **query)


@blp.route("/tasks/<int:task_id>/assign")
class TaskAssignViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(AssignSchema)
    @blp.response(200, StoreTaskSchema)
    def post(self, body, task_id):
        """Assign the task to a clerk of its store"""
        return service.assign(session=db.session(), actor=current_user(), task_id=task_id,
                              device=current_device(), **body)


@blp.route("/tasks/<int:task_id>/start")
class TaskStartViews(MethodView):
    @allow(CLERK)
    @blp.response(200, StoreTaskSchema)
    def post(self, task_id):
        """Start a claimed task"""
        return service.start(session=db.session(), actor=current_user(), task_id=task_id,
                              device=current_device())


@blp.route("/tasks/<int:task_id>/unclaim")
class TaskUnclaimViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(UnclaimSchema)
    @blp.response(200, StoreTaskSchema)
    def post(self, body, task_id):
        """Let go of a task before submitting (or remove a claimant)"""
        return service.unclaim(session=db.session(), actor=current_user(), task_id=task_id,
                              device=current_device(), **body)


@blp.route("/tasks/<int:task_id>/submit")
class TaskSubmitViews(MethodView):
    @allow(CLERK)
    @blp.arguments(SubmitSchema)
    @blp.response(200, StoreTaskSchema)
    def post(self, body, task_id):
        """Submit proof of the work"""
        return service.submit(session=db.session(), actor=current_user(), task_id=task_id,
                              device=current_device(), **body)


@blp.route("/tasks/<int:task_id>/review")
class TaskReviewViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(ReviewSchema)
    @blp.response(200, StoreTaskSchema)
    def post(self, body, task_id):
        """Approve a submission or reject it with a comment"""
        return service.review(session=db.session(), actor=current_user(), task_id=task_id,
                              device=current_device(), **body)


@blp.route("/tasks/<int:task_id>/cancel")
class TaskCancelViews(MethodView):
    @allow(HQ)
    @blp.arguments(CancelSchema)
    @blp.response(200, StoreTaskSchema)
    def post(self, body, task_id):
        """Cancel one task"""
        return service.cancel(session=db.session(), actor=current_user(), task_id=task_id,
                              device=current_device(), **body)


@blp.route("/blobs/<string:sha256>")
class BlobViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.doc(**image_upload_doc())
    @blp.response(200, BlobSchema)
    @blp.alt_response(201, schema=BlobSchema, description="Created")
    def put(self, sha256):
        """Upload a photo (raw JPEG/PNG/WebP body, at most 5 MB, named by its SHA-256)"""
        blob, created = blobs.put_blob(session=db.session(), actor=current_user(), sha256=sha256,
                                       content_type=request.mimetype, data=request.get_data(),
                                       max_bytes=current_app.config["MAX_BLOB_BYTES"])
        return blob, 201 if created else 200

    @allow(*ANY_ROLE)
    @blp.response(200, description="The image bytes")
    def get(self, sha256):
        """Download a photo"""
        blob = blobs.get_blob(session=db.session(), actor=current_user(), sha256=sha256)
        return current_app.response_class(blob.data, mimetype=blob.content_type,
                                          headers={"Cache-Control": "private, max-age=86400"})
