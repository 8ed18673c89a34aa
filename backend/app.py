"""The application factory."""

from __future__ import annotations

import swagger_ui_bundle
from flask import Flask, request, send_from_directory
from flask_smorest.arguments import ArgumentsMixin
from flask_smorest import Api
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from backend import config as config_module
from backend import changefeed, db, migrate, security_headers
from backend.analytics import replica as analytics_replica
from backend.auth.throttle import SignInThrottle, ThrottleRules
from backend.common.json_body import BoundedFlaskParser, BoundedJSONProvider
from backend.common.schemas import ErrorSchema
from backend.errors import register_error_handlers

API_PREFIX = "/api/v1"
SWAGGER_UI_ASSETS = "/api/swagger-ui/"


class BoundedIntConverter(IntegerConverter):
    """Path ids beyond 64 bits cannot exist: such URLs are a plain 404, not a database error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


class ZhidaApi(Api):
    """flask-smorest's Api publishing our error shape (SPEC §9) as the `Error` component."""

    ERROR_SCHEMA = ErrorSchema


class ZhidaFlask(Flask):
    """Flask with the bounded JSON reader."""

    json_provider_class = BoundedJSONProvider


def _openapi_settings() -> dict:
    return {
        "API_TITLE": "Zhida store-task API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "v1/openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # Swagger UI's files come from the swagger-ui-bundle package installed by pip.
        "OPENAPI_SWAGGER_UI_URL": SWAGGER_UI_ASSETS,
        "API_SPEC_OPTIONS": {
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearerAuth": []}],
        },
    }


def _limit_body_size(app: Flask) -> None:
    """JSON bodies are capped at 1 MiB; photo uploads and CSV imports have their own caps."""

    @app.before_request
    def _set_limit():
        endpoint = request.endpoint or ""
        if endpoint.endswith("BlobViews"):
            # One byte over the cap still reaches the service, which answers 413 itself.
            request.max_content_length = app.config["MAX_BLOB_BYTES"] + 1
        elif endpoint.endswith(("ImportViews", "_import", ".sales_upload")):  # API and console
            request.max_content_length = app.config["MAX_IMPORT_BYTES"]
        else:
            request.max_content_length = app.config["MAX_JSON_BYTES"]


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        """The database answers and its schema is at the newest migration."""
        try:
            with db.engine().connect() as connection:
                connection.execute(text("SELECT 1"))
            current = migrate.is_current(db.engine())
        except Exception as exc:  # any failure means "not ready", reported, never raised
            return {"status": "unavailable", "database": "unreachable", "detail": str(exc)[:200]}, 503
        if not current:
            return {"status": "unavailable", "database": "ok", "migrations": "pending"}, 503
        return {"status": "ok", "database": "ok", "migrations": "current"}

    @app.get(SWAGGER_UI_ASSETS + "<path:filename>")
    def swagger_ui_assets(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app: config, database, API blueprints, error handlers, CLI."""
    app = ZhidaFlask(__name__, instance_relative_config=True)
    # Every flask-smorest blueprint reads bodies through this one parser (a class attribute).
    ArgumentsMixin.ARGUMENTS_PARSER = BoundedFlaskParser()
    app.config.update(config_module.load_config(test_config))
    app.config.update(_openapi_settings())
    app.json.sort_keys = False
    app.url_map.converters["int"] = BoundedIntConverter
    db.init_app(app)
    analytics_replica.init_app(app)
    app.extensions["zhida.throttle"] = SignInThrottle(
        app.config["THROTTLE_STORAGE_URI"],
        ThrottleRules(app.config["THROTTLE_PER_USERNAME"], app.config["THROTTLE_PER_ADDRESS"]))
    if app.config["TRUSTED_PROXIES"]:  # the client address throttling counts is the real one
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    changefeed.install()

    api = ZhidaApi(app)
    from backend.analytics.routes import blp as analytics_blp
    from backend.auth.api_key_routes import blp as api_keys_blp
    from backend.auth.routes import blp as auth_blp
    from backend.campaigns.routes import blp as campaigns_blp
    from backend.catalog.routes import blp as catalog_blp
    from backend.org.routes import blp as org_blp
    from backend.sales.routes import blp as sales_blp
    from backend.tasks.routes import blp as tasks_blp

    from integrations.routes import blp as webhooks_blp
    from rules.routes import blp as rules_blp
    from notifications.routes import blp as notifications_blp
    from qr.routes import blp as qr_blp
    from recommend.routes import blp as recommend_blp
    from sync.routes import blp as sync_blp

    for blueprint in (auth_blp, api_keys_blp, org_blp, catalog_blp, sales_blp, campaigns_blp, tasks_blp,
                      analytics_blp, qr_blp, sync_blp, recommend_blp, notifications_blp, webhooks_blp,
                      rules_blp):
        api.register_blueprint(blueprint)

    # The task detail shows recommendations without backend importing recommend (STYLE.md).
    from backend.tasks.sections import add_detail_section
    from recommend.library import recommendations_for_task
    add_detail_section(app, "recommendations", recommendations_for_task)
    # The web console: server-rendered pages on plain blueprints, so not in the OpenAPI spec.
    from backend.console.i18n import init_i18n
    from backend.console.routes import bp as console_bp
    from backend.console.master_data import bp as console_admin_bp
    from backend.console.routes import root_bp as console_root_bp
    from qr.console import bp as console_qr_bp
    from notifications.console import bp as console_notify_bp
    from recommend.console import bp as console_recommend_bp
    from rules.console import bp as console_rules_bp
    from integrations.console import bp as console_webhooks_bp

    init_i18n(app)
    app.register_blueprint(console_bp)
    app.register_blueprint(console_root_bp)
    app.register_blueprint(console_admin_bp)
    app.register_blueprint(console_qr_bp)
    app.register_blueprint(console_recommend_bp)
    app.register_blueprint(console_notify_bp)
    app.register_blueprint(console_rules_bp)
    app.register_blueprint(console_webhooks_bp)
    # The clerk app (a PWA): static files built from clients/app.
    from backend.clerk_app.routes import bp as clerk_app_bp
    app.register_blueprint(clerk_app_bp)

    register_error_handlers(app)
    from backend.console.web import install_routing_errors
    install_routing_errors(app)  # console addresses that match no route answer in HTML
    _limit_body_size(app)
    security_headers.install(app)
    _register_health(app)

    from backend.cli import register_cli
    from backend.sales.cli import register_sales_cli
    from notifications import listeners as notification_listeners
    from notifications.cli import register_notifications_cli
    from recommend.cli import register_recommend_cli
    from seed.cli import register_seed_cli

    register_cli(app)
    register_sales_cli(app)
    register_seed_cli(app)
    register_recommend_cli(app)
    register_notifications_cli(app)
    notification_listeners.listen()
    from integrations import outbox as webhook_outbox
    webhook_outbox.listen()
    from rules import engine as rules_engine
    rules_engine.listen()
    if app.config["INPROCESS_WORKER"]:
        from notifications.worker import start_in_process
        app.extensions["zhida.worker"] = start_in_process(app)
    return app
