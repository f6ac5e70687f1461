"""Shared pieces of the UI: the session user, error pages, date formatting, safe redirects."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user
from werkzeug.exceptions import HTTPException

from ..models import User
from ..models.base import utcnow
from ..services import assignment
from ..services import auth as auth_service
from ..services.errors import (
    AuthenticationFailed,
    Conflict,
    NotAllowed,
    NotFound,
    ServiceError,
    ValidationFailed,
)

__all__ = ["ServiceError"]

LOGIN_REQUIRED = _l("Войдите, чтобы продолжить.")
INTERNAL_ERROR = _l("Внутренняя ошибка сервера. Операция не выполнена, попробуйте ещё раз.")

_TITLES = {
    400: _l("Некорректный запрос"),
    403: _l("Доступ запрещён"),
    404: _l("Страница не найдена"),
    405: _l("Метод не поддерживается"),
    409: _l("Конфликт"),
    413: _l("Слишком большой запрос"),
    422: _l("Данные не прошли проверку"),
    500: _l("Внутренняя ошибка"),
}
_MESSAGES = {
    400: _l("Запрос не может быть обработан."),
    403: _l("У вас нет прав на это действие."),
    404: _l("Такой страницы нет, или у вас нет к ней доступа."),
    405: _l("Этот адрес не принимает такой запрос."),
    413: _l("Файл или форма слишком большие."),
}
CSRF_MESSAGE = _l(
    "Форма устарела или отправлена не с этой страницы. Обновите страницу и повторите действие."
)


class WebUser(UserMixin):
    """The logged-in official, as Flask-Login sees them; .user is the domain user."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)


def load_user(user_id: str) -> WebUser | None:
    """Flask-Login loader: the active user of the session, else anonymous."""
    if not user_id.isdigit():
        return None
    user = auth_service.active_user(int(user_id))
    return WebUser(user) if user is not None else None


def actor() -> User:
    """The domain user of the current request (views are login_required)."""
    user: User = current_user.user
    return user


def held_roles() -> frozenset[str]:
    """Roles the session user holds now, read once per request (the navbar asks many times)."""
    if not current_user.is_authenticated:
        return frozenset()
    if "held_roles" not in g:
        g.held_roles = frozenset(assignment.roles_held(actor()))
    roles: frozenset[str] = g.held_roles
    return roles


def safe_next(target: str | None, default: str) -> str:
    """A local path to go back to after login; anything else falls back to default."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def error_page(code: int, message: Any = None, title: Any = None) -> Any:
    """Render the HTML error page with a status code."""
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=title or _TITLES.get(code, _l("Ошибка")),
            message=message or _MESSAGES.get(code, ""),
        ),
        code,
    )


def http_error_page(exc: HTTPException) -> Any:
    """A Werkzeug HTTP error as an HTML page (CSRF failures explained)."""
    code = exc.code or 500
    if code == 400 and "CSRF" in (exc.description or ""):
        return error_page(400, CSRF_MESSAGE, _l("Форма устарела"))
    return error_page(code)


def service_error_page(exc: ServiceError) -> Any:
    """A service error that a view did not handle itself, as a page."""
    if isinstance(exc, AuthenticationFailed):
        return redirect(url_for("auth.login", next=request.full_path))
    if isinstance(exc, NotFound):
        return error_page(404)
    if isinstance(exc, NotAllowed):
        return error_page(403, exc.message)
    if isinstance(exc, Conflict):
        return error_page(409, exc.message)
    if isinstance(exc, ValidationFailed):
        return error_page(422, exc.message)
    return error_page(exc.status, exc.message)


def ui_blueprint(name: str, import_name: str) -> Blueprint:
    """A UI blueprint whose unhandled service errors become HTML pages, not JSON."""
    blueprint = Blueprint(name, import_name)
    blueprint.register_error_handler(ServiceError, service_error_page)
    return blueprint


def format_moment(value: datetime | None) -> str:
    """A date and time in the display time zone and the UI language."""
    if value is None:
        return ""
    return format_datetime(value, "dd.MM.yyyy HH:mm")


def format_day(value: datetime | None) -> str:
    """A date only, in the display time zone."""
    if value is None:
        return ""
    return format_date(value, "dd.MM.yyyy")


def url_with(**changes: Any) -> str:
    """The current page's URL with some query arguments changed (None removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = str(value)
    endpoint = request.endpoint or "inbox.index"
    values: dict[str, Any] = {**(request.view_args or {}), **args}
    return url_for(endpoint, **values)


def template_globals() -> dict[str, Any]:
    """Values every page template may use."""
    from .labels import template_labels

    return {
        "current_locale": str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]),
        "languages": current_app.config.get("LANGUAGES", ("ru",)),
        "url_with": url_with,
        "now_utc": utcnow(),
        **template_labels(),
    }
