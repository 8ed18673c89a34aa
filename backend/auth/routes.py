"""Auth endpoints: login, refresh, logout, me."""

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth import service
from backend.auth.policy import ANY_ROLE, allow, current_user, public
from backend.auth.schemas import LoginSchema, RefreshSchema, TokenSchema
from backend.org.schemas import UserSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and tokens")


def _attempt(action: str, username: str | None = None) -> service.Attempt:
    return service.Attempt(throttle=current_app.extensions["zhida.throttle"], action=action,
                           username=username, address=request.remote_addr)


def _settings() -> service.TokenSettings:
    config = current_app.config
    return service.TokenSettings(secret=config["SECRET_KEY"],
                                 access_ttl=config["ACCESS_TOKEN_TTL_SECONDS"],
                                 refresh_ttl=config["REFRESH_TOKEN_TTL_SECONDS"])


@blp.route("/login")
class LoginViews(MethodView):
    @public
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    def post(self, body):
        """Sign in with username and password"""
        return service.login(session=db.session(), settings=_settings(),
                             attempt=_attempt("login", body["username"]), **body)


@blp.route("/refresh")
class RefreshViews(MethodView):
    @public
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenSchema)
    def post(self, body):
        """Rotate a refresh token for a new token pair"""
        return service.refresh(session=db.session(), settings=_settings(), attempt=_attempt("refresh"),
                               **body)


@blp.route("/logout")
class LogoutViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(RefreshSchema)
    @blp.response(204)
    def post(self, body):
        """Sign out: revoke the refresh-token family"""
        service.logout(session=db.session(), actor=current_user(), **body)


@blp.route("/me")
class MeViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.response(200, UserSchema)
    def get(self):
        """The signed-in user"""
        return current_user()
