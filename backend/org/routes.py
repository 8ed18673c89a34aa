"""Endpoints of regions, stores and users."""

from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import ANY_ROLE, HQ, SUPERVISOR, allow, current_user
from backend.org import service
from backend.org.schemas import (RegionSchema, StoreCreateSchema, StorePageSchema, StoreQuerySchema,
                                 StoreSchema, StoreUpdateSchema, UserCreateSchema, UserPageSchema,
                                 UserQuerySchema, UserSchema, UserUpdateSchema)

blp = Blueprint("org", __name__, url_prefix="/api/v1", description="Regions, stores and users")


@blp.route("/regions")
class RegionViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.response(200, RegionSchema(many=True))
    def get(self):
        """List the regions in your scope"""
        return service.list_regions(session=db.session(), actor=current_user())

    @allow(HQ)
    @blp.arguments(RegionSchema)
    @blp.response(201, RegionSchema)
    def post(self, body):
        """Create a region"""
        return service.create_region(session=db.session(), actor=current_user(), **body)


@blp.route("/stores")
class StoreViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(StoreQuerySchema, location="query")
    @blp.response(200, StorePageSchema)
    def get(self, query):
        """List the stores in your scope"""
        return service.list_stores(session=db.session(), actor=current_user(), **query)

    @allow(HQ)
    @blp.arguments(StoreCreateSchema)
    @blp.response(201, StoreSchema)
    def post(self, body):
        """Create a store"""
        return service.create_store(session=db.session(), actor=current_user(), **body)


@blp.route("/stores/<string:code>")
class StoreByCodeViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.response(200, StoreSchema)
    def get(self, code):
        """Get a store"""
        return service.get_store(session=db.session(), actor=current_user(), code=code)

    @allow(HQ)
    @blp.arguments(StoreUpdateSchema)
    @blp.response(200, StoreSchema)
    def patch(self, body, code):
        """Update a store"""
        return service.update_store(session=db.session(), actor=current_user(), code=code,
                                    changes=body)


@blp.route("/users")
class UserViews(MethodView):
    @allow(HQ, SUPERVISOR)
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, query):
        """List the users in your scope"""
        return service.list_users(session=db.session(), actor=current_user(), **query)

    @allow(HQ)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, body):
        """Create a user"""
        return service.create_user(session=db.session(), actor=current_user(), **body)


@blp.route("/users/<string:username>")
class UserByUsernameViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.response(200, UserSchema)
    def get(self, username):
        """Get a user"""
        return service.get_user(session=db.session(), actor=current_user(), username=username)

    @allow(HQ)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, body, username):
        """Update a user"""
        return service.update_user(session=db.session(), actor=current_user(), username=username,
                                   changes=body)
