"""The server-rendered UI: sessions, CSRF, translations, blueprints and error pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, request, session
from werkzeug.exceptions import HTTPException

from ..extensions import babel, csrf, login_manager
from . import common
from .security import init_security_headers


def _locale() -> str:
    """The language chosen with the navbar switch, Russian by default."""
    from flask import current_app

    chosen = session.get("lang")
    languages = current_app.config.get("LANGUAGES", ("ru",))
    return str(chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"])


def init_web(app: Flask) -> None:
    """Bind the web extensions and register the UI blueprints and error pages."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "ru")
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing)

    babel.init_app(app, locale_selector=_locale)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = common.LOGIN_REQUIRED
    login_manager.login_message_category = "warning"
    login_manager.user_loader(common.load_user)

    from .admin import bp as admin_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .deadlines import bp as deadlines_bp
    from .designer import bp as designer_bp
    from .inbox import bp as inbox_bp
    from .instances import bp as instances_bp
    from .monitoring import bp as monitoring_bp
    from .notifications import bp as notifications_bp
    from .register import bp as register_bp

    for blueprint in (
        auth_bp,
        inbox_bp,
        instances_bp,
        admin_bp,
        designer_bp,
        audit_bp,
        register_bp,
        monitoring_bp,
        notifications_bp,
        deadlines_bp,
    ):
        app.register_blueprint(blueprint)

    app.context_processor(common.template_globals)
    app.jinja_env.filters["dt"] = common.format_moment
    app.jinja_env.filters["d"] = common.format_day
    _error_pages(app)

    init_security_headers(app)


def _error_pages(app: Flask) -> None:
    """HTML error pages for the UI; the API keeps the handlers it registered."""
    handlers = app.error_handler_spec.setdefault(None, {}).setdefault(None, {})
    api_http = handlers.get(HTTPException)
    api_unexpected = handlers.get(Exception)

    def http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/") and api_http is not None:
            return api_http(exc)
        return common.http_error_page(exc)

    def unexpected(exc: Exception) -> Any:
        if request.path.startswith("/api/") and api_unexpected is not None:
            return api_unexpected(exc)
        app.logger.exception("Unhandled error")
        return common.error_page(500, common.INTERNAL_ERROR)

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)
